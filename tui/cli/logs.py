"""`job logs` and `app logs`: a log printed, or followed (`-f`), with `--tail N` either way.

A resumed stream is noted on stderr only, so stdout stays the log's own lines; ctrl+c
ends a follow quietly. With a filter (`--from`), only wanted lines count toward the tail,
and the log is streamed through it, never held whole.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from services.cancel import CancelToken
from services.errors import UserError
from services.jobs.protocol import LogItem, is_marker
from services.usecases.logs import tail_then_follow
from tui.cli.output import warn

if TYPE_CHECKING:
    from tui.cli.context import Context


def print_log(
    ctx: Context, read: Callable[[int | None], Iterable[str]], follow: Callable[[CancelToken], Iterator[LogItem]], wanted: Callable[[str], bool] | None = None
) -> int:
    """`read(tail)` gives the log so far (its last `tail` lines, the platform reading only
    those where it can); `follow(cancel)` streams it from the start."""
    tail = ctx.args.tail
    if tail is not None and tail < 0:
        raise UserError(f"--tail {tail}: give a number of lines, 0 or more")
    keep = wanted or (lambda _line: True)
    if ctx.args.follow:
        cancel = CancelToken()
        items = follow(cancel) if tail is None else tail_then_follow(lambda: read(None), lambda: follow(cancel), tail, keep)
        try:
            for item in items:
                if is_marker(item):
                    warn(f"triton-deck: log stream {item.value}")
                elif keep(item):
                    ctx.print(item)
                    ctx.out.flush()
        except KeyboardInterrupt:
            cancel.cancel()
        return 0
    if tail == 0:  # as `tail -n 0`
        return 0
    lines: Iterable[str]
    if wanted is None:
        lines = read(tail)
    else:
        picked = (line for line in read(None) if wanted(line))
        lines = deque(picked, maxlen=tail) if tail else picked
    for line in lines:
        ctx.print(line)
    return 0
