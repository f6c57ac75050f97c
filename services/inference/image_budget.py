"""Opening untrusted pictures without letting one of them take the machine.

A 20 KB PNG can declare 169 megapixels and cost a gigabyte once decoded. The header is
read first and a picture over the pixel budget is refused with one line (the rest of a
batch goes on); decodes run at most `PARALLEL_DECODES` at a time, so memory stays
bounded however many requests `--concurrency` keeps in flight.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from services.errors import UserError

if TYPE_CHECKING:
    from PIL.Image import Image

MAX_PIXELS = 50_000_000  # above any camera's photo; 150 MB as RGB
PARALLEL_DECODES = 2
_decoding = threading.BoundedSemaphore(PARALLEL_DECODES)


@contextmanager
def opened_image(path: Path) -> Iterator[Image]:
    """The picture at `path`, opened (header read, pixels not yet decoded) within the budget.

    Decode inside the `with` block: that is what the semaphore bounds."""
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # PIL's own warning threshold: the budget below decides
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            opened = PILImage.open(path)
    except PILImage.DecompressionBombError:
        raise UserError(f"the picture is larger than the {MAX_PIXELS // 1_000_000} megapixel budget: shrink it first") from None
    except UnidentifiedImageError:
        raise UserError("not an image file PIL can read: pass JPEG, PNG or another picture") from None
    except OSError as error:
        raise UserError(f"cannot read it: {error.strerror or error}") from None
    with opened:
        width, height = opened.size
        if width * height > MAX_PIXELS:
            raise UserError(
                f"{width}x{height} is {width * height / 1e6:.0f} megapixels, over the {MAX_PIXELS // 1_000_000} megapixel budget: shrink it first"
            )
        with _decoding:
            yield opened
