"""A push drawn as one bar per layer and a total, as `docker push` does, from plain rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from widgets.inert import inert

BAR_WIDTH = 30


@dataclass(frozen=True)
class LayerRow:
    layer_id: str
    status: str
    fraction: float
    detail: str = ""  # bytes, when the engine says


def bar(fraction: float, done: bool) -> Text:
    filled = round(max(0.0, min(1.0, fraction)) * BAR_WIDTH)
    return Text.assemble(("━" * filled, "green" if done else "cyan"), ("━" * (BAR_WIDTH - filled), "grey30"))


class LayerBars(Static):
    def show(self, rows: Sequence[LayerRow], total: LayerRow | None) -> None:
        table = Table.grid(padding=(0, 2))
        table.add_column(no_wrap=True, style="bold")
        table.add_column(no_wrap=True, min_width=20)
        table.add_column(no_wrap=True, width=BAR_WIDTH)
        table.add_column(no_wrap=True, style="dim")
        for row in rows:
            done = row.fraction >= 1.0
            table.add_row(inert(row.layer_id), inert(row.status, style="green" if done else ""), bar(row.fraction, done), inert(row.detail))
        if total is not None:
            table.add_row(Text(total.layer_id, style="bold"), Text(total.status, style="bold"), bar(total.fraction, total.fraction >= 1.0), total.detail)
        self.update(table)
