"""The files of a supervised job or replica: written private, read line by line, stamped in UTC."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

FOLLOW_POLL_S = 0.2  # how often a followed log is read again


def private_file(path: Path) -> BinaryIO:
    """A new file only its owner can read (jobs print secrets as readily as anything else)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")


def read_lines(path: Path) -> Iterator[str]:
    with path.open("r", encoding="utf-8", errors="replace", newline="\n") as handle:
        for line in handle:
            yield line.rstrip("\n")


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
