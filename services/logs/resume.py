"""Resuming a log stream after a drop without repeating or losing a line.

The log is append-only, so what the reader has delivered is exactly "the first `count`
lines". A resumed stream replays history before going live; two ways to line it up:

* `SkipCount`: the replay starts at line 0 (no `tail`), skip the first `count` lines.
  Always exact, but replays the whole log.
* `MatchOverlap`: the replay is the last `tail` lines; find where it overlaps the lines
  delivered last (`recent`). Cheap, and exact when the overlap is unambiguous. When it is
  not (no overlap: more than `tail` lines came during the gap; or repetitive lines that
  match at several offsets), it says so and the caller falls back to `SkipCount`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable


class Delivered:
    """How many lines went out, and the last `window` of them."""

    def __init__(self, window: int) -> None:
        self.count = 0
        self.recent: deque[str] = deque(maxlen=window)

    @property
    def window(self) -> int:
        return self.recent.maxlen or 0

    def record(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.count += 1
            self.recent.append(line)


class Undecidable(Exception):
    """The replay cannot be lined up with what was delivered.

    `ambiguous`: it matches at several places (resume with `SkipCount`); otherwise it
    does not overlap at all (ask for a longer tail, or resume with `SkipCount`)."""

    def __init__(self, message: str, *, ambiguous: bool = False) -> None:
        super().__init__(message)
        self.ambiguous = ambiguous


class SkipCount:
    def __init__(self, count: int) -> None:
        self._to_skip = count

    def feed(self, line: str) -> list[str]:
        if self._to_skip:
            self._to_skip -= 1
            return []
        return [line]


class MatchOverlap:
    """Line up a `tail` replay with `recent`, the delivered lines it may overlap.

    Every offset `p` in `recent` where the replay could start stays a candidate while
    the replay keeps matching `recent[p:]`. Once every surviving candidate has matched to
    the end of `recent`, exactly one must survive; the lines past it are new.
    """

    def __init__(self, recent: Iterable[str]) -> None:
        self._recent = list(recent)
        self._pending: list[str] = []
        self._candidates: list[int] | None = None
        self._decided = not self._recent

    def feed(self, line: str) -> list[str]:
        if self._decided:
            return [line]
        self._pending.append(line)
        step = len(self._pending) - 1
        size = len(self._recent)
        if self._candidates is None:
            self._candidates = [p for p, seen in enumerate(self._recent) if seen == line]
        else:
            self._candidates = [p for p in self._candidates if p + step >= size or self._recent[p + step] == line]
        if not self._candidates:
            raise Undecidable("the resumed stream does not overlap the lines already shown")
        if any(p + len(self._pending) < size for p in self._candidates):
            return []  # some candidate is still being checked
        if len(self._candidates) > 1:
            raise Undecidable("the resumed stream overlaps the lines already shown at several places", ambiguous=True)
        self._decided = True
        return self._pending[size - self._candidates[0] :]

    def finish(self) -> list[str]:
        """The replay ended before the overlap was settled."""
        if self._decided:
            return []
        raise Undecidable("the resumed stream ended before it could be lined up")
