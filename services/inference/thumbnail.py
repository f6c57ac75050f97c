"""A photo shrunk to a few terminal cells, as RGB pixels for a half-block renderer.

Each cell shows two pixels stacked (the upper as the glyph `▀`, the lower as its
background), so `rows` cells give `2 * rows` pixel rows and pixels come out square.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

Pixel = tuple[int, int, int]


def thumbnail_pixels(path: Path, columns: int, rows: int) -> list[list[Pixel]] | None:
    """The image fitted into `columns` x `2 * rows` pixels, aspect kept; None if it is not readable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            image = opened.convert("RGB")
    except (UnidentifiedImageError, OSError):
        return None
    scale = min(columns / image.width, 2 * rows / image.height)
    width, height = max(1, round(image.width * scale)), max(2, round(image.height * scale))
    small = np.asarray(image.resize((width, height - height % 2), Image.BILINEAR))
    return [[(int(r), int(g), int(b)) for r, g, b in row] for row in small]
