"""`?`: every binding of the app, from the same table as KEYS.md, the keys of what the user
is looking at (the panel, the log view, the run form…) first."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.keys import KeyGroup, key_groups
from tui.screens.dialog import DialogKeys


def group_table(group: KeyGroup) -> Table:
    table = Table(title=group.title, title_justify="left", title_style="bold", show_header=False, box=None, padding=(0, 1))
    table.add_column(style="bold", no_wrap=True, min_width=14)
    table.add_column()
    for row in group.rows:
        table.add_row(row.keys, row.description)
    return table


class HelpScreen(DialogKeys, ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, first: str | None = None) -> None:
        super().__init__()
        self._first = first  # the title of the group to show first

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box", classes="dialog"):
            yield Static("Keys  (esc closes; ctrl+p or : opens the command palette)", id="help-title")
            groups = key_groups()
            for group in sorted(groups, key=lambda group: group.title != self._first):  # stable: the rest keep their order
                yield Static(group_table(group), classes="help-group")

    def action_close(self) -> None:
        self.dismiss(None)
