"""Where triton-deck keeps its files, following the XDG base directory spec.

Paths are computed on every call (not at import) so tests and users can point
`XDG_CONFIG_HOME`/`XDG_DATA_HOME`/`XDG_CACHE_HOME` elsewhere at any time.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_DIR_NAME = "triton-deck"


def _xdg(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable, "")
    base = Path(value) if value and Path(value).is_absolute() else Path.home() / fallback
    return base / APP_DIR_NAME


def config_dir() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config")


def data_dir() -> Path:
    return _xdg("XDG_DATA_HOME", ".local/share")


def cache_dir() -> Path:
    return _xdg("XDG_CACHE_HOME", ".cache")


def config_file() -> Path:
    return config_dir() / "config.toml"
