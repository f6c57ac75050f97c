"""`LocalJobPlatform`: AI Training jobs on this machine, each run by its own supervisor process.

Any process (the TUI, a CLI in another shell) sees the same jobs: their records live on
disk (see `local_store`). A job whose supervisor died without finishing shows as FAILED,
never as RUNNING forever.
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

from services.cancel import CancelToken
from services.confine import bad_parts, mount_target
from services.errors import UserError
from services.jobs.local_store import job_to_record, jobs_root, read_record, record_to_job, write_record
from services.jobs.protocol import Job, JobSpec, JobState, PlatformCapabilities, RegistryInfo, RegistryListing, StateChange
from services.logs.tail import last_lines
from services.secrets import Secret
from services.supervised.environment import supervisor_environment
from services.supervised.files import FOLLOW_POLL_S, now, private_file, read_lines
from services.supervised.presence import Supervised, is_abandoned, lost_reason, record_pid

# The images a local job names (it runs the bundled server or the installed tools either way):
# what the pipeline and `perf --client-job` put in a spec on the local profile.
LOCAL_SERVER_IMAGE = "local/tritonserver"
LOCAL_CLIENT_IMAGE = "local/tritonserver-sdk"


class LocalJobPlatform:
    capabilities = PlatformCapabilities(registries=False)

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or jobs_root()

    def _dir(self, job_id: str) -> Path:
        path = self.root / job_id
        if not (path / "job.json").is_file():
            raise UserError(f"job {job_id} not found: list jobs with `triton-deck job list`")
        return path

    def run(self, spec: JobSpec) -> Job:
        job_id = str(uuid.uuid4())
        job_dir = self.root / job_id
        for volume in spec.volumes:  # refused here, in one line, rather than as a FAILED job
            mount_target(job_dir / "workspace", volume.mount_path)
            if volume.prefix and bad_parts(volume.prefix.rstrip("/")):
                raise UserError(f"volume '{volume}': prefix '{volume.prefix}' leads outside the bucket: drop '..', '.' and empty parts")
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        job_dir.mkdir(mode=0o700)  # the job's log and workspace are its owner's alone
        created = now()
        job = Job(id=job_id, spec=spec, state=JobState.QUEUED, created_at=created, history=(StateChange(JobState.QUEUED, created),))
        write_record(job_dir, job_to_record(job, None))
        (job_dir / "log.txt").touch(mode=0o600)
        here = str(Path(__file__).resolve().parents[2])
        environment = {
            **supervisor_environment(os.environ),
            "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])),
        }
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "services.jobs.local_supervisor", str(job_dir)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=private_file(job_dir / "supervisor.err"),
            start_new_session=True, env=environment,
        )  # fmt: skip
        # The platform alone writes this file (the supervisor alone writes job.json while it lives): no lost updates.
        record_pid(job_dir, supervisor.pid)
        return job

    @staticmethod
    def _supervised(job_dir: Path) -> Supervised:
        return Supervised(job_dir, "job.json", lambda: read_record(job_dir).get("supervisorPid"))

    def _end_without_supervisor(self, job_dir: Path, state: JobState, message: str) -> Job:
        """The record says what became of a job nobody supervises (re-read first: the supervisor
        may have finished between two reads)."""
        job = record_to_job(read_record(job_dir))
        if not job.state.is_terminal:
            job = replace(
                job,
                state=state,
                history=job.history + (StateChange(state, now()),),
                info_code="JOB_FAILED_WITH_MESSAGE",
                info_message=message,
            )
            write_record(job_dir, job_to_record(job, None))
        return job

    def get(self, job_id: str) -> Job:
        job_dir = self._dir(job_id)
        job = record_to_job(read_record(job_dir))
        if not job.state.is_terminal and (state := self._supervised(job_dir).state()).lost:
            return self._end_without_supervisor(job_dir, JobState.FAILED, f"{lost_reason(state, 'job', job_dir)}: the job was lost")
        return job

    def list(self, states: tuple[JobState, ...] = ()) -> builtins.list[Job]:
        if not self.root.is_dir():
            return []
        for path in self.root.iterdir():
            if is_abandoned(path, "job.json"):
                shutil.rmtree(path, ignore_errors=True)
        jobs = [self.get(path.name) for path in self.root.iterdir() if (path / "job.json").is_file()]
        jobs = [job for job in jobs if not states or job.state in states]
        return sorted(jobs, key=lambda job: (job.created_at, job.id), reverse=True)

    def stop(self, job_id: str) -> None:
        job = self.get(job_id)
        if job.state.is_terminal:
            raise UserError(f"job {job.short_id} is already {job.state}: nothing to stop")
        job_dir = self._dir(job_id)
        if not self._supervised(job_dir).terminate():  # nothing runs it: stopped at once
            self._end_without_supervisor(job_dir, JobState.INTERRUPTED, "stopped: the job's supervisor was not running")

    def delete(self, job_id: str, force: bool = False) -> None:
        if is_abandoned(self.root / job_id, "job.json"):
            shutil.rmtree(self.root / job_id)
            return
        job = self.get(job_id)
        if not job.state.is_terminal:
            if not force:
                raise UserError(f"job {job.short_id} is {job.state}: stop it first, or delete with --force")
            self.stop(job_id)
            deadline = time.monotonic() + 30
            while not self.get(job_id).state.is_terminal and time.monotonic() < deadline:
                time.sleep(0.2)
        shutil.rmtree(self._dir(job_id))

    def logs(self, job_id: str, tail: int | None = None) -> Iterator[str]:
        path = self._dir(job_id) / "log.txt"
        return iter(last_lines(path, tail)) if tail else read_lines(path)

    def follow_logs(self, job_id: str, cancel: CancelToken) -> Iterator[str]:
        """Every line from the start, then new ones as the supervisor writes them, until the job ends.

        The file is the log: reading on from a byte offset never repeats or skips a line."""
        path = self._dir(job_id) / "log.txt"
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            partial = ""
            while not cancel.cancelled:
                chunk = handle.readline()
                if chunk:
                    partial += chunk
                    if partial.endswith("\n"):
                        yield partial.rstrip("\n")
                        partial = ""
                    continue
                if self.get(job_id).state.is_terminal:
                    yield from (partial + handle.read()).splitlines()
                    return
                cancel.wait(FOLLOW_POLL_S)

    def registries(self) -> RegistryListing:
        return RegistryListing(())

    def attach_registry(self, url: str, username: str, password: Secret) -> RegistryInfo:
        raise UserError("local jobs run the bundled server: there is no registry to attach")

    def detach_registry(self, registry_id: str) -> None:
        raise UserError("local jobs run the bundled server: there is no registry to detach")
