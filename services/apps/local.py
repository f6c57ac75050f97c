"""`LocalAppPlatform`: AI Deploy apps on this machine, each run by its own supervisor process.

Any process (the TUI, a CLI in another shell) sees the same apps: their records live on
disk (see `local_store`). An app's URL is a loopback port chosen once and kept across
stop and start. An app whose supervisor died while it was up shows as FAILED, never as
RUNNING forever; its replicas died with it.
"""

from __future__ import annotations

import builtins
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from services.apps.local_store import Control, LocalEndpoint, LocalRecord, apps_root, read_control, read_record, write_control, write_record
from services.apps.preset import server_words
from services.apps.protocol import App, AppSpec, AppState, AppStateChange, Scaling, check_scaling
from services.cancel import CancelToken
from services.confine import bad_parts, mount_target
from services.errors import UserError
from services.jobs.protocol import LogItem
from services.logs.tail import last_lines
from services.ports import free_port
from services.supervised.environment import supervisor_environment
from services.supervised.files import FOLLOW_POLL_S, now, private_file, read_lines
from services.supervised.presence import PID_FILE, Supervised, is_abandoned, lost_reason, record_pid

STOP_WAIT_S = 60.0


class LocalAppPlatform:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or apps_root()

    def _dir(self, app_id: str) -> Path:
        path = self.root / app_id
        if not (path / "app.json").is_file():
            raise UserError(f"app {app_id} not found: list apps with `triton-deck app list`")
        return path

    def _spawn(self, app_dir: Path) -> None:
        here = str(Path(__file__).resolve().parents[2])
        environment = {
            **supervisor_environment(os.environ),
            "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])),
        }
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "services.apps.local_supervisor", str(app_dir)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=private_file(app_dir / "supervisor.err"),
            start_new_session=True, env=environment,
        )  # fmt: skip
        record_pid(app_dir, supervisor.pid)

    @staticmethod
    def _supervised(app_dir: Path) -> Supervised:
        return Supervised(app_dir, "app.json", lambda: read_record(app_dir).supervisor_pid)

    def run(self, spec: AppSpec) -> App:
        check_scaling(spec.scaling)
        app_id = str(uuid.uuid4())
        app_dir = self.root / app_id
        server_words(spec.command, app_dir / "workspace")  # refused here, in one line, rather than as a FAILED app
        for volume in spec.volumes:
            mount_target(app_dir / "workspace", volume.mount_path)
            if volume.prefix and bad_parts(volume.prefix.rstrip("/")):
                raise UserError(f"volume '{volume}': prefix '{volume.prefix}' leads outside the bucket: drop '..', '.' and empty parts")
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        app_dir.mkdir(mode=0o700)
        created = now()
        endpoint = LocalEndpoint(free_port(), free_port() if spec.grpc_port else None)
        app = App(
            id=app_id, spec=spec, state=AppState.QUEUED, created_at=created, history=(AppStateChange(AppState.QUEUED, created),),
            url=f"http://127.0.0.1:{endpoint.http_port}", grpc_address=f"127.0.0.1:{endpoint.grpc_port}" if endpoint.grpc_port else None,
            info_code="APP_QUEUED",
        )  # fmt: skip
        write_record(app_dir, LocalRecord(app, endpoint))
        (app_dir / "log.txt").touch(mode=0o600)
        self._spawn(app_dir)
        return app

    def get(self, app_id: str) -> App:
        app_dir = self._dir(app_id)
        record = read_record(app_dir)
        if not record.app.state.is_down and (state := self._supervised(app_dir).state()).lost:
            return self._end_without_supervisor(
                app_dir, AppState.FAILED, "APP_FAILED", f"{lost_reason(state, 'app', app_dir)}: its replicas went with it"
            )
        return record.app

    @staticmethod
    def _end_without_supervisor(app_dir: Path, state: AppState, code: str, message: str) -> App:
        record = read_record(app_dir)  # re-read: the supervisor may have finished between two reads
        if record.app.state.is_down:
            return record.app
        app = record.app
        ended = replace(
            app, state=state, history=app.history + (AppStateChange(state, now()),), available_replicas=0,
            replicas=(), signal=None, info_code=code, info_message=message,
        )  # fmt: skip
        write_record(app_dir, replace(record, app=ended))
        return ended

    def list(self, states: tuple[AppState, ...] = (), label: str | None = None) -> builtins.list[App]:
        if not self.root.is_dir():
            return []
        for path in self.root.iterdir():
            if is_abandoned(path, "app.json"):
                shutil.rmtree(path, ignore_errors=True)
        name, _, value = (label or "").partition("=")
        apps = [self.get(path.name) for path in self.root.iterdir() if (path / "app.json").is_file()]
        apps = [app for app in apps if (not states or app.state in states) and (not label or dict(app.spec.labels).get(name) == value)]
        return sorted(apps, key=lambda app: (app.created_at, app.id), reverse=True)

    def _ask(self, app_id: str, scaling: Scaling | None = None, image: str | None = None) -> None:
        app_dir = self._dir(app_id)
        current = read_control(app_dir)
        write_control(app_dir, Control(current.generation + 1, scaling or current.scaling, image or current.image))
        if self.get(app_id).state.is_down:  # no supervisor reads it: the record says it at once
            record = read_record(app_dir)
            spec = record.app.spec
            spec = replace(spec, scaling=scaling or spec.scaling, image=image or spec.image)
            write_record(app_dir, replace(record, app=replace(record.app, spec=spec), generation=current.generation + 1))

    def scale(self, app_id: str, scaling: Scaling) -> None:
        check_scaling(scaling)
        self._ask(app_id, scaling=scaling)

    def set_image(self, app_id: str, image: str) -> None:
        if not image.strip():
            raise UserError("no image given: `triton-deck app set-image ID IMAGE`")
        self._ask(app_id, image=image)

    def start(self, app_id: str) -> None:
        app_dir = self._dir(app_id)
        app = self.get(app_id)
        if not app.state.is_down:
            raise UserError(f"app {app.short_id} is {app.state}: only a stopped app starts")
        record = read_record(app_dir)
        queued = replace(
            app,
            state=AppState.QUEUED,
            history=app.history + (AppStateChange(AppState.QUEUED, now()),),
            info_code="APP_QUEUED",
            info_message=None,
        )
        (app_dir / PID_FILE).unlink(missing_ok=True)  # the last run's supervisor is no answer for this one
        write_record(app_dir, replace(record, app=queued, supervisor_pid=None))
        self._spawn(app_dir)

    def stop(self, app_id: str) -> None:
        app = self.get(app_id)
        if app.state.is_down or app.state is AppState.STOPPING:
            raise UserError(f"app {app.short_id} is already {app.state}: nothing to stop")
        app_dir = self._dir(app_id)
        if not self._supervised(app_dir).terminate():  # nothing runs it: stopped at once
            self._end_without_supervisor(app_dir, AppState.STOPPED, "APP_STOPPED", "stopped: the app's supervisor was not running")

    def delete(self, app_id: str, force: bool = False) -> None:
        if is_abandoned(self.root / app_id, "app.json"):
            shutil.rmtree(self.root / app_id)
            return
        app = self.get(app_id)
        if not app.state.is_down:
            if not force:
                raise UserError(f"app {app.short_id} is {app.state}: stop it first, or delete with --force")
            if app.state is not AppState.STOPPING:
                self.stop(app_id)
            deadline = time.monotonic() + STOP_WAIT_S
            while not self.get(app_id).state.is_down and time.monotonic() < deadline:
                time.sleep(0.2)
        shutil.rmtree(self._dir(app_id))

    def logs(self, app_id: str, replica: str | None = None, tail: int | None = None) -> Iterator[str]:
        path = self._dir(app_id) / "log.txt"
        lines = iter(last_lines(path, tail)) if tail and replica is None else read_lines(path)
        if replica is None:
            return lines
        tag = f" [{replica}] "
        picked = (line for line in lines if tag in line)
        return iter(list(picked)[-tail:]) if tail else picked

    def follow_logs(self, app_id: str, cancel: CancelToken, replica: str | None = None) -> Iterator[LogItem]:
        """Whole lines only, from the start: a line being written is held until its newline."""
        path = self._dir(app_id) / "log.txt"
        tag = f" [{replica}] " if replica else None
        with path.open("r", encoding="utf-8", errors="replace", newline="\n") as handle:
            pending = ""
            while not cancel.cancelled:
                chunk = handle.readline()
                if chunk:
                    pending += chunk
                    if pending.endswith("\n"):
                        line, pending = pending.rstrip("\n"), ""
                        if tag is None or tag in line:
                            yield line
                    continue
                if self.get(app_id).state.is_down:
                    return
                cancel.wait(FOLLOW_POLL_S)
