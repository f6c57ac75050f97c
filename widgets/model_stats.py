"""The Inference pane's live statistics for the chosen model, drawn from per-second samples.

Pure rendering (the pane polls and keeps the samples): inference rate, successes and
failures, and per request the time in the queue against the time computing, each a
sparkline over the last minutes with its value now.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from services.perf.stats import StatsSample
from widgets.sparkline import sparkline


def _us(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1000:.1f} ms" if value >= 1000 else f"{value:.0f} µs"


def stats_table(samples: Sequence[StatsSample], width: int, successes: int, failures: int) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True, justify="right")
    last = samples[-1] if samples else None
    grid.add_row("rate", sparkline([s.rate for s in samples], width), f"{last.rate:.1f}/s" if last else "—")
    grid.add_row("requests", Text.assemble((f"{successes} ok", "green"), "  ", (f"{failures} failed", "red" if failures else "dim")), "")
    compute = [s.compute_us for s in samples]
    queue = [s.queue_us for s in samples]
    top = max([value for value in (*compute, *queue) if value is not None], default=0.0)
    grid.add_row("queue", sparkline(queue, width, top, "yellow"), _us(last.queue_us) if last else "—")
    grid.add_row("compute", sparkline(compute, width, top, "cyan"), _us(last.compute_us) if last else "—")
    return grid
