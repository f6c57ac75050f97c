"""`FakeJobPlatform`: jobs in memory whose states advance one step per `tick()`.

Nothing moves on its own: a test (or a demo script) calls `tick()` to advance the fake
clock by a fixed step, walk every job one state along its path and append log lines.
That keeps snapshots deterministic while still showing real transitions and a live log.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

from services.cancel import CancelToken
from services.errors import UserError
from services.fake_runs import FakeRuns, triton_log_lines
from services.jobs.protocol import (
    Job,
    JobSpec,
    JobState,
    PlatformCapabilities,
    RegistryInfo,
    RegistryListing,
    StateChange,
)
from services.secrets import Secret

TICK = timedelta(seconds=5)
_START_PATH = (JobState.QUEUED, JobState.INITIALIZING, JobState.PENDING, JobState.RUNNING)
_STOP_PATH = (JobState.INTERRUPTING, JobState.FINALIZING, JobState.INTERRUPTED)
_FOLLOW_POLL_S = 0.05


class FakeJobPlatform(FakeRuns[Job]):
    capabilities = PlatformCapabilities()
    noun = "job"

    def __init__(self, now: datetime, registry: str = "registry.gra.ai.cloud.ovh.net/0123456789abcdef") -> None:
        super().__init__(now)
        self._registry = registry
        self._attached: list[RegistryInfo] = []

    def _ended(self, run: Job) -> bool:
        return run.state.is_terminal

    def _new_id(self) -> str:
        self._sequence += 1
        return f"{self._sequence:08x}-7a1e-4c2b-9d3f-{self._sequence:012x}"

    def add(self, spec: JobSpec, state: JobState, log: list[str] | None = None, info: str | None = None) -> Job:
        """Put a job straight into `state` (for seeding snapshots)."""
        with self._lock:
            job_id = self._new_id()
            job = Job(
                id=job_id,
                spec=spec,
                state=state,
                created_at=self._now,
                history=(StateChange(state, self._now),),
                url=f"https://{job_id}.job.gra.ai.cloud.ovh.net",
                ip=f"10.42.0.{self._sequence}",
                grpc_address=f"https://{job_id}.job-grpc.gra.ai.cloud.ovh.net",
                info_message=info,
            )
            self._runs[job_id] = job
            self._logs[job_id] = list(log or [])
            return job

    def tick(self) -> None:
        """Advance the clock one step and every moving job one state."""
        with self._lock:
            self._now += TICK
            for job_id, job in list(self._runs.items()):
                following = _next_state(job.state)
                if following is None:
                    continue
                moved = replace(job, state=following, history=job.history + (StateChange(following, self._now),))
                self._runs[job_id] = moved
                if following is JobState.RUNNING:
                    self._logs[job_id].extend(triton_log_lines(self._now))

    def run(self, spec: JobSpec) -> Job:
        return self.add(spec, JobState.QUEUED)

    def list(self, states: tuple[JobState, ...] = ()) -> builtins.list[Job]:
        with self._lock:
            jobs = [job for job in self._runs.values() if not states or job.state in states]
        return sorted(jobs, key=lambda job: job.id, reverse=True)

    def stop(self, job_id: str) -> None:
        with self._lock:
            job = self._existing(job_id)
            if job.state.is_terminal:
                raise UserError(f"job {job.short_id} is already {job.state}: nothing to stop")
            self._runs[job_id] = replace(
                job, state=JobState.INTERRUPTING, history=job.history + (StateChange(JobState.INTERRUPTING, self._now),)
            )

    def logs(self, job_id: str, tail: int | None = None) -> builtins.list[str]:
        with self._lock:
            lines = list(self._logs[self._existing(job_id).id])
        return lines[-tail:] if tail else lines

    def follow_logs(self, job_id: str, cancel: CancelToken) -> Iterator[str]:
        sent = 0
        while not cancel.cancelled:
            with self._lock:
                job = self._existing(job_id)
                fresh = self._logs[job_id][sent:]
            sent += len(fresh)
            yield from fresh
            if job.state.is_terminal and not fresh:
                return
            cancel.wait(_FOLLOW_POLL_S)

    def registries(self) -> RegistryListing:
        with self._lock:
            return RegistryListing((RegistryInfo(url=self._registry), *self._attached))

    def attach_registry(self, url: str, username: str, password: Secret) -> RegistryInfo:
        with self._lock:
            attached = RegistryInfo(url=url, kind="PRIVATE", id=f"reg-{len(self._attached) + 1}")
            self._attached.append(attached)
            return attached

    def detach_registry(self, registry_id: str) -> None:
        with self._lock:
            self._attached = [row for row in self._attached if row.id != registry_id]


def _next_state(state: JobState) -> JobState | None:
    for path in (_START_PATH, _STOP_PATH):
        if state in path[:-1]:
            return path[path.index(state) + 1]
    return None
