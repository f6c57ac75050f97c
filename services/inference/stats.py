"""Triton's `/v2/models/{m}/stats`: one reading of a model's cumulative counters, read leniently.

All values are cumulative since the server started (`ovh-ai-deploy.md` §7), so what a
window cost is the difference of two readings (see `services.perf.stats`). Keys a release
adds (`cache_miss`, say) are ignored; keys it lacks read as zero.
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
