"""The line at the foot of a dialog that says how to submit and how to cancel.

Made from the dialog's own bindings, so it cannot drift from what the keys do: a dialog
that fills an 80×24 screen has no room for the app's footer, and `ctrl+s` found only
through `?` is not found at all.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import Static

KEY_NAMES = {"escape": "esc", "question_mark": "?"}


def hint_text(bindings: Iterable[BindingType], extra: Iterable[tuple[str, str]] = ()) -> Text:
    """`ctrl+s Apply · esc Cancel`: `extra` (what enter does) first, then each shown binding's keys
    and description, submitting keys before the rest as the dialog lists them."""
    pairs = [
        ("/".join(KEY_NAMES.get(key, key) for key in binding.key.split(",")), binding.description)
        for binding in bindings
        if isinstance(binding, Binding) and binding.show and binding.description
    ]
    merged: dict[str, str] = {}  # description → keys: `enter/ctrl+s Send`, not the action twice
    for key, description in [*extra, *pairs]:
        merged[description] = f"{merged[description]}/{key}" if description in merged else key
    text = Text()
    for index, (description, key) in enumerate(merged.items()):
        if index:
            text.append(" · ", style="dim")
        text.append(key, style="bold")
        text.append(f" {description}")
    return text


class DialogFooter(Static):
    """The dialog's keys on the screen's bottom line, where the app's footer would be."""

    DEFAULT_CSS = """
    DialogFooter {
        dock: bottom;
        width: 100%;
        height: 1;
        padding: 0 1;
        background: $panel;
    }
    """

    def __init__(self, bindings: Iterable[BindingType], extra: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(hint_text(bindings, extra))
