"""Whether the supervisor of a local job or app is there: one answer for both platforms.

A local job or app is a directory: its record (written first), then a supervisor process
spawned in its own session, whose pid the platform writes to `supervisor.pid` (and the
supervisor into the record). A kill -9 can land between any two of those steps, so the
platform reading a record asks `Supervised.state`:

* RUNNING: the pid is alive *and* is that directory's supervisor (a reused pid is not);
* STARTING: no pid yet, and the record is younger than `SPAWN_GRACE_S`;
* GONE: the supervisor died (the job or app is reported FAILED, with that reason);
* NEVER_STARTED: no pid, long after the record was written (FAILED too).

A directory with no record at all, older than the grace period, is what a kill -9 during
creation leaves: `is_abandoned` tells the platforms to sweep it.
"""

from __future__ import annotations

import enum
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

SPAWN_GRACE_S = 5.0
PID_FILE = "supervisor.pid"


class Supervision(enum.Enum):
    RUNNING = "running"
    STARTING = "starting"
    GONE = "gone"
    NEVER_STARTED = "never started"

    @property
    def lost(self) -> bool:
        return self in (Supervision.GONE, Supervision.NEVER_STARTED)


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purposes
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"  # after "(comm)"
    except OSError:
        return True


def supervises(pid: int, directory: Path) -> bool:
    """Whether `pid` is alive and is the supervisor of `directory` (its argument)."""
    if not alive(pid):
        return False
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc to ask: alive is the best answer
    if arguments == [b""]:  # exiting (its memory is gone, it is not a zombie yet): not lost, ending
        return True
    return os.fsencode(str(directory)) in arguments


def supervisor_pid(directory: Path) -> int | None:
    try:
        return int((directory / PID_FILE).read_text())
    except (OSError, ValueError):
        return None


def record_pid(directory: Path, pid: int) -> None:
    """The platform's note of the supervisor it spawned, replaced whole."""
    temp = directory / f".{PID_FILE}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(str(pid).encode())
    temp.replace(directory / PID_FILE)


class Supervised:
    """A job's or app's directory, asked about its supervisor. `record_name` is its record
    file; `pid_in_record` reads the pid the supervisor wrote there."""

    def __init__(self, directory: Path, record_name: str, pid_in_record: Callable[[], int | None]) -> None:
        self.directory = directory
        self._record = directory / record_name
        self._pid_in_record = pid_in_record

    def pid(self) -> int | None:
        return supervisor_pid(self.directory) or self._pid_in_record()

    def state(self, settle: bool = False) -> Supervision:
        """With `settle`, a STARTING supervisor is waited for until it appears or runs out of grace."""
        while True:
            pid = self.pid()
            if pid:
                return Supervision.RUNNING if supervises(pid, self.directory) else Supervision.GONE
            if _age(self._record) >= SPAWN_GRACE_S:
                return Supervision.NEVER_STARTED
            if not settle:
                return Supervision.STARTING
            time.sleep(0.1)

    def terminate(self) -> bool:
        """SIGTERM the supervisor (it stops what it runs) once it is known; False when none runs."""
        if self.state(settle=True) is not Supervision.RUNNING:
            return False
        pid = self.pid()
        if pid:
            os.kill(pid, signal.SIGTERM)
        return bool(pid)


def lost_reason(state: Supervision, what: str, directory: Path) -> str:
    if state is Supervision.NEVER_STARTED:
        return f"the {what}'s supervisor process never started (killed while it was being created)"
    said = last_words(directory)
    return f"the {what}'s supervisor process died" + (f" ({said})" if said else "")


def last_words(directory: Path) -> str:
    """The last line the supervisor wrote to its stderr (a traceback's exception), if any."""
    try:
        with (directory / "supervisor.err").open("rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - 4096))
            lines = handle.read().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def is_abandoned(directory: Path, record_name: str) -> bool:
    """A directory a kill -9 left during creation: no record, and past the grace period."""
    return directory.is_dir() and not (directory / record_name).exists() and _age(directory) >= SPAWN_GRACE_S


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return float("inf")
