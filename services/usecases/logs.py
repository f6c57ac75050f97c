"""`logs -f --tail N` on every platform, as `tail -n N -f` does it.

Platforms follow a log from its first line (their resume bookkeeping counts from there),
so the tail is taken here: the log so far is read once, keeping only its last N lines,
and the follow then skips as many lines as that read saw. The log is append-only, so no
line is lost or shown twice, and memory holds N lines, never the log.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator

from services.jobs.protocol import LogItem, is_marker


def tail_then_follow(
    read: Callable[[], Iterable[str]], follow: Callable[[], Iterator[LogItem]], tail: int, wanted: Callable[[str], bool] = lambda _line: True
) -> Iterator[LogItem]:
    """The last `tail` lines that are `wanted` (every line read counts toward the skip), then the follow."""
    seen = 0
    last: deque[str] = deque(maxlen=tail)
    for line in read():
        seen += 1
        if tail and wanted(line):
            last.append(line)
    yield from last
    for item in follow():
        if is_marker(item):
            yield item
        elif seen:
            seen -= 1
        else:
            yield item
