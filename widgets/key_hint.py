"""The line at the foot of a dialog that says how to submit and how to cancel.

Made from the dialog's own bindings, so it cannot drift from what the keys do: a dialog
that fills an 80×24 screen has no room for the app's footer, and `ctrl+s` found only
through `?` is not found at all.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Static

KEY_NAMES = {"escape": "esc", "enter": "enter", "ctrl+s": "ctrl+s"}


def hint_text(bindings: Iterable[Binding], extra: Iterable[tuple[str, str]] = ()) -> Text:
    """`ctrl+s Apply · esc Cancel`: each shown binding's first key and description, then `extra`."""
    pairs = [(KEY_NAMES.get(binding.key.split(",")[0], binding.key.split(",")[0]), binding.description) for binding in bindings if binding.show]
    text = Text()
    for index, (key, description) in enumerate([*pairs, *extra]):
        if index:
            text.append(" · ", style="dim")
        text.append(key, style="bold")
        text.append(f" {description}")
    return text


class KeyHint(Static):
    DEFAULT_CSS = """
    KeyHint {
        height: 1;
        margin-top: 1;
        color: $text-muted;
    }
    """

    def __init__(self, bindings: Iterable[Binding], extra: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(hint_text(bindings, extra), classes="key-hint")
