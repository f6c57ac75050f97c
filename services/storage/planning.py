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


def typed_form(path: str) -> str:
    """A path as the rule compares it: `~` expanded, `./` and the leading `/` dropped.

    A remove-prefix goes through the same form as the paths, so `/home/me/repo/` removes
    itself from `/home/me/repo/m/config.pbtxt` (the key is `m/config.pbtxt`, not
    `home/me/repo/m/…`), and `~/repo`, `./repo` and `repo` all agree.
    """
    relative = os.path.expanduser(path).replace(os.sep, "/")
    while relative.startswith("./"):
        relative = relative[2:]
    return relative.lstrip("/")


def object_key(typed_path: str, remove_prefix: str, add_prefix: str) -> str:
    relative = typed_form(typed_path)
    remove = typed_form(remove_prefix) if remove_prefix else ""
    if remove and relative.startswith(remove):
        relative = relative[len(remove) :].lstrip("/")
    return add_prefix + relative


def _removes(typed_path: str, remove_prefix: str) -> bool:
    return typed_form(typed_path).startswith(typed_form(remove_prefix))


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True


def _walk(typed: str) -> list[tuple[str, Path]]:
    """(typed relative name, real path) of every regular file under `typed`, sorted."""
    top = Path(typed).expanduser()
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
    """Every file to upload with its key and size, in key order; duplicate keys are an error.

    A remove-prefix that matches none of the files is refused before anything is sent:
    it is a typo, and uploading anyway stores the whole path in every key.
    """
    items: dict[str, UploadItem] = {}
    for typed in paths:
        walked = _walk(typed)
        if remove_prefix and walked and not any(_removes(name, remove_prefix) for name, _path in walked):
            raise UserError(
                f"--remove-prefix {remove_prefix} matches none of the files under {typed}: "
                f"give the start of their path, e.g. --remove-prefix {typed.rstrip('/')}/"
            )
        for name, path in walked:
            key = object_key(name, remove_prefix, add_prefix)
            if not key or key.endswith("/"):
                raise UserError(f"{name} would get the empty object key '{key}': shorten --remove-prefix")
            if key in items:
                raise UserError(f"{name} and {items[key].path} would both be uploaded as '{key}': upload them separately")
            items[key] = UploadItem(path=path, key=key, size=path.stat().st_size)
    return [items[key] for key in sorted(items)]
