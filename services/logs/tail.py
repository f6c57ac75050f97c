"""The last lines of a file, read from its end: `--tail 5` of a 70 GB log reads a few KiB.

One pass backwards in blocks, each byte looked at once, stopping at the newline before
the `count`-th line from the end. A line longer than `WINDOW` (one 64 MB line from a job
that never printed a newline) keeps only its last `WINDOW` bytes: the scan still walks back
to where it starts, holding nothing more, and the line says what was cut.
"""

from __future__ import annotations

import os
from pathlib import Path

from services.logs.lines import decoded
from services.units import human_size

BLOCK = 256 * 1024
WINDOW = 1024 * 1024  # the most of one line kept: memory is at most WINDOW per line asked + BLOCK


def cut_note(dropped: int) -> str:
    return f"[line cut: its first {human_size(dropped)} not shown] "


class _Line:
    """One line read backwards: its pieces newest first, at most `WINDOW` bytes of them."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []
        self.kept = 0
        self.dropped = 0

    def prepend(self, piece: bytes) -> None:
        room = WINDOW - self.kept
        if len(piece) > room:
            self.dropped += len(piece) - room
            piece = piece[len(piece) - room :] if room else b""
        if piece:
            self.pieces.append(piece)
            self.kept += len(piece)

    def text(self) -> str:
        data = b"".join(reversed(self.pieces))
        if not self.dropped:
            return decoded(data)
        start = 0
        while start < min(3, len(data)) and 0x80 <= data[start] < 0xC0:  # not half a character
            start += 1
        return cut_note(self.dropped + start) + decoded(data[start:])


def last_lines(path: Path, count: int) -> list[str]:
    """The file's last `count` lines (without their newlines), decoded leniently."""
    if count <= 0:
        return []
    found: list[str] = []  # newest first
    with path.open("rb") as handle:
        position = handle.seek(0, os.SEEK_END)
        if position == 0:
            return []
        handle.seek(position - 1)
        if handle.read(1) == b"\n":
            position -= 1  # the last line's own newline ends it, it starts none
        line = _Line()
        while position > 0 and len(found) < count:
            step = min(BLOCK, position)
            position -= step
            handle.seek(position)
            block = handle.read(step)
            end = len(block)
            while len(found) < count:
                newline = block.rfind(b"\n", 0, end)
                line.prepend(block[newline + 1 : end])
                if newline < 0:
                    break
                found.append(line.text())
                line, end = _Line(), newline
        if position == 0 and len(found) < count:
            found.append(line.text())  # the file's first line
    return found[::-1]
