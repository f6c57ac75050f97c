"""`perf --collect-metrics`: what the GPUs did during each level, from Triton's `/metrics`.

perf_analyzer's `--collect-metrics` reads the server's Prometheus endpoint while it measures
and reports, per GPU, the average utilisation and power and the peak memory in use. The
same is read here at every window's end, over the level's last three windows. A CPU-only
server has no `nv_gpu_*` series: the figures are then empty, not zero.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

SERIES = {
    "nv_gpu_utilization": "utilization", "nv_gpu_power_usage": "power_w",
    "nv_gpu_memory_used_bytes": "memory_used", "nv_gpu_memory_total_bytes": "memory_total",
}  # fmt: skip
_LINE = re.compile(r'^(nv_gpu_\w+)\{[^}]*gpu_uuid="([^"]+)"[^}]*\}\s+([-+0-9.eE]+|NaN)')

GpuReading = dict[str, dict[str, float]]  # GPU uuid → field → value


@dataclass(frozen=True)
class GpuFigures:
    """One GPU over one level, as perf_analyzer reports it."""

    gpu: str
    utilization_percent: float
    power_w: float
    max_memory_used_bytes: int
    memory_total_bytes: int


def parse_gpu_metrics(text: str) -> GpuReading:
    reading: GpuReading = {}
    for line in text.splitlines():
        found = _LINE.match(line.strip())
        if found and found.group(1) in SERIES and found.group(3) != "NaN":
            reading.setdefault(found.group(2), {})[SERIES[found.group(1)]] = float(found.group(3))
    return reading


def gpu_figures(readings: Sequence[GpuReading]) -> tuple[GpuFigures, ...]:
    """Per GPU seen: average utilisation and power, peak memory, over the readings."""
    gpus = sorted({gpu for reading in readings for gpu in reading})
    figures = []
    for gpu in gpus:
        seen = [reading[gpu] for reading in readings if gpu in reading]

        def average(field: str, values: list[dict[str, float]] = seen) -> float:
            numbers = [value[field] for value in values if field in value]
            return sum(numbers) / len(numbers) if numbers else 0.0

        used = max((value.get("memory_used", 0.0) for value in seen), default=0.0)
        total = max((value.get("memory_total", 0.0) for value in seen), default=0.0)
        figures.append(GpuFigures(gpu, 100.0 * average("utilization"), average("power_w"), int(used), int(total)))
    return tuple(figures)


def csv_cells(figures: Sequence[GpuFigures]) -> tuple[str, str, str, str]:
    """perf_analyzer's four CSV cells: `uuid:value;` per GPU, empty without one."""

    def cell(values: list[tuple[str, float]]) -> str:
        return "".join(f"{gpu}:{value};" for gpu, value in values)

    return (
        cell([(f.gpu, round(f.utilization_percent / 100, 4)) for f in figures]), cell([(f.gpu, round(f.power_w, 2)) for f in figures]),
        cell([(f.gpu, f.max_memory_used_bytes) for f in figures]), cell([(f.gpu, f.memory_total_bytes) for f in figures]),
    )  # fmt: skip
