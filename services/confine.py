"""Confinement: a key, prefix or mount path names a place inside its root, or nothing.

A local bucket is a directory and a local job's workspace is a directory, so a `..`
part, an absolute path or a symlink would otherwise reach files that are not the
bucket's or the job's. Every such name goes through here before it becomes a path.
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path

from services.errors import UserError


def is_inside(root: Path, path: Path) -> bool:
    """Whether `path`, with every symlink resolved, is `root` or lies below it."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def bad_parts(relative: str) -> bool:
    """Empty, '.' and '..' parts (an absolute path starts with an empty part), or a NUL byte."""
    return "\0" in relative or any(part in ("", ".", "..") for part in relative.split("/"))


def confined(root: Path, relative: str, what: str) -> Path:
    """`root/relative`, refused with one line when it would resolve outside `root`."""
    path = root / relative
    if bad_parts(relative) or not is_inside(root, path):
        raise UserError(f"{what} '{relative}' leads outside its root: use a path without '..', a leading '/' or links out")
    return path


WORKSPACE = "/workspace"


def mount_target(workspace: Path, mount: str) -> Path:
    """Where a volume's mount path lands in a local job: `/workspace/x` → `<workspace>/x`,
    any other absolute path under the workspace too. Repeated slashes and `.` parts are
    normalised away; a `..` part, a relative path or `/` itself is refused."""
    if not mount.startswith("/") or ".." in mount.split("/"):
        raise UserError(f"mount path '{mount}' must be an absolute path inside the job without '..', e.g. {WORKSPACE}/models")
    normal = posixpath.normpath(re.sub("/+", "/", mount))
    if normal == "/":
        raise UserError(f"mount path '{mount}' would cover the whole job: mount under {WORKSPACE}, e.g. {WORKSPACE}/models")
    relative = normal.removeprefix(WORKSPACE) if normal == WORKSPACE or normal.startswith(WORKSPACE + "/") else normal
    relative = relative.strip("/")
    if not relative:
        return workspace
    return confined(workspace, relative, "mount path")
