"""`?`: every binding of the app, from the same table as KEYS.md."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.keys import KeyGroup, key_groups


def group_table(group: KeyGroup) -> Table:
    table = Table(title=group.title, title_justify="left", title_style="bold", show_header=False, box=None, padding=(0, 1))
    table.add_column(style="bold", no_wrap=True, min_width=14)
    table.add_column()
    for row in group.rows:
        table.add_row(row.keys, row.description)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box", classes="dialog"):
            yield Static("Keys  (esc closes; ctrl+p or : opens the command palette)", id="help-title")
            for group in key_groups():
                yield Static(group_table(group), classes="help-group")

    def action_dismiss(self) -> None:
        self.dismiss(None)
