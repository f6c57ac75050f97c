"""The installed tool works outside a checkout: build the wheel, install it into a fresh virtual
environment, run `triton-deck --help` and `triton-deck demo` from an unrelated directory."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def uv() -> str:
    """The uv that runs this suite (`uv run` exports it as UV), or the one on PATH."""
    found = os.environ.get("UV") or shutil.which("uv")
    if not found:
        pytest.fail("uv is needed to build and install the wheel: run the suite with `python3 -m uv run pytest`")
    return found


def test_the_wheel_installs_one_top_level_package_and_runs_the_demo_anywhere(tmp_path: Path) -> None:
    dist, venv, elsewhere = tmp_path / "dist", tmp_path / "venv", tmp_path / "elsewhere"
    subprocess.run([uv(), "build", "--wheel", "-q", "-o", str(dist)], cwd=ROOT, check=True, timeout=300)
    [wheel] = dist.glob("triton_deck-*.whl")
    subprocess.run([uv(), "venv", "-q", "-p", "3.11", str(venv)], check=True, timeout=120)
    subprocess.run([uv(), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), str(wheel)], check=True, timeout=900)
    site = next(venv.glob("lib/python*/site-packages"))
    assert (site / "triton_deck" / "services").is_dir() and (site / "triton_deck" / "demo" / "model_repository").is_dir()
    assert not any((site / name).exists() for name in ("services", "tui", "widgets", "demo")), "no generic top-level names"
    elsewhere.mkdir()
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path / "home")}
    env |= {name: str(tmp_path / name.lower()) for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")}
    tool = str(venv / "bin" / "triton-deck")
    helped = subprocess.run([tool, "--help"], cwd=elsewhere, env=env, capture_output=True, text=True, check=True, timeout=120)
    assert helped.stdout.startswith("usage: triton-deck")
    demo = subprocess.run([tool, "demo"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)
    assert demo.returncode == 0, demo.stderr
    assert f"Image '{site / 'triton_deck' / 'demo' / 'samples' / 'coffee.png'}':\n    10.768552 (967) = espresso" in demo.stdout
    assert "deleted job" in demo.stderr, "the demo cleans up after itself"
