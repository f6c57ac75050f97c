"""A checkbox whose state is in its glyph: `X` when checked, a blank when not.

Textual's draws the same `X` both ways and tells them apart by colour alone, so under
NO_COLOR (or a theme where the two colours meet) a checked and an unchecked box look alike.
"""

from __future__ import annotations

from textual.widgets import Checkbox


class CheckBox(Checkbox):
    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]  # noqa: N802 (the name Textual's ToggleButton reads)
        return "X" if self.value else " "
