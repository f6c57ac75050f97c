"""Where a large upload in progress is written down, so a killed one resumes instead of leaking.

A multipart upload lives on the server until it is completed or aborted, and S3 offers no
way to tell whose it is. So before the first part is sent, the upload id is recorded here
with the file's size, mtime and the part size. The next upload of the same key to the
same endpoint finds it: the same file reuses the parts already stored (each checked by
size and MD5) and sends only the rest; a changed file aborts the stale upload first.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from services import locations
from services.shared_file import write_atomic


@dataclass(frozen=True)
class JournalEntry:
    upload_id: str
    size: int
    mtime_ns: int
    part_size: int


class UploadJournal:
    """The record of one key's upload on one endpoint: `$XDG_DATA_HOME/triton-deck/uploads/<hash>.json`."""

    def __init__(self, endpoint: str, bucket: str, key: str, root: Path | None = None) -> None:
        name = hashlib.sha256("\0".join((endpoint, bucket, key)).encode("utf-8", "surrogateescape")).hexdigest()
        self.path = (root or locations.data_dir() / "uploads") / f"{name}.json"

    def load(self) -> JournalEntry | None:
        try:
            return JournalEntry(**json.loads(self.path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None  # none, or unreadable: a fresh upload (the server's leftover then ages out)

    def save(self, entry: JournalEntry) -> None:
        write_atomic(self.path, json.dumps(asdict(entry)))

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
