"""Every panel's and screen's keys, read from one table (keymap.toml beside this module): the
views take theirs from it (`BINDINGS = KEYMAP["jobs"]`), so one place shows which key does
what where, and a clash within a view is a test failure (tests/test_keys_doc.py) instead of a
key that silently does the other thing.

The app-wide keys stay in tui/app.py (its number keys come from the view registry) and the
reusable widgets keep their own (widgets/ does not import tui/); the help screen and KEYS.md
gather all of them through tui/keys.py.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.binding import Binding, BindingType

TABLE = Path(__file__).with_name("keymap.toml")


def read_keymap(text: str) -> dict[str, list[BindingType]]:
    """Each view's bindings, in the table's order (a footer shows them in that order)."""
    return {view: [Binding(**row) for row in rows] for view, rows in tomllib.loads(text).items()}


KEYMAP = read_keymap(TABLE.read_text(encoding="utf-8"))
