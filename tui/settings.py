"""Run-time settings of the app that tests and benchmarks switch to deterministic values.

As in posting's snapshot config: the clock and the polling cadence are settings, so a
snapshot never depends on when or how fast it was taken (tests also stop cursor blink).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AppSettings:
    now: Callable[[], datetime] = field(default=_utc_now)
    # Job polling: fast while any job is starting (the screen must reflect a change
    # within 2 s), slow when everything is running or finished.
    poll_fast_s: float = 1.5
    poll_slow_s: float = 10.0
    poll: bool = True
