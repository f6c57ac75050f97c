"""`p`: pick the profile every panel works on (k9s's `:ctx`)."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from services.config import Profile


class ProfileScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, profiles: Mapping[str, Profile], active: str) -> None:
        super().__init__()
        self._profiles = profiles
        self._active = active

    def compose(self) -> ComposeResult:
        options = []
        for name in sorted(self._profiles):
            profile = self._profiles[name]
            marker = "● " if name == self._active else "  "
            label = Text.assemble(marker, (name, "bold"), f"  {profile.kind.value} {profile.region}")
            options.append(Option(label, id=name))
        with Vertical(id="profiles-box", classes="dialog"):
            yield Static("Switch profile  (enter picks, esc cancels)", id="profiles-title")
            yield OptionList(*options, id="profiles-list")

    def on_mount(self) -> None:
        names = sorted(self._profiles)
        option_list = self.query_one(OptionList)
        option_list.highlighted = names.index(self._active) if self._active in names else 0
        option_list.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
