"""The per-job supervisor of a local job: `python -m services.jobs.local_supervisor JOB_DIR`.

It outlives the app or CLI that started the job (its own session), owns the job's process,
and is the only writer of the job's state and log. States follow AI Training:
QUEUED → INITIALIZING (volumes synced in) → PENDING → RUNNING → DONE / FAILED, or on
SIGTERM (a stop) INTERRUPTING → FINALIZING (RW volumes synced back) → INTERRUPTED.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from services.cancel import CancelToken
from services.confine import WORKSPACE, mount_target
from services.errors import UserError
from services.jobs.local_store import job_to_record, read_record, record_to_job, write_record
from services.jobs.protocol import JobState, StateChange
from services.logs.capture import LogFile, Pump
from services.logs.format import JOB_SOURCE
from services.storage.local import LocalObjectStore
from services.storage.planning import plan_upload
from services.storage.protocol import BucketRef, UploadOptions
from services.supervised.environment import container_environment
from services.supervised.files import now
from services.supervised.token import local_token
from services.supervised.volumes import sync_volumes_in
from services.triton.frameworks import SERVED_REPOSITORY, served_repository
from services.triton.guard import guard_command, guard_environment, open_listeners
from services.triton.runtime import (
    Ports,
    TritonServer,
    control_arguments,
    die_with_parent,
    path_with_this_environment,
    prepare_runtime,
    terminate_group,
)

PUMP_GRACE_S = 5  # after the process exits, for the last lines in its pipe


class Supervisor:
    def __init__(self, job_dir: Path) -> None:
        self.dir = job_dir
        self.job = record_to_job(read_record(job_dir))
        self.workspace = job_dir / "workspace"
        self.stopping = threading.Event()
        self.log_file = LogFile(job_dir / "log.txt")

    # -- state and log -------------------------------------------------------------------------

    def move(self, state: JobState, **changes: object) -> None:
        self.job = replace(self.job, state=state, history=self.job.history + (StateChange(state, now()),), **changes)  # type: ignore[arg-type]
        write_record(self.dir, job_to_record(self.job, os.getpid()))

    def log(self, line: str, source: str = "job") -> None:
        """`job` for the process's own output (what `--from job` keeps), `sync` for data sync."""
        self.log_file.note(line, source)

    # -- volumes -------------------------------------------------------------------------------

    def local_path(self, mount: str) -> Path:
        return mount_target(self.workspace, mount)

    def sync_in(self) -> None:
        sync_volumes_in(self.workspace, self.job.spec.volumes, lambda line: self.log(line, "sync"))

    def sync_out(self) -> None:
        store = LocalObjectStore()
        for volume in self.job.spec.volumes:
            if volume.permission.upper() == "RO":
                continue
            source = self.local_path(volume.mount_path)
            items = plan_upload([str(source)], remove_prefix=str(source).lstrip("/") + "/", add_prefix=volume.prefix)
            result = store.upload(BucketRef(volume.container, volume.alias.upper()), items, UploadOptions(), lambda _p: None, CancelToken())
            self.log(f"synced {len(result.done)} object(s) back to {volume.container}@{volume.alias}", "sync")

    # -- the process ---------------------------------------------------------------------------

    def command(self) -> list[str]:
        words = list(self.job.spec.command)
        if len(words) == 3 and words[0] in ("bash", "sh") and words[1] == "-c":
            inner = shlex.split(words[2])
            if inner and inner[0] == "tritonserver":  # the tutorial's form: run the bundled server directly
                words = inner
        if not words:
            raise UserError("the job has no command")
        return [arg.replace(WORKSPACE, str(self.workspace)) for arg in words]

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        """The job's `--env NAME=VALUE` pairs on top of what its process needs, plus HOME=/workspace;
        `base` is already a container's environment (see `services.supervised.environment`).
        This environment's `bin/` leads PATH so `triton-deck classify` works as a client job's command."""
        path = path_with_this_environment(base.get("PATH", ""))
        return {**base, "PATH": path, "HOME": str(self.workspace), **dict(self.job.spec.env)}

    def start(self, words: list[str]) -> tuple[subprocess.Popen[bytes], Pump, TritonServer | None]:
        """The job's process, its output on a pipe the returned pump drains into the log."""
        reading, writing = os.pipe()
        try:
            process, server = self.spawn(words, writing)
        except BaseException:
            os.close(reading)
            raise
        finally:
            os.close(writing)
        return process, Pump(reading, lambda lines: self.log_file.write(lines, JOB_SOURCE)), server

    def spawn(self, words: list[str], output: int) -> tuple[subprocess.Popen[bytes], TritonServer | None]:
        if words[0] == "tritonserver":
            repository = next((w.split("=", 1)[1] for w in words if w.startswith("--model-repository=")), None)
            if repository is None:
                raise UserError("tritonserver needs --model-repository=/workspace/...")
            served = served_repository(Path(repository), self.dir / SERVED_REPOSITORY, lambda line: self.log(line, "supervisor"))
            runtime = prepare_runtime()
            environment = self.environment(runtime.environment(container_environment(os.environ)))
            control = control_arguments(words)
            if self.job.spec.unsecure_http:
                server = TritonServer(runtime, served, self.dir / "log.txt", extra_args=control)
                process = self.popen(server.command(), output, environment)
            else:  # behind its guard: the token checked in front, never on a command line
                listeners = open_listeners()
                server = TritonServer(runtime, served, self.dir / "log.txt", ports=Ports(*(listener.getsockname()[1] for listener in listeners)), extra_args=control)
                try:
                    process = self.popen(guard_command(listeners, server.command()), output, guard_environment(environment, local_token().reveal()), listeners)
                finally:
                    for listener in listeners:
                        listener.close()
            ports = server.ports
            self.job = replace(self.job, url=f"http://127.0.0.1:{ports.http}", ip="127.0.0.1", grpc_address=f"127.0.0.1:{ports.grpc}")
            return process, server
        process = subprocess.Popen(
            words, cwd=self.workspace, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            env=self.environment(container_environment(os.environ)), start_new_session=True, preexec_fn=die_with_parent,
        )  # fmt: skip
        return process, None

    @staticmethod
    def popen(command: list[str], output: int, environment: dict[str, str], listeners: Sequence[socket.socket] = ()) -> subprocess.Popen[bytes]:
        """The server (or its guard, handed the listening sockets) in a session of its own."""
        return subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, env=environment,
            start_new_session=True, preexec_fn=die_with_parent, pass_fds=[listener.fileno() for listener in listeners],
        )  # fmt: skip

    def run(self) -> int:
        signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        if self.job.state.is_terminal:  # stopped before this process got to run it
            return 0
        try:
            self.move(JobState.INITIALIZING)
            self.workspace.mkdir(mode=0o700, exist_ok=True)
            self.sync_in()
            self.move(JobState.PENDING)
            words = self.command()
            process, pump, server = self.start(words)
            self.move(JobState.RUNNING)
            while process.poll() is None and not self.stopping.is_set():
                time.sleep(0.2)
            if self.stopping.is_set():
                return self.interrupt(process)
            code = terminate_group(process)  # what it left running ends with it, as in a container
            if not pump.join(timeout=PUMP_GRACE_S):  # a process that left its group still holds the pipe
                pump.error = pump.error or f"the job exited with status {code} but a process it started still holds its output"
            if pump.error is not None:
                self.log(pump.error, "supervisor")
                self.finish(JobState.FAILED, code, "JOB_FAILED_WITH_MESSAGE", pump.error)
            elif code == 0:
                self.finish(JobState.DONE, code)
            else:
                reason = server.log_tail() if server else f"exited with status {code}"
                self.finish(JobState.FAILED, code, "JOB_FAILED_WITH_MESSAGE", f"exit {code}: {reason}")
            return 0
        except Exception as error:  # the job fails, the supervisor reports it
            message = error.message if isinstance(error, UserError) else f"{type(error).__name__}: {error}"
            self.log(message)
            self.finish(JobState.FAILED, None, "JOB_FAILED_WITH_MESSAGE", message)
            return 0

    def interrupt(self, process: subprocess.Popen[bytes]) -> int:
        self.move(JobState.INTERRUPTING)
        code = terminate_group(process)
        self.move(JobState.FINALIZING)
        self.sync_out()
        self.move(JobState.INTERRUPTED, exit_code=code)
        return 0

    def finish(self, state: JobState, code: int | None, info_code: str | None = None, message: str | None = None) -> None:
        self.move(JobState.FINALIZING)
        try:
            self.sync_out()
        except UserError as error:
            self.log(error.message)
        self.move(state, exit_code=code, info_code=info_code, info_message=message)


def main() -> int:
    return Supervisor(Path(sys.argv[1])).run()


if __name__ == "__main__":
    sys.exit(main())

