"""Whether the supervisor of a local job or app is there: one answer for both platforms.

A local job or app is a directory: its record (written first), then a supervisor process
spawned in its own session, whose pid the platform writes to `supervisor.pid` (and the
supervisor into the record). A kill -9 can land between any two of those steps, so the
platform reading a record asks `supervision`:

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
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
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
    return os.fsencode(str(directory)) in arguments


def supervisor_pid(directory: Path) -> int | None:
    try:
        return int((directory / PID_FILE).read_text())
    except (OSError, ValueError):
        return None


def running_supervisor(directory: Path, pid_in_record: int | None) -> int:
    """The pid to signal once `supervision` said RUNNING."""
    pid = supervisor_pid(directory) or pid_in_record
    if not pid:
        raise ValueError(f"no supervisor pid for {directory}")
    return pid


def record_pid(directory: Path, pid: int) -> None:
    """The platform's note of the supervisor it spawned, replaced whole."""
    temp = directory / f".{PID_FILE}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(str(pid).encode())
    temp.replace(directory / PID_FILE)


def supervision(directory: Path, record: Path, pid_in_record: int | None) -> Supervision:
    """`record` is the job's or app's record file; `pid_in_record` the pid its supervisor wrote."""
    pid = supervisor_pid(directory) or pid_in_record
    if pid:
        return Supervision.RUNNING if supervises(pid, directory) else Supervision.GONE
    return Supervision.STARTING if _age(record) < SPAWN_GRACE_S else Supervision.NEVER_STARTED


def lost_reason(state: Supervision, what: str) -> str:
    if state is Supervision.NEVER_STARTED:
        return f"the {what}'s supervisor process never started (killed while it was being created)"
    return f"the {what}'s supervisor process died"


def settled_supervision(directory: Path, record: Path, pid_in_record: Callable[[], int | None]) -> Supervision:
    """The answer once a STARTING supervisor has either appeared or run out of grace."""
    while (state := supervision(directory, record, pid_in_record())) is Supervision.STARTING:
        time.sleep(0.1)
    return state


def is_abandoned(directory: Path, record_name: str) -> bool:
    """A directory a kill -9 left during creation: no record, and past the grace period."""
    return directory.is_dir() and not (directory / record_name).exists() and _age(directory) >= SPAWN_GRACE_S


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return float("inf")
