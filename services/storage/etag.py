"""S3 ETags computed locally: what an uploaded file will be called, and whether a download
came down whole.

An object's ETag is the MD5 of its bytes, or for a multipart upload the MD5 of its parts'
MD5s followed by `-<parts>`. The part size is not recorded anywhere, so a check tries the
sizes that give that many parts: the one asked for, the common 8 and 16 MiB, and the size
split evenly into whole MiB. A ranged download whose ranges are the uploader's parts can
hash each range as it arrives (`PartDigests`), in the threads that fetch them, instead of
reading the whole file again at the end.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Protocol

MIB = 1024 * 1024
READ_CHUNK = MIB


def _md5() -> hashlib._Hash:
    return hashlib.md5(usedforsecurity=False)


def _md5_of(data: bytes) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


def multipart_etag(path: Path, part_size: int) -> str:
    """The ETag S3 gives a multipart upload of `path` in parts of `part_size`."""
    digests = []
    with path.open("rb") as handle:
        while part := handle.read(part_size):
            digests.append(_md5_of(part))
    return combined(digests)


def combined(digests: list[bytes]) -> str:
    return f"{hashlib.md5(b''.join(digests), usedforsecurity=False).hexdigest()}-{len(digests)}"


def part_count(etag: str) -> int:
    """N of a multipart `<md5>-N` ETag; 0 for a plain MD5 (or anything else)."""
    head, _, tail = etag.strip('"').rpartition("-")
    return int(tail) if head and tail.isdigit() else 0


def candidate_part_sizes(size: int, etag: str, preferred: int) -> list[int]:
    """The part sizes an uploader may have used to give `etag` its part count, most likely first."""
    parts = part_count(etag)
    if not parts:
        return []
    even = -(-size // parts // MIB) * MIB
    return [c for c in dict.fromkeys((preferred, 8 * MIB, 16 * MIB, even)) if c and -(-size // c) == parts]


def etag_matches(path: Path, etag: str, part_size: int) -> bool:
    """Whether `path` is what an object with `etag` holds. With no candidate part size giving
    the ETag's part count, or no ETag, there is nothing to check against."""
    etag = etag.strip('"')
    if not etag:
        return True
    if "-" not in etag:
        digest = _md5()
        with path.open("rb") as handle:
            while chunk := handle.read(READ_CHUNK):
                digest.update(chunk)
        return digest.hexdigest() == etag
    candidates = candidate_part_sizes(path.stat().st_size, etag, part_size)
    return not candidates or any(multipart_etag(path, candidate) == etag for candidate in candidates)


class Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


class HashingWriter:
    """`sink` that also hashes what goes through it (hashlib lets go of the GIL on big chunks,
    so parts hashed in their own threads run side by side)."""

    def __init__(self, sink: Writable) -> None:
        self._sink = sink
        self.digest = _md5()

    def write(self, chunk: bytes) -> int:
        self.digest.update(chunk)
        return self._sink.write(chunk)


class PartDigests:
    """The MD5 of each part of a ranged download, so the ETag check needs no second read.

    It can only stand in for that read when the parts are the uploader's (a multipart ETag
    with as many parts) or the object is one part (a plain MD5); `usable` says which."""

    def __init__(self, etag: str, parts: int) -> None:
        self._etag = etag.strip('"')
        self._parts = parts
        self._digests: dict[int, bytes] = {}
        self._lock = threading.Lock()
        self.usable = bool(self._etag) and (part_count(self._etag) == parts if "-" in self._etag else parts == 1)

    def record(self, number: int, digest: bytes) -> None:
        with self._lock:
            self._digests[number] = digest

    def record_from_disk(self, path: Path, number: int, first: int, length: int) -> None:
        """A part a killed download left on disk: hashed from there."""
        with path.open("rb") as handle:
            handle.seek(first)
            self.record(number, _md5_of(handle.read(length)))

    def matches(self) -> bool:
        digests = [self._digests[number] for number in range(self._parts)]
        if "-" in self._etag:
            return combined(digests) == self._etag
        return digests[0].hex() == self._etag
