"""`FakeAppPlatform`: apps in memory whose states and replicas advance one step per `tick()`.

As `FakeJobPlatform`: nothing moves on its own, so snapshots are deterministic while still
showing QUEUED → INITIALIZING → SCALING → RUNNING, replicas coming up one per tick, a
scaling change passing through SCALING, and stop/start/delete with their own states.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

from services.apps.protocol import App, AppSpec, AppState, AppStateChange, Replica, Scaling
from services.cancel import CancelToken
from services.errors import UserError
from services.fake_runs import FakeRuns, triton_log_lines
from services.jobs.protocol import LogItem

TICK = timedelta(seconds=5)
_FOLLOW_POLL_S = 0.05


def _replicas(app: App, count: int, ready: int) -> tuple[Replica, ...]:
    """Ready replicas report a fixed, even spread of the last minute's requests, as the local endpoint does."""
    return tuple(
        Replica(f"{app.short_id}-{n}", "RUNNING" if n < ready else "STARTING", n < ready, requests=120 if n < ready else None, failed=0 if n < ready else None, latency_ms=8.5 if n < ready else None)
        for n in range(count)
    )  # fmt: skip


class FakeAppPlatform(FakeRuns[App]):
    noun = "app"

    def _ended(self, run: App) -> bool:
        return run.state.is_down

    def _move(self, app: App, state: AppState, **changes: object) -> App:
        return replace(app, state=state, history=app.history + (AppStateChange(state, self._now),), **changes)  # type: ignore[arg-type]

    def add(self, spec: AppSpec, state: AppState = AppState.RUNNING, signal: float | None = None, info: str | None = None, replicas: int | None = None) -> App:
        """Put an app straight into `state` with its replicas as they would be (`replicas`, or
        what its scaling asks first), for snapshots."""
        with self._lock:
            self._sequence += 1
            app_id = f"{self._sequence:08x}-a99d-4c2b-9d3f-{self._sequence:012x}"
            app = App(
                id=app_id, spec=spec, state=state, created_at=self._now, history=(AppStateChange(state, self._now),),
                url=f"https://{app_id}.app.gra.ai.cloud.ovh.net", grpc_address=f"https://{app_id}.app-grpc.gra.ai.cloud.ovh.net",
                info_message=info, signal=signal,
            )  # fmt: skip
            desired = app.desired if replicas is None else replicas
            up = desired if state.is_up else 0
            app = replace(app, available_replicas=up, desired_replicas=desired, replicas=_replicas(app, up, up))
            self._runs[app_id] = app
            self._logs[app_id] = []
            return app

    def tick(self) -> None:
        """Advance the clock one step: each app one state along, or one replica nearer its target."""
        with self._lock:
            self._now += TICK
            for app_id, app in list(self._runs.items()):
                self._runs[app_id] = self._step(app)

    def _step(self, app: App) -> App:
        desired = app.desired
        if app.state is AppState.QUEUED:
            return self._move(app, AppState.INITIALIZING)
        if app.state is AppState.INITIALIZING:
            return self._move(app, AppState.SCALING, replicas=_replicas(app, desired, 0))
        if app.state is AppState.SCALING:
            ready = min(desired, app.available_replicas + 1)
            if ready > app.available_replicas:  # a replica came up: its server's first lines
                self._logs[app.id].extend(triton_log_lines(self._now, f"{app.short_id}-{ready - 1}"))
            app = replace(app, available_replicas=ready, replicas=_replicas(app, desired, ready))
            return self._move(app, AppState.RUNNING) if ready == desired else app
        if app.state is AppState.STOPPING:
            return self._move(app, AppState.STOPPED, available_replicas=0, replicas=())
        if app.state is AppState.DELETING:
            return self._move(app, AppState.DELETED)
        return app

    def run(self, spec: AppSpec) -> App:
        app = self.add(spec, AppState.QUEUED)
        with self._lock:
            app = self._runs[app.id] = replace(app, available_replicas=0, replicas=())
        return app

    def list(self, states: tuple[AppState, ...] = (), label: str | None = None) -> builtins.list[App]:
        name, _, value = (label or "").partition("=")
        with self._lock:
            apps = [app for app in self._runs.values() if (not states or app.state in states) and (not label or dict(app.spec.labels).get(name) == value)]
        return sorted(apps, key=lambda app: app.id, reverse=True)

    def scale(self, app_id: str, scaling: Scaling) -> None:
        with self._lock:
            app = self._existing(app_id)
            app = replace(app, spec=replace(app.spec, scaling=scaling), desired_replicas=None)
            desired = app.desired
            if app.state.is_up and desired != app.available_replicas:
                app = self._move(app, AppState.SCALING, available_replicas=min(app.available_replicas, desired), desired_replicas=desired)
            self._runs[app_id] = replace(app, desired_replicas=desired)

    def set_image(self, app_id: str, image: str) -> None:
        with self._lock:
            app = self._existing(app_id)
            self._runs[app_id] = replace(app, spec=replace(app.spec, image=image))

    def start(self, app_id: str) -> None:
        with self._lock:
            app = self._existing(app_id)
            if not app.state.is_down:
                raise UserError(f"app {app.short_id} is {app.state}: only a stopped app starts")
            self._runs[app_id] = self._move(app, AppState.QUEUED)

    def stop(self, app_id: str) -> None:
        with self._lock:
            app = self._existing(app_id)
            if app.state.is_down or app.state is AppState.STOPPING:
                raise UserError(f"app {app.short_id} is already {app.state}: nothing to stop")
            self._runs[app_id] = self._move(app, AppState.STOPPING)

    def logs(self, app_id: str, replica: str | None = None, tail: int | None = None) -> builtins.list[str]:
        with self._lock:
            lines = [line for line in self._logs[self._existing(app_id).id] if replica is None or f" [{replica}] " in line]
        return lines[-tail:] if tail else lines

    def follow_logs(self, app_id: str, cancel: CancelToken, replica: str | None = None) -> Iterator[LogItem]:
        sent = 0
        while not cancel.cancelled:
            with self._lock:
                app = self._existing(app_id)
                lines = [line for line in self._logs[app_id] if replica is None or f" [{replica}] " in line]
            fresh = lines[sent:]
            sent += len(fresh)
            yield from fresh
            if app.state.is_down and not fresh:
                return
            cancel.wait(_FOLLOW_POLL_S)

