"""perf_analyzer's stability rule, on its own so it can be checked on recorded series.

A level is measured window after window until the last three agree: their throughput and
their chosen latency (the average, or `--percentile`) each within `percentage` % of the
three's mean. After `max_trials` windows without that, the level is reported unstable
with what the last three measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WINDOWS = 3


@dataclass(frozen=True)
class Window:
    """One measurement window: requests completed per second, and its latency figures in µs."""

    throughput: float
    latency_us: float  # the latency that decides stability
    requests: int
    failed: int = 0


def _within(values: Sequence[float], percentage: float) -> bool:
    mean = sum(values) / len(values)
    if mean == 0:
        return all(value == 0 for value in values)
    return all(abs(value - mean) <= mean * percentage / 100 for value in values)


def is_stable(windows: Sequence[Window], percentage: float) -> bool:
    last = list(windows)[-WINDOWS:]
    if len(last) < WINDOWS or any(window.requests == 0 for window in last):
        return False
    return _within([w.throughput for w in last], percentage) and _within([w.latency_us for w in last], percentage)
