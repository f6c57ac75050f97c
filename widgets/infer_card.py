"""One generic inference's answer: a heading (model, latency, what was sent) over its outputs.

Plain rows in, as `tui.render.output_rows` makes them: the pane keeps the last few cards as
the request history, newest first.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from widgets.inert import inert


def outputs_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
    for index, column in enumerate(columns):
        last = index == len(columns) - 1
        table.add_column(column, no_wrap=True, overflow="ellipsis" if last else "fold", ratio=1 if last else None)
    for row in rows:
        table.add_row(*(inert(cell) for cell in row))
    return table


class InferCard(Static):
    DEFAULT_CSS = """
    InferCard {
        height: auto;
        margin-bottom: 1;
        padding: 0 1;
    }
    """

    def __init__(self, heading: str, sent: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        title = Text.assemble(inert(heading, style="bold"), ("  ", ""), inert(sent, style="dim"))
        super().__init__(Group(title, outputs_table(columns, rows)))
