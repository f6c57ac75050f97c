"""A one-line question with a default answer (where to download, and the like)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from tui.screens.dialog import DialogKeys
from widgets.inert import inert


class PromptScreen(DialogKeys, ModalScreen[str | None]):
    ENTER = "OK"
    """`enter` answers with the text, `esc` answers None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, default: str = "") -> None:
        super().__init__()
        self._question = question
        self._default = default

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box", classes="dialog"):
            yield Static(inert(self._question), id="prompt-question")
            yield Input(self._default, id="prompt-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
