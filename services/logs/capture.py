"""A local job's or app's `log.txt`, and the pump that fills it from a process's pipe.

The pump works on bytes (see `services.logs.lines`): it never decodes, so no byte can stop
it, and it always drains the pipe, so a process is never blocked writing to it, even when
the log cannot be written (a full disk): then the lines are dropped, the failure is kept in
`Pump.error`, and the supervisor reports the job FAILED with it instead of DONE.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from services.jobs.document import stamp
from services.logs.lines import LineSplitter

READ_SIZE = 64 * 1024


class LogFile:
    """`log.txt`, appended to in whole lines under one lock (the pump of each replica and the
    supervisor's own notes share it), every line as `<UTC time>Z [source] text`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, lines: Iterable[bytes], source: str) -> None:
        prefix = f"{stamp(datetime.now(UTC))} [{source}] ".encode()
        blob = b"".join(prefix + line + b"\n" for line in lines)
        if not blob:
            return
        with self._lock, self.path.open("ab") as handle:
            handle.write(blob)

    def note(self, text: str, source: str) -> None:
        """One line of the supervisor's own (a state, a sync, a reason), split by the same rule."""
        splitter = LineSplitter()
        self.write(splitter.feed(text.rstrip().encode("utf-8", errors="surrogateescape")) + splitter.flush(), source)


class Pump:
    """Reads `fd` to its end in its own thread, handing each batch of complete lines to
    `deliver`; `done` is set once the pipe is closed and every line is delivered."""

    def __init__(self, fd: int, deliver: Callable[[list[bytes]], None], name: str = "log-pump") -> None:
        self._fd = fd
        self._deliver = deliver
        self.error: str | None = None
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _hand(self, lines: list[bytes]) -> None:
        if not lines or self.error is not None:
            return
        try:
            self._deliver(lines)
        except Exception as error:  # keep draining: the process must never block on its pipe
            self.error = f"the log could not be written: {type(error).__name__}: {error}"

    def _run(self) -> None:
        splitter = LineSplitter()
        try:
            while chunk := os.read(self._fd, READ_SIZE):
                self._hand(splitter.feed(chunk))
            self._hand(splitter.flush())
        except OSError as error:
            self.error = self.error or f"the log pipe broke: {error}"
        finally:
            os.close(self._fd)
            self.done.set()

    def join(self, timeout: float) -> bool:
        """Whether every line was delivered within `timeout` seconds."""
        return self.done.wait(timeout)
