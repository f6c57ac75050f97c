"""The Apps detail's live chart: available replicas and the scaling signal against its target.

Pure rendering from samples the screen collects (no I/O here): one sparkline row per
series over the last minutes, newest on the right, the signal's cells red above the
target, and a legend with the current values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.text import Text

from widgets.sparkline import cell, sparkline


@dataclass(frozen=True)
class ScalingSample:
    available: int
    desired: int
    signal: float | None


def scaling_chart(samples: Sequence[ScalingSample], width: int, signal_name: str, target: float | None, max_replicas: int) -> RenderableType:
    """Two rows (replicas, signal) of at most `width` cells each, plus their legends."""
    shown = list(samples)[-max(1, width) :]
    replicas = Text()
    for sample in shown:
        replicas.append(cell(sample.available, max_replicas), style="green" if sample.available >= sample.desired else "yellow")
    signals = [sample.signal for sample in shown]
    measured = [value for value in signals if value is not None]
    top = max([*measured, (target or 0) * 1.5, 1.0])
    signal = sparkline(signals, len(signals), top, lambda value: "red" if target is not None and value > target else "cyan")
    last = shown[-1] if shown else None
    replica_legend = f"replicas {last.available}/{last.desired} (max {max_replicas})" if last else "replicas —"
    now = next((value for value in reversed(signals) if value is not None), None)
    signal_legend = f"{signal_name} {'—' if now is None else f'{now:.1f}'}" + (f" (target {target:g})" if target is not None else "")
    return Group(
        Text.assemble(replicas, "  ", (replica_legend, "bold")),
        Text.assemble(signal, "  ", (signal_legend, "bold")),
    )
