"""Hostile pictures: a decompression bomb is refused from its header, one line per image, in bounded memory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from services.errors import UserError
from services.inference.image_client import ImageModel, preprocess
from services.inference.protocol import Scaling
from services.inference.thumbnail import thumbnail_pixels

ROOT = Path(__file__).resolve().parent.parent
COFFEE = ROOT / "demo" / "samples" / "coffee.png"
MODEL = ImageModel("m", 0, "input", "output", 3, 224, 224, "FORMAT_NCHW", "FP32")


def bomb(path: Path, side: int) -> Path:
    """A one-bit PNG of `side`² pixels: a few KB on disk, gigabytes once decoded as RGB floats."""
    from PIL import Image

    Image.new("1", (side, side)).save(path)
    return path


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("bombs")
    return bomb(root / "169mp.png", 13_000), bomb(root / "225mp.png", 15_000)


def test_a_bomb_is_refused_with_one_line_and_the_batch_goes_on(bombs: tuple[Path, Path]) -> None:
    assert all(path.stat().st_size < 100_000 for path in bombs)
    with pytest.raises(UserError, match="13000x13000 is 169 megapixels, over the 50 megapixel budget: shrink it first"):
        preprocess(bombs[0], MODEL, Scaling.INCEPTION)
    with pytest.raises(UserError, match="larger than the 50 megapixel budget"):
        preprocess(bombs[1], MODEL, Scaling.INCEPTION)
    assert preprocess(COFFEE, MODEL, Scaling.INCEPTION).shape == (3, 224, 224)
    assert thumbnail_pixels(bombs[0], 12, 6) is None and thumbnail_pixels(COFFEE, 12, 6) is not None


def test_three_bombs_at_once_stay_in_bounded_memory(bombs: tuple[Path, Path]) -> None:
    """Peak RSS of a process classifying three bombs in parallel (a real process: ru_maxrss is per process)."""
    script = f"""
import resource, sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from services.errors import UserError
from services.inference.image_client import ImageModel, preprocess
from services.inference.protocol import Scaling
model = ImageModel("m", 0, "input", "output", 3, 224, 224, "FORMAT_NCHW", "FP32")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
def one(path):
    try:
        preprocess(Path(path), model, Scaling.INCEPTION)
    except UserError as error:
        return error.message
with ThreadPoolExecutor(3) as pool:
    answers = list(pool.map(one, [{str(bombs[0])!r}] * 3))
assert all("budget" in answer for answer in answers), answers
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""
    grown_mb = int(subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120).stdout)
    assert grown_mb < 64, f"peak RSS grew by {grown_mb} MB"
