"""Regenerate the committed screenshots in `screenshots/` from the real app.

The app runs headless on the real local profile (nothing faked), with an empty,
throw-away config so the shots do not depend on whoever runs this.

    python3 -m uv run python scripts/screenshots.py
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from tui.app import make_app

OUT = Path(__file__).resolve().parent.parent / "screenshots"
SHOTS = {
    "main": (),
    "images-dockerfile": ("2",),
    "help": ("question_mark",),
    "profiles": ("p",),
}


async def shoot(name: str, keys: tuple[str, ...], size: tuple[int, int]) -> Path:
    app = make_app("local")
    async with app.run_test(size=size) as pilot:
        await app.workers.wait_for_complete()
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        return Path(app.save_screenshot(filename=f"{name}.svg", path=str(OUT)))


async def main() -> None:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for variable in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
            os.environ[variable] = scratch
        for name, keys in SHOTS.items():
            print(await shoot(name, keys, (100, 30)))


if __name__ == "__main__":
    asyncio.run(main())
