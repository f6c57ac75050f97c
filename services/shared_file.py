"""Files that several triton-deck processes share (config, image history, pipeline progress).

Each write replaces the file atomically (a reader never sees half of it), and each
read-modify-write happens under an exclusive lock on a sibling `.lock` file, so ten
`profile add` at once keep ten profiles: none of them rewrites what another just saved.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the exclusive lock that guards `path` (blocking until other writers are done)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def write_atomic(path: Path, text: str, mode: int = 0o600, durable: bool = True) -> None:
    """Replace `path` with `text`: a temporary file beside it, synced (unless not `durable`:
    then a kill still finds the old or the new text, a power loss may find neither), then
    renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".part", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def update_text(path: Path, change: Callable[[str | None], str]) -> str:
    """Read `path` (None when missing), write `change(old)`, all under its lock; returns the new text."""
    with locked(path):
        try:
            old: str | None = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            old = None
        new = change(old)
        write_atomic(path, new)
        return new
