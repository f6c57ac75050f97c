"""The Inference pane's live statistics for the chosen model, drawn from per-second samples.

Pure rendering (the pane polls and keeps the samples): inference rate, successes and
failures, and per request the time in the queue against the time computing, each a
sparkline over the last minutes with its value now.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from widgets.sparkline import sparkline


def _us(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1000:.1f} ms" if value >= 1000 else f"{value:.0f} µs"


def stats_table(rates: Sequence[float], queue: Sequence[float | None], compute: Sequence[float | None], width: int, successes: int, failures: int) -> Table:
    """Per-second samples, oldest first: requests/s, and µs per request queued and computing."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True, justify="right")
    grid.add_row("rate", sparkline(rates, width), f"{rates[-1]:.1f}/s" if rates else "—")
    grid.add_row("requests", Text.assemble((f"{successes} ok", "green"), "  ", (f"{failures} failed", "red" if failures else "dim")), "")
    top = max([value for value in (*compute, *queue) if value is not None], default=0.0)
    grid.add_row("queue", sparkline(queue, width, top, "yellow"), _us(queue[-1]) if queue else "—")
    grid.add_row("compute", sparkline(compute, width, top, "cyan"), _us(compute[-1]) if compute else "—")
    return grid
