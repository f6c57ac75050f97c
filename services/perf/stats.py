"""Triton's `/v2/models/{m}/stats`: cumulative counters, read leniently, and their deltas.

All values are cumulative since the server started (`ovh-ai-deploy.md` §7), so what a
window cost is the difference of two readings, per request: queue, compute input, compute
infer and compute output. Keys a release adds (`cache_miss`, say) are ignored; keys it
lacks read as zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PHASES = ("success", "fail", "queue", "compute_input", "compute_infer", "compute_output")


@dataclass(frozen=True)
class Counter:
    count: int = 0
    ns: int = 0


@dataclass(frozen=True)
class ModelStats:
    """One model's (all versions') counters at one instant."""

    inference_count: int = 0
    execution_count: int = 0
    phases: tuple[tuple[str, Counter], ...] = ()

    def phase(self, name: str) -> Counter:
        return dict(self.phases).get(name, Counter())


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def parse_model_stats(document: Any, model: str) -> ModelStats:
    """The sum over the model's versions in a stats answer (HTTP JSON, or gRPC as JSON)."""
    rows = document.get("model_stats", []) if isinstance(document, dict) else []
    totals = {name: [0, 0] for name in PHASES}
    inferences = executions = 0
    for row in rows:
        if not isinstance(row, dict) or row.get("name") != model:
            continue
        inferences += _int(row.get("inference_count"))
        executions += _int(row.get("execution_count"))
        stats = row.get("inference_stats") or {}
        for name in PHASES:
            phase = stats.get(name) or {}
            totals[name][0] += _int(phase.get("count"))
            totals[name][1] += _int(phase.get("ns"))
    return ModelStats(inferences, executions, tuple((name, Counter(count, ns)) for name, (count, ns) in totals.items()))


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
