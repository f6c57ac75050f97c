"""Recent builds and pushes, per profile, so the Images panel can say what was made and where it went.

One small JSON file per profile under the data dir, replaced atomically, newest first and
capped: a record of results, not a log.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from services import locations
from services.shared_file import locked, write_atomic

KEEP = 50


@dataclass(frozen=True)
class HistoryEntry:
    kind: str  # "build" or "push"
    reference: str  # the tag built, or the reference pushed
    result: str  # the image id, or the digest
    at: str  # ISO 8601 UTC


class ImageHistory:
    def __init__(self, profile: str, root: Path | None = None) -> None:
        self.path = (root or locations.data_dir() / "image-history") / f"{profile}.json"

    def entries(self) -> list[HistoryEntry]:
        try:
            rows = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [HistoryEntry(**row) for row in rows if isinstance(row, dict) and set(row) == {"kind", "reference", "result", "at"}]

    def record(self, kind: str, reference: str, result: str, at: datetime) -> None:
        """Add an entry on top of what is there now: a build in another shell is not lost."""
        entry = HistoryEntry(kind, reference, result, at.strftime("%Y-%m-%dT%H:%M:%SZ"))
        with locked(self.path):
            rows = [asdict(item) for item in [entry, *self.entries()][:KEEP]]
            write_atomic(self.path, json.dumps(rows, indent=1))
