"""The README's command lines, as written: the two it starts with, and the variant for a
system Python that forbids pip installs (PEP 668), run against such a Python when the
machine has one (Debian's /usr/bin/python3 is), in a throwaway home."""

from __future__ import annotations

import os
import re
import subprocess
import sysconfig
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
SYSTEM_PYTHON = Path("/usr/bin/python3")


def code_blocks() -> list[list[str]]:
    text = README.read_text(encoding="utf-8")
    return [block.strip().splitlines() for block in re.findall(r"```\n(.*?)```", text, re.S)]


def externally_managed(python: Path) -> bool:
    if not python.exists():
        return False
    stdlib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"], capture_output=True, text=True, check=True).stdout.strip()
    return (Path(stdlib) / "EXTERNALLY-MANAGED").exists()


def test_the_readme_starts_with_the_app_and_the_test_suite() -> None:
    first = code_blocks()[0]
    assert first == [
        "python3 -m pip install -q uv && python3 -m uv run triton-deck --profile local",
        "python3 -m pip install -q uv && python3 -m uv run pytest",
    ]
    assert sysconfig.get_python_version() >= "3.11"


@pytest.mark.skipif(not externally_managed(SYSTEM_PYTHON), reason="no externally-managed system Python here")
def test_the_pep_668_variant_installs_uv_where_plain_pip_is_refused(tmp_path: Path) -> None:
    variant = next(line for block in code_blocks() for line in block if "--break-system-packages" in line)
    install, _, rest = variant.partition(" && ")
    assert rest == "python3 -m uv run triton-deck --profile local", "the rest is the first command's own"
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "PIP_DISABLE_PIP_VERSION_CHECK": "1", **{k: v for k, v in os.environ.items() if k.startswith(("PIP_INDEX", "PIP_EXTRA", "UV_INDEX"))}}
    python = str(SYSTEM_PYTHON)
    refused = subprocess.run([python, "-m", "pip", "install", "-q", "uv"], capture_output=True, text=True, env=env)
    assert refused.returncode != 0 and "externally-managed-environment" in refused.stderr, "the README's reason for the variant"
    words = install.split()
    assert words[:3] == ["python3", "-m", "pip"]
    installed = subprocess.run([python, *words[1:]], capture_output=True, text=True, env=env, timeout=300)
    assert installed.returncode == 0, installed.stderr
    assert list((tmp_path / ".local").rglob("uv")), "into the user's site, not the system's"
    version = subprocess.run([python, "-m", "uv", "--version"], capture_output=True, text=True, env=env)
    assert version.returncode == 0 and version.stdout.startswith("uv ")
