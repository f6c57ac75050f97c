"""The Inference pane's live statistics for the chosen model, drawn from per-second samples.

Pure rendering (the pane polls and keeps the samples): inference rate, successes and
failures, and per request the time in the queue against the time computing, each a
sparkline over the last minutes with its value now; then, for an app whose replicas answer
by themselves, each replica's rate on one line, so an uneven balance shows at a glance.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from services.text import visible
from widgets.sparkline import sparkline


def _us(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1000:.1f} ms" if value >= 1000 else f"{value:.0f} µs"


def stats_table(
    rates: Sequence[float], queue: Sequence[float | None], compute: Sequence[float | None], width: int, successes: int, failures: int,
    replicas: Sequence[tuple[str, Sequence[float]]] = (), compact: bool = False,
) -> Table:  # fmt: skip
    """Per-second samples, oldest first: requests/s, and µs per request queued and computing;
    `replicas`: (name, requests/s samples) of each replica, a sparkline each, or with
    `compact` (a short terminal) their rates now on one line."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True, justify="right")
    grid.add_row("rate", sparkline(rates, width), f"{rates[-1]:.1f}/s" if rates else "—")
    grid.add_row("requests", Text.assemble((f"{successes} ok", "green"), "  ", (f"{failures} failed", "red" if failures else "dim")), "")
    top = max([value for value in (*compute, *queue) if value is not None], default=0.0)
    grid.add_row("queue", sparkline(queue, width, top, "yellow"), _us(queue[-1]) if queue else "—")
    grid.add_row("compute", sparkline(compute, width, top, "cyan"), _us(compute[-1]) if compute else "—")
    if compact and replicas:
        now = Text("  ").join(Text.assemble((visible(name), "dim"), f" {samples[-1]:.1f}/s" if samples else " —") for name, samples in replicas)
        grid.add_row("replicas", now, "")
        return grid
    busiest = max([value for _name, samples in replicas for value in samples], default=0.0)
    for name, samples in replicas:
        grid.add_row(Text(visible(name), style="dim"), sparkline(samples, width, busiest or None, "green"), f"{samples[-1]:.1f}/s" if samples else "—")
    return grid
