"""What a ranged download has on disk, so a killed one resumes where it stopped.

Beside the engine's temporary file (`.name.part`, sized to the object at the start, parts
written in place) lives `.name.part.json`: the object's size and ETag, the part size and
the parts finished. A later download of the same object (same size and ETag) reuses those
parts; anything else starts over. The journal is replaced atomically after every part, so
a kill never leaves it claiming a part that is not written.
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

from services.shared_file import write_atomic
from services.storage.protocol import ObjectInfo


class DownloadJournal:
    def __init__(self, target: Path, info: ObjectInfo, part_size: int) -> None:
        self.target = target
        self.path = target.with_name(target.name + ".json")
        self.info = info
        self.part_size = part_size
        self.parts = max(1, math.ceil(info.size / part_size))
        self._done: set[int] = set()
        self._lock = threading.Lock()

    def span(self, number: int) -> tuple[int, int]:
        first = number * self.part_size
        return first, min(self.info.size, first + self.part_size) - 1

    def part_length(self, number: int) -> int:
        first, last = self.span(number)
        return last - first + 1

    def load(self) -> set[int]:
        """Parts already on disk from an earlier attempt at this very object, else a fresh start."""
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            same = (saved["size"], saved["etag"], saved["part"]) == (self.info.size, self.info.etag, self.part_size)
            if same and self.target.stat().st_size == self.info.size:
                self._done = {int(number) for number in saved["done"] if 0 <= int(number) < self.parts}
                return set(self._done)
        except (OSError, ValueError, KeyError, TypeError):
            pass
        with self.target.open("wb") as sink:
            sink.truncate(self.info.size)
        self._done = set()
        self._save()
        return set()

    def finished(self, number: int) -> None:
        with self._lock:
            self._done.add(number)
            self._save()

    def _save(self) -> None:
        document = {"size": self.info.size, "etag": self.info.etag, "part": self.part_size, "done": sorted(self._done)}
        # Not synced: an fsync here makes ext4 write back the whole part file's dirty pages,
        # after every part. A kill keeps both files' written pages (they are the kernel's);
        # after a power loss a part the journal claims but the disk lost fails the ETag check.
        write_atomic(self.path, json.dumps(document), durable=False)

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)
