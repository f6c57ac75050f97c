"""A photo shrunk to a few terminal cells, as RGB pixels for a half-block renderer.

Each cell shows two pixels stacked (the upper as the glyph `▀`, the lower as its
background), so `rows` cells give `2 * rows` pixel rows and pixels come out square.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from services.errors import UserError
from services.inference.image_budget import opened_image

Pixel = tuple[int, int, int]


def thumbnail_pixels(path: Path, columns: int, rows: int) -> list[list[Pixel]] | None:
    """The image fitted into `columns` x `2 * rows` pixels, aspect kept; None if it is not readable."""
    from PIL import Image

    try:
        with opened_image(path) as opened:
            scale = min(columns / opened.width, 2 * rows / opened.height)
            width, height = max(1, round(opened.width * scale)), max(2, round(opened.height * scale))
            small = np.asarray(opened.convert("RGB").resize((width, height - height % 2), Image.Resampling.BILINEAR))
    except (UserError, OSError):
        return None
    return [[(int(r), int(g), int(b)) for r, g, b in row] for row in small]
