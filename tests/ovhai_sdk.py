"""The official `ovhai` SDK (PyPI, 0.1a4: generated from the regional /v1 API), for the tests only.

It pins httpx<0.28, which the product has outgrown, so it is not a dependency: its models
(attrs classes) are installed without dependencies into a cache directory once and
imported from there. The fake AI Training API keeps a job spec as these models read it,
and the contract tests check every body the client sends against them.
"""

from __future__ import annotations

import fcntl
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

SDK = "ovhai==0.1a4"
TARGET = Path(tempfile.gettempdir()) / "triton-deck-tests" / "ovhai-0.1a4"


def _uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    if not found:
        raise RuntimeError("uv is needed to fetch the ovhai SDK for the tests: run them with `python3 -m uv run pytest`")
    return found


def models() -> ModuleType:
    """`ovhai.models`, installed on first use (a file lock keeps parallel runs from racing)."""
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    with (TARGET.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (TARGET / "ovhai" / "models").is_dir():
            staging = TARGET.with_name(TARGET.name + ".part")
            shutil.rmtree(staging, ignore_errors=True)
            subprocess.run([_uv(), "pip", "install", "-q", "--no-deps", "--target", str(staging), SDK], check=True, timeout=300)
            staging.rename(TARGET)
    if str(TARGET) not in sys.path:
        sys.path.append(str(TARGET))
    return importlib.import_module("ovhai.models")


def _is_map(model: Any) -> bool:
    """A free-form map (labels, arguments): all its keys live in `additional_properties`."""
    return [field.name for field in type(model).__attrs_attrs__] == ["additional_properties"]


def unknown_fields(model: Any, where: str = "") -> list[str]:
    """Keys the SDK did not recognise anywhere in a parsed model (`additional_properties`
    of a model that declares fields; a map's keys are its content)."""
    found = [] if _is_map(model) else [f"{where}{key}" for key in getattr(model, "additional_properties", {})]
    for name in getattr(type(model), "__attrs_attrs__", ()):
        if name.name == "additional_properties":
            continue
        value = getattr(model, name.name)
        for index, item in enumerate(value if isinstance(value, list) else [value]):
            if hasattr(type(item), "__attrs_attrs__"):
                found += unknown_fields(item, f"{where}{name.name}[{index}]." if isinstance(value, list) else f"{where}{name.name}.")
    return found


def as_the_sdk_reads_it(model_name: str, document: dict[str, Any]) -> dict[str, Any]:
    """`document` as the SDK's model keeps it: fields it does not know are gone, as they would be
    for a server generated from the same schema."""
    model = getattr(models(), model_name).from_dict(document)
    _drop_unknown(model)
    kept: dict[str, Any] = model.to_dict()
    return kept


def _drop_unknown(model: Any) -> None:
    if hasattr(model, "additional_properties") and not _is_map(model):
        model.additional_properties.clear()
    for name in getattr(type(model), "__attrs_attrs__", ()):
        value = getattr(model, name.name)
        for item in value if isinstance(value, list) else [value]:
            if hasattr(type(item), "__attrs_attrs__"):
                _drop_unknown(item)
