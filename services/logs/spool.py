"""A job log spooled to a file, so memory stays flat however long the job runs (toolong's idea).

The file is the store. In memory there is one offset per `STRIDE` lines (8 bytes per 256
lines: 5 million lines cost 160 kB) and an LRU cache of a few decoded blocks, enough for
the rows on screen and a little scrolling either way. Lines are stored as a terminal would
show them: a line redrawn with `\\r` keeps only its last frame.

`LogViewModel` puts the display choices on top (source filter, timestamps on or off) and
answers what a log widget asks: how many rows, the widest one, the text of row `i`.
"""

from __future__ import annotations

import os
import tempfile
import threading
from array import array
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

from services.logs.format import last_frame, source_of, without_time
from services.text import visible

STRIDE = 256
CACHED_BLOCKS = 32
MARKER = "\x1e"  # first character of a stream event stored between lines ("reconnected")


def is_marker(stored: str) -> bool:
    """A stream event, not a log line: a line of the job's own that began with MARKER is stored
    with the MARKER doubled, so no job can forge an event."""
    return stored.startswith(MARKER) and not stored.startswith(MARKER * 2)


def log_text(stored: str) -> str:
    """A stored log line as the job printed it."""
    return stored[1:] if stored.startswith(MARKER) else stored


class LogSpool:
    """Append-only lines in a temporary file, read back by index."""

    def __init__(self, directory: Path | None = None) -> None:
        self._file = tempfile.TemporaryFile(mode="w+b", dir=directory, prefix="triton-deck-log-")
        self._checkpoints = array("Q", [0])  # byte offset of line k*STRIDE
        self._count = 0
        self._end = 0
        self._widest = 0
        self._cache: OrderedDict[int, list[str]] = OrderedDict()
        self._lock = threading.RLock()  # the stream's worker appends while the UI reads

    @property
    def count(self) -> int:
        return self._count

    @property
    def widest(self) -> int:
        return self._widest

    def append(self, lines: Iterable[str], events: bool = False) -> int:
        """Store `lines` (their `\r` frames collapsed); returns how many were added.

        Readers see the new lines only once they are in the file: the counters move
        under the lock, after the write."""
        pending = bytearray()
        checkpoints: list[int] = []
        count, end, widest = self._count, self._end, self._widest
        for raw in lines:
            line = last_frame(raw) if "\r" in raw else raw
            if not events and line.startswith(MARKER):
                line = MARKER + line
            encoded = line.encode("utf-8", errors="replace") + b"\n"
            pending += encoded
            end += len(encoded)
            count += 1
            if count % STRIDE == 0:
                checkpoints.append(end)
            if len(line) > widest:
                widest = len(line)
        added = count - self._count
        if added:
            with self._lock:
                self._file.seek(0, os.SEEK_END)
                self._file.write(pending)
                for block in range(self._count // STRIDE, (count - 1) // STRIDE + 1):
                    self._cache.pop(block, None)  # blocks that grew
                self._checkpoints.extend(checkpoints)
                self._count, self._end, self._widest = count, end, widest
        return added

    def mark(self, text: str) -> None:
        self.append([MARKER + text], events=True)

    def _block(self, index: int) -> list[str]:
        with self._lock:
            cached = self._cache.get(index)
            if cached is not None:
                self._cache.move_to_end(index)
                return cached
            block = self._read_block(index)
            self._cache[index] = block
            if len(self._cache) > CACHED_BLOCKS:
                self._cache.popitem(last=False)
            return block

    def _read_block(self, index: int) -> list[str]:
        with self._lock:
            start = self._checkpoints[index]
            end = self._checkpoints[index + 1] if index + 1 < len(self._checkpoints) else self._end
            self._file.seek(start)
            data = self._file.read(end - start)
        return data.decode("utf-8", errors="replace").split("\n")[:-1]

    def line(self, index: int) -> str:
        if not 0 <= index < self._count:
            raise IndexError(index)
        return self._block(index // STRIDE)[index % STRIDE]

    def iter_from(self, start: int) -> Iterable[tuple[int, str]]:
        """Lines from `start` to the end, a block at a time, bypassing the cache."""
        index = start
        while index < self._count:
            block = self._read_block(index // STRIDE)
            for line in block[index % STRIDE :]:
                yield index, line
                index += 1

    def save(self, target: Path) -> int:
        """Write the log lines (no stream markers) to `target` atomically; returns the line count."""
        target = target.expanduser()
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        written = 0
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                for _index, line in self.iter_from(0):
                    if not is_marker(line):
                        out.write(log_text(line) + "\n")
                        written += 1
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return written

    def close(self) -> None:
        self._file.close()


class LogViewModel:
    """The rows a log view shows: every spooled line, or only one source's, or only those
    containing a text (`grep`, as less's `&`), with or without times; stream markers always."""

    def __init__(self, spool: LogSpool) -> None:
        self.spool = spool
        self.show_time = True
        self._source: str | None = None
        self._grep = ""
        self._rows: array[int] | None = None  # spool indexes when filtered
        self._scanned = 0

    @property
    def source(self) -> str | None:
        return self._source

    @property
    def grep(self) -> str:
        return self._grep

    def set_source(self, source: str | None) -> None:
        """Show only `source` lines (and stream markers); `None` shows everything."""
        self._source = source
        self._reindex()

    def set_grep(self, text: str) -> None:
        """Show only lines containing `text`, any case (and stream markers); "" shows them all."""
        self._grep = text.casefold()
        self._reindex()

    def _reindex(self) -> None:
        self._rows = None if self._source is None and not self._grep else array("I")
        self._scanned = 0
        self.refresh()

    def _kept(self, line: str) -> bool:
        if is_marker(line):
            return True
        text = log_text(line)
        if self._source is not None and source_of(text) != self._source:
            return False
        return not self._grep or self._grep in visible(text if self.show_time else without_time(text)).casefold()

    def refresh(self) -> None:
        """Take in lines spooled since the last call (for the filtered index)."""
        if self._rows is None:
            return
        for index, line in self.spool.iter_from(self._scanned):
            if self._kept(line):
                self._rows.append(index)
        self._scanned = self.spool.count

    @property
    def count(self) -> int:
        return self.spool.count if self._rows is None else len(self._rows)

    @property
    def widest(self) -> int:
        return self.spool.widest

    def spool_index(self, row: int) -> int:
        return row if self._rows is None else self._rows[row]

    def line(self, row: int) -> tuple[str, bool]:
        """The text of `row` as shown, and whether it is a stream marker rather than a log line."""
        stored = self.spool.line(self.spool_index(row))
        if is_marker(stored):
            return stored[1:], True
        raw = log_text(stored)
        return visible(raw if self.show_time else without_time(raw)), False

    def match_position(self, query: str, row: int) -> tuple[int, int]:
        """Which match `row` is (from 1) and how many rows contain `query`: the `3/17` counter."""
        needle = query.casefold()
        position = total = 0
        for index in range(self.count):
            if needle in self.line(index)[0].casefold():
                total += 1
                if index <= row:
                    position = total
        return position, total

    def find(self, query: str, start_row: int, backwards: bool = False) -> int | None:
        """The next row (after `start_row`, wrapping around) whose text contains `query`, any case."""
        needle = query.casefold()
        total = self.count
        if not needle or not total:
            return None
        step = -1 if backwards else 1
        for offset in range(1, total + 1):
            row = (start_row + step * offset) % total
            if needle in self.line(row)[0].casefold():
                return row
        return None
