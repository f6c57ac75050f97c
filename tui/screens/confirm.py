"""The confirmation dialog behind every destructive key (ctrl+d, stop)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui.keymap import KEYMAP
from tui.screens.dialog import DialogKeys
from widgets.inert import inert


class ConfirmScreen(DialogKeys, ModalScreen[bool]):
    """Answers True only on an explicit yes; `esc`, `n` and "Cancel" all answer False."""

    BINDINGS = KEYMAP["confirm"]

    def __init__(self, question: str, detail: str = "") -> None:
        super().__init__()
        self._question = question
        self._detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box", classes="dialog"):
            yield Static(inert(self._question), id="confirm-question")
            if self._detail:
                yield Static(inert(self._detail), id="confirm-detail")
            with Horizontal(id="confirm-buttons"):
                yield Button("Cancel [n]", id="confirm-no")
                yield Button("Yes [y]", id="confirm-yes", variant="error")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
