"""What every dialog and form does on open: its keys on the bottom line, its first field focused.

A form that fills 80×24 has no room for the app's footer, so `ctrl+s` was found only
through `?`, and a form opened with its scroll container focused sent what was typed to
the dialog's keys instead of its fields. Mixed into each ModalScreen (before it in the
bases), so the line is made from the dialog's own bindings and cannot drift from them.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType

from widgets.key_hint import DialogFooter

FIELDS = "Input, TextArea, CheckBox, Checkbox, DirectoryTree, OptionList, DataTable, Button"


class DialogKeys:
    """`ENTER` names what enter does in a field ("" when it does nothing of its own)."""

    AUTO_FOCUS: ClassVar[str | None] = FIELDS  # the first field, never the scroll container around them
    ENTER: ClassVar[str] = ""
    BINDINGS: ClassVar[list[BindingType]]

    def on_mount(self) -> None:
        extra = [("enter", self.ENTER)] if self.ENTER else []
        self.mount(DialogFooter(self.own_bindings(), extra))  # type: ignore[attr-defined]

    @classmethod
    def own_bindings(cls) -> list[BindingType]:
        """The dialog's bindings as Textual merges them: a base's, then a subclass's, by key."""
        merged: dict[str, BindingType] = {}
        for klass in reversed(cls.__mro__):
            for binding in klass.__dict__.get("BINDINGS", ()):
                merged[binding.key if isinstance(binding, Binding) else str(binding[0])] = binding
        return list(merged.values())
