"""`a` on the Images panel: add a registry, as `triton-deck registry add` does.

Credentials are a username and a command that prints the password (`pass show …`): the
password itself is never typed here, so it never sits in the config file or on screen.
On an AI Training profile the registry is attached to the project too, so jobs can pull.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Input, Static

from services.config import RegistryEntry
from services.errors import FieldError, UserError
from services.usecases.registries import add_registry, registry_entry
from tui.screens.deck_access import DeckAccess
from tui.screens.run_form import RunForm

if TYPE_CHECKING:
    pass

FIELDS = (("address", "address"), ("username", "username"), ("password_command", "password cmd"))
HINTS = {
    "address": "(empty) host[:port], e.g. 127.0.0.1:5000",
    "username": "(empty) with a password command, or neither",
    "password_command": "(empty) e.g. pass show registry/ovh",
}


def registry_add_command(entry: RegistryEntry) -> str:
    words = ["triton-deck", "registry", "add", entry.address]
    if entry.username and entry.password_command:
        words += ["-u", entry.username, "--password-command", entry.password_command]
    return shlex.join(words)


class RegistryAddScreen(DeckAccess, RunForm[RegistryEntry]):
    """Adds the registry, then dismisses with what was done (`RegistryAdded`); or with None."""

    BINDINGS = [Binding("ctrl+s", "run", "Add")]
    prefix = "registry"
    preview_hint = "(fix the fields to see the triton-deck command)"
    field_keys = tuple(key for key, _label in FIELDS)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="run-box", classes="dialog"):
            yield Static("Add a registry", id="run-title")
            for key, label in FIELDS:
                yield from self.compose_field(label, Input("", id=f"registry-{key}", placeholder=HINTS[key]))
            yield from self.compose_end("Add")

    def on_mount(self) -> None:
        self.query_one("#registry-address", Input).focus()
        self._update()

    def build(self, values: dict[str, str], unsecure_http: bool) -> RegistryEntry:
        return registry_entry(values["address"], values["username"], values["password_command"])

    def command(self, spec: RegistryEntry) -> str:
        return registry_add_command(spec)

    def action_run(self) -> None:
        """Added (and attached) before the form closes: a password command that fails, or an
        API that refuses, is said here with what was typed still in place."""
        entry = self.checked()
        if entry is not None:
            self._add(entry)

    @work(thread=True, exclusive=True, group="registry-add", exit_on_error=False)
    def _add(self, entry: RegistryEntry) -> None:
        try:
            added = add_registry(self.services, entry)
        except FieldError as error:
            self.app.call_from_thread(self.refuse, error)
        except UserError as error:
            self.app.call_from_thread(self.refuse, FieldError("address", error.message))
        else:
            self.app.call_from_thread(self.dismiss, added)
