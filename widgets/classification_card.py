"""One image's answer: its thumbnail beside the top-k as bars, scores, labels and indexes.

Plain data in (`ClassRow`s, RGB rows, an error string), nothing about how it was computed:
the pane turns the service's typed results into this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from services.text import visible
from widgets.inert import inert
from widgets.thumbnail import RGB, half_block_text

BAR_WIDTH = 12


@dataclass(frozen=True)
class ClassRow:
    score: float
    score_text: str  # as the server formatted it, as image_client prints it
    index: int
    label: str | None


def bar_text(fill: float, colour: str) -> Text:
    """A bar of `BAR_WIDTH` cells in eighths, on a dim track so short bars still read as bars."""
    eighths = round(max(0.0, min(1.0, fill)) * BAR_WIDTH * 8)
    full, part = divmod(eighths, 8)
    bar = "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")
    return Text.assemble((bar, colour), ("·" * (BAR_WIDTH - len(bar)), "dim"))


def classes_table(rows: Sequence[ClassRow]) -> Table:
    """Bars are relative to the best score (logits can be any size), so the top class fills its bar."""
    table = Table.grid(padding=(0, 1))
    table.add_column(min_width=BAR_WIDTH, no_wrap=True)
    table.add_column(justify="right", min_width=max((len(row.score_text) for row in rows), default=1), no_wrap=True)
    table.add_column(justify="right", style="dim", no_wrap=True)
    table.add_column(no_wrap=True, overflow="ellipsis")
    best = max((row.score for row in rows), default=0.0)
    for rank, row in enumerate(rows):
        fill = max(row.score, 0.0) / best if best > 0 else 0.0
        colour = "green" if rank == 0 else "cyan"
        label = inert(row.label if row.label is not None else "(no labels)", style="bold" if rank == 0 else "")
        table.add_row(bar_text(fill, colour), row.score_text, f"({row.index})", label)
    return table


class ClassificationCard(Horizontal):
    DEFAULT_CSS = """
    ClassificationCard {
        height: auto;
        margin-bottom: 1;
        padding: 0 1;
    }

    ClassificationCard .thumbnail {
        width: 21;
        height: auto;
    }

    ClassificationCard .answer {
        width: 1fr;
        height: auto;
    }
    """

    def __init__(
        self,
        title: str,
        rows: Sequence[ClassRow],
        pixels: Sequence[Sequence[RGB]] | None = None,
        latency_ms: float | None = None,
        error: str | None = None,
    ) -> None:
        super().__init__(classes="-failed" if error else "")
        self._title = title
        self._rows = rows
        self._pixels = pixels
        self._latency_ms = latency_ms
        self._error = error

    def compose(self) -> ComposeResult:
        if self._pixels:
            yield Static(half_block_text(self._pixels), classes="thumbnail")
        heading = Text.assemble((visible(self._title), "bold"))
        if self._latency_ms is not None:
            heading.append(f"  {self._latency_ms:.0f} ms", style="dim")
        body = inert(self._error, style="red") if self._error else classes_table(self._rows)
        yield Static(Group(heading, body), classes="answer")
