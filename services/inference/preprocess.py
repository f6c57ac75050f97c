"""Turning an image file into the tensor a classifier expects.

`imagenet_normalized` is the preprocessing the demo EfficientNet was trained with (short
side to 256, centre crop 224, RGB, ImageNet mean and standard deviation, NCHW). The
image_client scaling modes (NONE/INCEPTION/VGG) live beside it when classify lands.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from services.errors import UserError

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def imagenet_normalized(path: Path, size: int = 224, resize_to: int = 256) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            image = opened.convert("RGB")
    except (UnidentifiedImageError, OSError) as error:
        raise UserError(f"cannot read image {path}: {error}") from None
    width, height = image.size
    scale = resize_to / min(width, height)
    image = image.resize((round(width * scale), round(height * scale)), Image.BILINEAR)
    left, top = (image.width - size) // 2, (image.height - size) // 2
    image = image.crop((left, top, left + size, top + size))
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    return ((pixels - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1).astype(np.float32)
