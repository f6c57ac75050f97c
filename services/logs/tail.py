"""The last lines of a file, read from its end: `--tail 5` of a 70 MB log reads a few KiB."""

from __future__ import annotations

import os
from pathlib import Path

BLOCK = 64 * 1024


def last_lines(path: Path, count: int) -> list[str]:
    """The file's last `count` lines (without their newlines), decoded leniently."""
    if count <= 0:
        return []
    with path.open("rb") as handle:
        end = handle.seek(0, os.SEEK_END)
        position, data = end, b""
        # One newline more than wanted, or the start of the file, bounds the last `count` lines.
        while position > 0 and data.count(b"\n") <= count:
            step = min(BLOCK, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if position > 0:
        lines = lines[1:]  # the first piece may be the tail of a longer line
    return [line.decode("utf-8", errors="replace") for line in lines[-count:]]
