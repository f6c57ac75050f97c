"""`p`: pick the profile every panel works on (k9s's `:ctx`), add one, check one.

`a` opens the add form (which saves under the config's lock, 0600), then checks the new
profile at once; `c` checks the highlighted profile: its token, object storage, AI Training and
AI Deploy tried for real, each line as it answers, so a wrong key is found here and not
halfway through a deploy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from services import locations
from services.config import Profile
from services.errors import UserError
from services.usecases.profiles import CheckResult, check_profile
from tui.keymap import KEYMAP
from tui.screens.deck_access import DeckAccess
from tui.screens.dialog import DialogKeys
from widgets.inert import inert

if TYPE_CHECKING:
    pass

TITLE = "Profiles  (enter switches · a adds · c checks · esc closes)"


def check_text(name: str, results: list[CheckResult], done: bool) -> Group:
    """The check's lines: a glyph that reads without colour, what was tried, and what it
    said, wrapped under itself."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=1)
    grid.add_column(no_wrap=True, min_width=15)
    grid.add_column(ratio=1)
    for result in results:
        glyph = Text("✓", style="green") if result.ok else Text("✗", style="bold red")
        grid.add_row(glyph, result.what, inert(result.detail, style="" if result.ok else "red"))
    return Group(Text.assemble((f"check of {name}", "bold"), "" if done else "  (checking…)"), grid)


class ProfileScreen(DialogKeys, DeckAccess, ModalScreen[str | None]):
    BINDINGS = KEYMAP["profiles"]

    @dataclass
    class Checked(Message):
        name: str
        results: list[CheckResult]
        done: bool

    def __init__(self, profiles: Mapping[str, Profile], active: str) -> None:
        super().__init__()
        self._profiles = dict(profiles)
        self._active = active

    def compose(self) -> ComposeResult:
        with Vertical(id="profiles-box", classes="dialog"):
            yield Static(TITLE, id="profiles-title")
            yield OptionList(*self._options(), id="profiles-list")
            yield Static(id="profiles-check")

    def _options(self) -> list[Option]:
        options = []
        for name in sorted(self._profiles):
            profile = self._profiles[name]
            marker = "● " if name == self._active else "  "
            options.append(Option(Text.assemble(marker, (name, "bold"), f"  {profile.kind.value} {profile.region}"), id=name))
        return options

    def on_mount(self) -> None:
        self.query_one("#profiles-check", Static).display = False
        self._highlight(self._active)
        self.query_one(OptionList).focus()

    def _highlight(self, name: str) -> None:
        names = sorted(self._profiles)
        self.query_one(OptionList).highlighted = names.index(name) if name in names else 0

    @property
    def _highlighted(self) -> str | None:
        option_list = self.query_one(OptionList)
        index = option_list.highlighted
        return None if index is None else option_list.get_option_at_index(index).id

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)

    # -- add and check --------------------------------------------------------------------------

    def action_add(self) -> None:
        from tui.screens.profile_add import ProfileAddScreen

        def added(profile: Profile | None) -> None:
            if profile is not None:
                self._added(profile)

        self.app.push_screen(ProfileAddScreen(frozenset(self._profiles)), added)

    def _added(self, profile: Profile) -> None:
        self._profiles[profile.name] = profile
        self.deck.profile_added(profile)
        option_list = self.query_one(OptionList)
        option_list.clear_options()
        option_list.add_options(self._options())
        self._highlight(profile.name)
        self.notify(f"profile {profile.name} saved to {locations.config_file()}")
        self.action_check()

    def action_check(self) -> None:
        name = self._highlighted
        if name is None:
            return
        box = self.query_one("#profiles-check", Static)
        box.display = True
        box.update(check_text(name, [], done=False))
        self._check(self._profiles[name])

    @work(thread=True, exclusive=True, group="profile-check", exit_on_error=False)
    def _check(self, profile: Profile) -> None:
        results: list[CheckResult] = []
        try:
            services = self.deck.services_for(profile)
        except UserError as error:
            self.post_message(self.Checked(profile.name, [CheckResult("profile", False, error.message)], True))
            return
        for result in check_profile(services, os.environ):
            results.append(result)
            self.post_message(self.Checked(profile.name, list(results), False))
        self.post_message(self.Checked(profile.name, results, True))

    @on(Checked)
    def _checked(self, message: Checked) -> None:
        self.query_one("#profiles-check", Static).update(check_text(message.name, message.results, message.done))
