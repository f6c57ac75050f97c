"""An image drawn with half blocks: the upper pixel as the glyph colour, the lower as background.

It takes plain RGB rows (whoever loads the picture owns the decoding), so it renders the
same on every terminal with truecolor and degrades to Rich's nearest colours elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.color import Color
from rich.style import Style
from rich.text import Text

RGB = tuple[int, int, int]


def half_block_text(pixels: Sequence[Sequence[RGB]]) -> Text:
    text = Text(no_wrap=True, overflow="crop")
    for top_index in range(0, len(pixels) - 1, 2):
        if top_index:
            text.append("\n")
        for upper, lower in zip(pixels[top_index], pixels[top_index + 1], strict=True):
            text.append("▀", Style(color=Color.from_rgb(*upper), bgcolor=Color.from_rgb(*lower)))
    return text
