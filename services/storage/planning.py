"""Which local file goes to which object key: ovhai's upload rule.

`ovhai bucket object upload my-models@GRA model_repository/ --remove-prefix model_repository/`
walks each path and names every file by its path as typed, minus the remove-prefix,
plus the add-prefix. Symlinks that lead out of the tree are refused: uploading what
happens to be linked from elsewhere is how secrets end up in buckets. Python's bytecode
caches (`__pycache__/`, which Triton's python backend writes next to model.py) are left
out: they are not the model, and this one rule holds for the CLI, the upload dialog,
the deploy pipeline and a job's RW volumes alike.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from services.errors import UserError
from services.storage.protocol import UploadItem

SKIPPED_DIRECTORIES = frozenset({"__pycache__"})


def object_key(typed_path: str, remove_prefix: str, add_prefix: str) -> str:
    relative = typed_path.replace(os.sep, "/")
    while relative.startswith("./"):
        relative = relative[2:]
    relative = relative.lstrip("/")
    if remove_prefix and relative.startswith(remove_prefix):
        relative = relative[len(remove_prefix) :]
    return add_prefix + relative


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True


def _walk(typed: str) -> list[tuple[str, Path]]:
    """(typed relative name, real path) of every regular file under `typed`, sorted."""
    top = Path(typed)
    if top.is_symlink() and top.is_file():
        return [(typed, top)]
    if top.is_file():
        return [(typed, top)]
    if not top.is_dir():
        raise UserError(f"{typed}: no such file or directory; check the path to upload")
    root = top.resolve()
    found: list[tuple[str, Path]] = []
    for directory, dirnames, filenames in os.walk(top, followlinks=False):
        dirnames[:] = sorted(name for name in dirnames if name not in SKIPPED_DIRECTORIES)
        for name in [*dirnames]:
            linked = Path(directory, name)
            if linked.is_symlink():
                if not _inside(linked, root):
                    raise UserError(f"{linked} is a symlink leading out of {typed}: remove it or upload its target directly")
                dirnames.remove(name)  # its content is already in the tree
        for name in sorted(filenames):
            path = Path(directory, name)
            if path.is_symlink() and not _inside(path, root):
                raise UserError(f"{path} is a symlink leading out of {typed}: remove it or upload its target directly")
            if path.is_file():
                found.append((os.path.join(directory, name), path))
    return found


def plan_upload(paths: Sequence[str], remove_prefix: str = "", add_prefix: str = "") -> list[UploadItem]:
    """Every file to upload with its key and size, in key order; duplicate keys are an error."""
    items: dict[str, UploadItem] = {}
    for typed in paths:
        for name, path in _walk(typed):
            key = object_key(name, remove_prefix, add_prefix)
            if not key or key.endswith("/"):
                raise UserError(f"{name} would get the empty object key '{key}': shorten --remove-prefix")
            if key in items:
                raise UserError(f"{name} and {items[key].path} would both be uploaded as '{key}': upload them separately")
            items[key] = UploadItem(path=path, key=key, size=path.stat().st_size)
    return [items[key] for key in sorted(items)]
