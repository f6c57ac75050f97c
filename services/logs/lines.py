"""How a byte stream becomes log lines: one rule for local jobs, local app replicas and
the AI Training / AI Deploy logs (their WebSocket frames and their plain endpoint alike, so
that the two line up when a dropped stream is filled in).

Programs print what they like: Latin-1 file names, binary progress bars, NUL bytes, a
multibyte character cut across two writes, a megabyte without a newline. The rule:

* a line ends at `\\n` (a `\\r` before it goes too); `\\r` inside a line stays (progress bars
  redraw with it, see `services.logs.format.last_frame`);
* bytes are kept as they came until the line is shown: `decoded` replaces what is not UTF-8
  with U+FFFD, so nothing raises and every valid byte survives;
* a line longer than `MAX_LINE` bytes is cut into pieces of at most that size, at a UTF-8
  character boundary, so memory stays bounded and no character is split (Kubernetes, which
  AI Training runs on, cuts long lines the same way).

Splitting before decoding is what makes split multibyte sequences harmless: `\\n` never
occurs inside a UTF-8 sequence, so a line holds whole characters once it is complete.
"""

from __future__ import annotations

MAX_LINE = 64 * 1024


def decoded(line: bytes) -> str:
    return line.decode("utf-8", errors="replace")


def _boundary(data: bytes, limit: int) -> int:
    """The largest cut at or below `limit` that does not split a UTF-8 sequence (when the
    bytes there are UTF-8 at all; otherwise `limit`)."""
    for cut in range(limit, max(limit - 4, 0), -1):
        if not 0x80 <= data[cut] < 0xC0:
            return cut
    return limit


def lines_of(data: bytes | str) -> list[str]:
    """The lines of a complete piece of log (a WebSocket frame, a plain log read), shown."""
    splitter = LineSplitter()
    raw = data.encode("utf-8", errors="surrogateescape") if isinstance(data, str) else data
    return [decoded(line) for line in splitter.feed(raw) + splitter.flush()]


class LineSplitter:
    """Bytes in, complete lines out (without their newline), with at most `max_line`
    bytes held for a line still open."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._partial = b""

    def feed(self, data: bytes) -> list[bytes]:
        chunks = data.split(b"\n")
        chunks[0] = self._partial + chunks[0]
        open_line = chunks.pop()
        lines: list[bytes] = []
        for chunk in chunks:
            if len(chunk) <= self.max_line and not chunk.endswith(b"\r"):
                lines.append(chunk)
            else:
                lines.extend(self._pieces(chunk.removesuffix(b"\r")))
        while len(open_line) > self.max_line:  # a long open line: its full pieces go now
            cut = _boundary(open_line, self.max_line)
            lines.append(open_line[:cut])
            open_line = open_line[cut:]
        self._partial = open_line
        return lines

    def flush(self) -> list[bytes]:
        """What is left when the stream ends: the last line, which had no newline."""
        rest, self._partial = self._partial, b""
        return self._pieces(rest.removesuffix(b"\r")) if rest else []

    def _pieces(self, line: bytes) -> list[bytes]:
        pieces: list[bytes] = []
        while len(line) > self.max_line:
            cut = _boundary(line, self.max_line)
            pieces.append(line[:cut])
            line = line[cut:]
        pieces.append(line)
        return pieces
