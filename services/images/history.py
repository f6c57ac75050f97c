"""Recent builds and pushes, per profile, so the Images panel can say what was made and where it went.

One small JSON file per profile under the data dir, replaced atomically, newest first and
capped: a record of results, not a log.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from services import locations

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
        entry = HistoryEntry(kind, reference, result, at.strftime("%Y-%m-%dT%H:%M:%SZ"))
        rows = [asdict(item) for item in [entry, *self.entries()][:KEEP]]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".history-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(rows, handle, indent=1)
        os.replace(temp, self.path)
