"""What a window of load cost the server: the difference of two readings of a model's
cumulative counters (`services.inference.stats`), per request: queue, compute input,
compute infer and compute output.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.inference.stats import ModelStats


@dataclass(frozen=True)
class ServerBreakdown:
    """What the server says a window's requests cost, each an average per request in µs."""

    requests: int
    failed: int
    queue_us: float
    compute_input_us: float
    compute_infer_us: float
    compute_output_us: float

    @property
    def server_us(self) -> float:
        return self.queue_us + self.compute_input_us + self.compute_infer_us + self.compute_output_us


def breakdown(before: ModelStats, after: ModelStats) -> ServerBreakdown:
    def per_request(name: str) -> float:
        count = after.phase(name).count - before.phase(name).count
        return (after.phase(name).ns - before.phase(name).ns) / count / 1000 if count > 0 else 0.0

    requests = after.phase("success").count - before.phase("success").count
    failed = after.phase("fail").count - before.phase("fail").count
    return ServerBreakdown(requests, failed, per_request("queue"), per_request("compute_input"), per_request("compute_infer"), per_request("compute_output"))


@dataclass(frozen=True)
class StatsSample:
    """A stretch of a model's life from two readings of its counters: what the pane charts."""

    rate: float  # successful inference requests per second
    failed: int  # failures in the stretch
    queue_us: float | None  # per request; None when nothing ran
    compute_us: float | None


def stats_sample(before: ModelStats, after: ModelStats, seconds: float) -> StatsSample:
    window = breakdown(before, after)
    ran = window.requests > 0
    compute = window.compute_input_us + window.compute_infer_us + window.compute_output_us
    return StatsSample(window.requests / seconds if seconds > 0 else 0.0, window.failed, window.queue_us if ran else None, compute if ran else None)
