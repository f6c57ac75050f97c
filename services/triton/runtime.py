"""A real `tritonserver` on this machine, from the `nvidia-pytriton` wheel, without Docker.

The wheel ships Triton 2.51 with the python backend. Its files are copied once into a
runtime directory in the XDG cache (re-prepared when the wheel version changes), with
the python-backend stub for the interpreter that will run the models. The server is
started as a plain child process on loopback ports, with the environment the stub needs
(see `local-triton.md`): the wheel's bundled libraries and this interpreter's LIBDIR on
`LD_LIBRARY_PATH`, this environment's `bin/` first on `PATH`.
"""

from __future__ import annotations

import ctypes
import fcntl
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from services import locations
from services.errors import UserError
from services.logs.tail import last_lines
from services.ports import free_port

WHEEL = "nvidia-pytriton"
READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 15.0
EXIT_TIMEOUT_S = 5
LOG_TAIL_LINES = 12
REASON_SCAN_LINES = 400  # the end of a server's log, where the reason it stopped is
JOB_LOG_PREFIX = re.compile(r"^\S+Z \[job\] ")  # a local job's log wraps the server's lines
# Lines a CPU-only server always prints; never the reason it failed.
CPU_ONLY_NOISE = ("CudaDriverHelper", "NVML", "pinned", "DCGM", "Unable to allocate")
_PR_SET_PDEATHSIG = 1
SHARED_MEMORY = Path("/dev/shm")
# The python backend names its shared-memory regions after this prefix: ours carry the pid of
# the process that started the server, so regions a killed server left behind can be found
# (a SIGKILLed tritonserver never removes them, and /dev/shm is RAM).
SHM_PREFIX = "triton_deck_"
_servers_started = itertools.count()


@dataclass(frozen=True)
class Runtime:
    """A prepared runtime directory and what the server process needs around it."""

    root: Path
    version: str

    @property
    def binary(self) -> Path:
        return self.root / "bin" / "tritonserver"

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """`base` (this process's environment by default) plus what the server's libraries need."""
        env = dict(os.environ if base is None else base)
        libraries = [str(_wheel_package_dir().parent / "nvidia_pytriton.libs"), str(sysconfig.get_config_var("LIBDIR"))]
        env["LD_LIBRARY_PATH"] = os.pathsep.join([*libraries, *filter(None, [env.get("LD_LIBRARY_PATH")])])
        env["PATH"] = path_with_this_environment(env.get("PATH", ""))
        return env


def path_with_this_environment(path: str) -> str:
    """PATH with this interpreter's `bin/` first: the python-backend stub's python and
    `triton-deck` itself resolve to this installation."""
    return os.pathsep.join([str(Path(sys.executable).parent), path])


def _wheel_package_dir() -> Path:
    try:
        import pytriton  # noqa: F401  (only located, never used: its Python API is not needed)
    except ImportError:
        raise UserError(f"the local Triton server needs the {WHEEL} package: reinstall triton-deck with its dependencies") from None
    return Path(pytriton.__file__).parent


