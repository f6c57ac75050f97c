"""The `/` filter line of k9s: an input that narrows the list below it as you type."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class FilterBar(Input):
    """Hidden until opened; `enter` keeps the filter, `esc` clears and closes it."""

    DEFAULT_CSS = """
    FilterBar, FilterBar:focus {
        height: 3;
        border: tall $accent;
    }
    """

    BINDINGS = [Binding("escape", "clear_and_close", "Clear filter", show=False)]

    @dataclass
    class Updated(Message):
        filter_bar: FilterBar
        text: str

        @property
        def control(self) -> FilterBar:
            return self.filter_bar

    @dataclass
    class Closed(Message):
        """The user left the filter line; focus goes back to the list."""

        filter_bar: FilterBar

        @property
        def control(self) -> FilterBar:
            return self.filter_bar

    def __init__(self, *, placeholder: str = "filter…  (enter keeps it, esc clears)", id: str | None = None) -> None:
        super().__init__(placeholder=placeholder, id=id)
        self.display = False

    def open(self) -> None:
        self.display = True
        self.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Updated(self, event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not self.value:
            self.display = False
        self.post_message(self.Closed(self))

    def action_clear_and_close(self) -> None:
        self.value = ""
        self.display = False
        self.post_message(self.Updated(self, ""))
        self.post_message(self.Closed(self))
