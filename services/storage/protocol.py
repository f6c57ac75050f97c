"""The `ObjectStore` capability and the values that cross its boundary.

Implementations: S3 (boto3) for OVHcloud and any S3-compatible endpoint, a directory
store for the local profile, and `InMemoryObjectStore` (in `fake.py`) for tests.
All calls block; the TUI runs them in thread workers and passes a `CancelToken`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence, Sized
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from services.cancel import CancelToken
from services.errors import UserError

_BUCKET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
_REGION = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")


@dataclass(frozen=True, order=True)
class BucketRef:
    """A container in a region or datastore alias, written `name@REGION` as ovhai does."""

    name: str
    region: str

    def __str__(self) -> str:
        return f"{self.name}@{self.region}"

    @classmethod
    def parse(cls, text: str) -> BucketRef:
        name, at, region = text.strip().rpartition("@")
        if not at or not name or not region:
            raise UserError(f"bucket '{text}' needs a region: write it as name@REGION, e.g. my-models@GRA")
        if not _BUCKET_NAME.match(name):
            raise UserError(f"invalid bucket name '{name}': use letters, digits, '.', '-' or '_'")
        if not _REGION.match(region):
            raise UserError(f"invalid region '{region}' in '{text}': use a region code such as GRA")
        return cls(name=name, region=region.upper())


@dataclass(frozen=True)
class BucketInfo:
    ref: BucketRef
    created: datetime | None = None


@dataclass(frozen=True)
class ObjectInfo:
    """One object, with the columns of `ovhai bucket object list`.

    `modified` may be a listing's ISO text: a 100,000-key listing then does no datetime work
    for keys whose date nobody looks at; `last_modified` parses it on first use."""

    key: str
    size: int
    modified: datetime | str
    etag: str
    storage_class: str = "STANDARD"

    @property
    def last_modified(self) -> datetime:
        value = self.modified
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
            object.__setattr__(self, "modified", value)  # parsed once; frozen for everything else
        return value


@dataclass(frozen=True)
class ListPage:
    """One page of a listing: objects, common prefixes ("directories") and the next token."""

    objects: tuple[ObjectInfo, ...]
    prefixes: tuple[str, ...] = ()
    next_token: str | None = None


@dataclass(frozen=True)
class UploadItem:
    """A local file and the object key it goes to."""

    path: Path
    key: str
    size: int


@dataclass(frozen=True)
class TransferProgress:
    """Progress of one file inside a transfer, with the totals of the whole transfer."""

    key: str
    file_done: int
    file_total: int
    bytes_done: int
    bytes_total: int
    files_done: int
    files_total: int
    outcome: str = ""  # when a file has just finished: "done", "skipped" or "failed"


@dataclass(frozen=True)
class TransferResult:
    """What a transfer did: keys done, skipped (unchanged or kept) and failed with a reason."""

    done: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass(frozen=True)
class UploadOptions:
    workers: int = 4
    overwrite: bool = True
    skip_unchanged: bool = True


ProgressCallback = Callable[[TransferProgress], None]


class Listing(Protocol):
    """What stores and the transfer engine both read: one object's row, one page of rows."""

    def head(self, bucket: BucketRef, key: str) -> ObjectInfo | None:
        """One object's listing row, or None when there is no such object."""
        ...

    def list_page(self, bucket: BucketRef, prefix: str = "", delimiter: str | None = "/", token: str | None = None,
                  page_size: int = 1000) -> ListPage:  # fmt: skip
        """One page of objects under `prefix`; with a delimiter, deeper keys fold into prefixes."""
        ...


@runtime_checkable
class ObjectStore(Listing, Protocol):
    """Buckets and objects of one profile."""

    def list_buckets(self) -> list[BucketInfo]: ...

    def bucket_exists(self, bucket: BucketRef) -> bool: ...

    def create_bucket(self, bucket: BucketRef) -> None: ...

    def delete_bucket(self, bucket: BucketRef) -> None:
        """Remove an empty bucket; one that holds objects is refused (`bucket_not_empty`)."""
        ...

    def upload(self, bucket: BucketRef, items: Sequence[UploadItem], options: UploadOptions, progress: ProgressCallback,
               cancel: CancelToken) -> TransferResult:  # fmt: skip
        """Send each item, skipping unchanged ones when `options` says so; never a partial object."""
        ...

    def download(self, bucket: BucketRef, objects: Sequence[ObjectInfo], destination: Path, progress: ProgressCallback,
                 cancel: CancelToken, remove_prefix: str = "") -> TransferResult:  # fmt: skip
        """Write each object to `destination`/(key minus `remove_prefix`), never a partial file."""
        ...

    def delete(self, bucket: BucketRef, keys: Iterable[str], progress: ProgressCallback, cancel: CancelToken) -> TransferResult:
        """Delete `keys`, taken as they come (a prefix's listing streams in: the first batch
        goes before the last page is listed); a key that fails is a line of the result.
        Progress counts against len(keys) when it has one, else against 0 (unknown)."""
        ...


def delete_total(keys: Iterable[str]) -> int | None:
    """How many keys a delete takes: len(keys), or None when they stream in from a listing
    (then a cancelled delete stops taking them instead of listing the rest to refuse them)."""
    return len(keys) if isinstance(keys, Sized) else None


def bucket_not_empty(bucket: BucketRef) -> UserError:
    """The one refusal every store gives for deleting a bucket that still holds objects."""
    return UserError(f"bucket {bucket} still holds objects: delete them first (`triton-deck bucket object delete {bucket} --all -y`)")


def delete_each(keys: Iterable[str], remove: Callable[[str], str | None], progress: ProgressCallback, cancel: CancelToken) -> TransferResult:
    """A delete one key at a time, for stores without a batch call: `remove` deletes one key
    and returns why it could not (or None). Cancelled keys of a known list are reported as
    such; a streamed listing simply stops being read."""
    done: list[str] = []
    failed: list[tuple[str, str]] = []
    total = delete_total(keys)
    for key in keys:
        if cancel.cancelled:
            if total is None:
                break
            failed.append((key, "cancelled"))
        elif (reason := remove(key)) is not None:
            failed.append((key, reason))
        else:
            done.append(key)
            progress(TransferProgress(key, 0, 0, 0, 0, len(done), total or 0))
    return TransferResult(done=tuple(done), failed=tuple(failed))