def prepare_runtime(cache: Path | None = None) -> Runtime:
    """Copy the server out of the wheel once per wheel version and Python version."""
    version = metadata.version(WHEEL)
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    root = (cache or locations.cache_dir()) / "triton-runtime" / f"{version}-py{python}"
    if (root / ".prepared").is_file():
        return Runtime(root, version)
    root.parent.mkdir(parents=True, exist_ok=True)
    with (root.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two jobs starting at once prepare it once
        if not (root / ".prepared").is_file():
            _copy_runtime(root, version, python)
    return Runtime(root, version)


def _copy_runtime(root: Path, version: str, python: str) -> None:
    source = _wheel_package_dir() / "tritonserver"
    stub = source / "python_backend_stubs" / python / "triton_python_backend_stub"
    if not stub.is_file():
        raise UserError(f"{WHEEL} {version} has no python-backend stub for Python {python}: use Python 3.8 to 3.13")
    staging = root.with_name(root.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    for part in ("bin", "backends", "caches"):
        if (source / part).exists():
            shutil.copytree(source / part, staging / part, symlinks=True)
    shutil.copy2(stub, staging / "backends" / "python" / "triton_python_backend_stub")
    (staging / ".prepared").write_text(json.dumps({"wheel": version, "python": python}))
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)  # all or nothing: a half-copied runtime is never used


def die_with_parent() -> None:
    """In the child, before exec: SIGTERM it when the process that started it dies."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: stop() and the supervisor still clean up


@dataclass(frozen=True)
class Ports:
    http: int
    grpc: int
    metrics: int

    @classmethod
    def pick(cls) -> Ports:
        return cls(free_port(), free_port(), free_port())


CONTROL_MODES = ("none", "poll", "explicit")


def control_arguments(words: Sequence[str]) -> list[str]:
    """The model-control words of a job's or app's tritonserver command that the local server
    takes as they are (`tune` needs `--model-control-mode=explicit`, usually with `--load-model=*`)."""
    kept = []
    for word in words:
        if word.startswith("--model-control-mode="):
            mode = word.split("=", 1)[1]
            if mode not in CONTROL_MODES:
                raise UserError(f"{word}: the model-control mode is one of {', '.join(CONTROL_MODES)}")
            kept.append(word)
        elif word.startswith("--load-model="):
            kept.append(word)
    return kept


class TritonServer:
    """One server process: start, wait until ready, stop without leaving anything behind."""

    def __init__(self, runtime: Runtime, repository: Path, log_path: Path, ports: Ports | None = None, extra_args: Sequence[str] = ()) -> None:
        self.runtime = runtime
        self.repository = repository
        self.log_path = log_path
        self.ports = ports or Ports.pick()
        self._extra_args = tuple(extra_args)
        self._process: subprocess.Popen[bytes] | None = None
        self.shm_prefix = f"{SHM_PREFIX}{os.getpid()}_{next(_servers_started)}_"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports.http}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def command(self) -> list[str]:
        root = self.runtime.root
        return [
            str(self.runtime.binary), f"--model-repository={self.repository}",
            f"--backend-directory={root / 'backends'}", f"--cache-directory={root / 'caches'}",
            "--http-address=127.0.0.1", f"--http-port={self.ports.http}",
            "--grpc-address=127.0.0.1", f"--grpc-port={self.ports.grpc}",
            "--metrics-address=127.0.0.1", f"--metrics-port={self.ports.metrics}",
            # Do not wait the default 30 s for idle client connections on SIGTERM.
            f"--exit-timeout-secs={EXIT_TIMEOUT_S}",
            f"--backend-config=python,shm-region-prefix-name={self.shm_prefix}",
            *self._extra_args,
        ]  # fmt: skip

    def start(self) -> None:
        if not self.repository.is_dir():
            raise UserError(f"model repository {self.repository} does not exist: upload or point to one")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        remove_orphaned_regions()
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.runtime.environment(),
                start_new_session=True,  # its own process group: the stubs go down with it
                preexec_fn=die_with_parent,
            )

    @contextmanager
    def running(self, timeout: float = READY_TIMEOUT_S) -> Iterator[TritonServer]:
        """Started and ready for the `with` block; stopped after it, or when it never got ready."""
        self.start()
        try:
            self.wait_ready(timeout)
            yield self
        finally:
            self.stop()

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Block until `/v2/health/ready` answers 200; on failure, quote the server's own last lines."""
        deadline = time.monotonic() + timeout
        while True:
            if self._process is None:
                raise UserError("the Triton server was not started")
            code = self._process.poll()
            if code is not None:
                raise UserError(f"tritonserver exited with status {code} before it was ready: {self.log_tail()}")
            if self.is_ready():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise UserError(f"tritonserver was not ready after {timeout:.0f}s: {self.log_tail()}")
            time.sleep(0.1)

    def is_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/v2/health/ready", timeout=1) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """Why the server failed, in its own words, on one line: its errors and failed models,
        without the warnings every CPU-only start prints."""
        try:
            recent = last_lines(self.log_path, REASON_SCAN_LINES)  # a job's log can be gigabytes
        except OSError:
            return "(no log)"
        useful: list[str] = []
        for raw in recent:
            line = JOB_LOG_PREFIX.sub("", raw.strip()).strip("|").strip()
            is_error = bool(re.match(r"^E\d{4} ", line)) or "UNAVAILABLE" in line or line.lower().startswith("error:")
            if not is_error or any(noise in line for noise in CPU_ONLY_NOISE):
                continue
            line = re.sub(r"^[EWI]\d{4} [\d:.]+ +\d+ \S+\] ", "", line).split("\\n")[0].strip('" ')
            if line and line not in useful:
                useful.append(line)
        return " | ".join(useful[-3:]) or " | ".join([line for line in recent if line.strip()][-lines:][-2:])

    def stop(self, grace: float = STOP_GRACE_S) -> int | None:
        """SIGTERM the process group, SIGKILL it after `grace`, remove the shared memory it
        leaves when killed; returns the exit status."""
        if self._process is None:
            return None
        code = terminate_group(self._process, grace)
        remove_regions(self.shm_prefix)
        return code


def remove_regions(prefix: str) -> None:
    for region in SHARED_MEMORY.glob(f"{prefix}*") if SHARED_MEMORY.is_dir() else ():
        region.unlink(missing_ok=True)


def remove_orphaned_regions() -> None:
    """Our own shared memory of servers whose starter is gone (a supervisor killed with its
    server): nobody else will ever remove it. Another user's is theirs (on a shared jump host
    /dev/shm is sticky: unlinking it would fail, and starting a server with it)."""
    for region in SHARED_MEMORY.glob(f"{SHM_PREFIX}*") if SHARED_MEMORY.is_dir() else ():
        starter = region.name[len(SHM_PREFIX) :].split("_", 1)[0]
        try:
            if starter.isdigit() and region.lstat().st_uid == os.getuid() and not _alive(int(starter)):
                region.unlink()
        except OSError:  # gone meanwhile (another start swept it): nothing left to do
            continue


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def terminate_group(process: subprocess.Popen[Any], grace: float = STOP_GRACE_S) -> int:
    """SIGTERM a child's process group, SIGKILL it after `grace`, then kill any straggler
    (a python stub) so nothing outlives it; returns the child's exit status."""
    if process.poll() is None:
        signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            signal_group(process.pid, signal.SIGKILL)
            process.wait()
    signal_group(process.pid, signal.SIGKILL)
    return process.returncode


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal a whole process group (a server and its stubs); gone already is fine."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
