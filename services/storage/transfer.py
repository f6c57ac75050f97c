"""The parallel transfer engine shared by every object store.

A store only knows how to move one object (`put_file`, `get_file`) and how to describe
one (`head`); this module runs many at once, skips what is unchanged, keeps totals,
and turns every per-file failure into a line of the result instead of an exception,
so one bad file never hides which others made it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol, cast

from services.cancel import Cancelled, CancelToken
from services.errors import UserError
from services.secrets import redact
from services.storage.protocol import (
    BucketRef,
    Listing,
    ObjectInfo,
    ProgressCallback,
    TransferProgress,
    TransferResult,
    UploadItem,
    UploadOptions,
)

BytesCallback = Callable[[int], None]


class ObjectMover(Listing, Protocol):
    def local_etag(self, item: UploadItem) -> str:
        """The ETag this store would give the file, to skip unchanged uploads."""
        ...

    def put_file(self, bucket: BucketRef, item: UploadItem, on_bytes: BytesCallback, cancel: CancelToken) -> None:
        """Store one file; on any failure or cancellation, leave no object behind."""
        ...

    def get_file(self, bucket: BucketRef, info: ObjectInfo, target: Path, on_bytes: BytesCallback, cancel: CancelToken) -> None:
        """Write one object to `target` (a temporary path the engine renames); `info` as listed
        (its size and ETag let a store fetch big objects in ranges and check what it got)."""
        ...


class MovingStore:
    """`upload` and `download` written once for every store: the store moves one object at a
    time (`ObjectMover`), the engine below runs many. A store says how a transfer finds its
    bucket ready (`_ready`) and, when one upload must share a budget, what moves it (`_mover`)."""

    workers: int

    def _ready(self, bucket: BucketRef, uploading: bool) -> None:
        """Refuse a bucket that cannot take the transfer, before any file moves."""

    def _mover(self, options: UploadOptions) -> ObjectMover:
        return cast(ObjectMover, self)

    def upload(self, bucket: BucketRef, items: Sequence[UploadItem], options: UploadOptions, progress: ProgressCallback,
               cancel: CancelToken) -> TransferResult:  # fmt: skip
        self._ready(bucket, uploading=True)
        return run_upload(self._mover(options), bucket, items, options, progress, cancel)

    def download(self, bucket: BucketRef, objects: Sequence[ObjectInfo], destination: Path, progress: ProgressCallback,
                 cancel: CancelToken, remove_prefix: str = "") -> TransferResult:  # fmt: skip
        self._ready(bucket, uploading=False)
        return run_download(cast(ObjectMover, self), bucket, objects, destination, remove_prefix, self.workers, progress, cancel)


def is_utf8(text: str) -> bool:
    """False for a file name read from undecodable bytes (Python keeps them as lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def failure_reason(error: BaseException) -> str:
    if isinstance(error, Cancelled):
        return "cancelled"
    if isinstance(error, UserError):
        return error.message
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return redact(f"{type(error).__name__}: {error}".splitlines()[0])


class _Tally:
    """Totals updated from many worker threads."""

    def __init__(self, files_total: int, bytes_total: int, progress: ProgressCallback) -> None:
        self._lock = threading.Lock()
        self._progress = progress
        self.files_total = files_total
        self.bytes_total = bytes_total
        self.bytes_done = 0
        self.files_done = 0
        self.done: list[str] = []
        self.skipped: list[str] = []
        self.failed: list[tuple[str, str]] = []

    def advance(self, key: str, file_done: int, file_total: int, step: int) -> None:
        with self._lock:
            self.bytes_done += step
            update = TransferProgress(key, file_done, file_total, self.bytes_done, self.bytes_total, self.files_done, self.files_total)
        self._progress(update)

    def finish(self, key: str, outcome: str, reason: str = "", unsent: int = 0) -> None:
        with self._lock:
            self.files_done += 1
            self.bytes_done += unsent
            if outcome == "done":
                self.done.append(key)
            elif outcome == "skipped":
                self.skipped.append(key)
            else:
                self.failed.append((key, reason))
            update = TransferProgress(key, 0, 0, self.bytes_done, self.bytes_total, self.files_done, self.files_total, outcome)
        self._progress(update)

    def result(self) -> TransferResult:
        return TransferResult(tuple(sorted(self.done)), tuple(sorted(self.skipped)), tuple(sorted(self.failed)))


EXISTING_LIST_FACTOR = 4


def existing_objects(mover: ObjectMover, bucket: BucketRef, items: Sequence[UploadItem]) -> dict[str, ObjectInfo] | None:
    """What already exists under the upload's common prefix, in one listing instead of a HEAD per file.

    None when the prefix holds far more than the upload (then a HEAD per file is cheaper).
    """
    prefix = os.path.commonprefix([item.key for item in items if is_utf8(item.key)])  # the others fail alone
    limit = EXISTING_LIST_FACTOR * len(items) + 1000
    found: dict[str, ObjectInfo] = {}
    token: str | None = None
    while True:
        page = mover.list_page(bucket, prefix=prefix, delimiter=None, token=token, page_size=1000)
        found.update((info.key, info) for info in page.objects)
        if len(found) > limit:
            return None
        if not page.next_token:
            return found
        token = page.next_token


def run_upload(
    mover: ObjectMover,
    bucket: BucketRef,
    items: Sequence[UploadItem],
    options: UploadOptions,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> TransferResult:
    tally = _Tally(len(items), sum(item.size for item in items), progress)
    try:
        listed = existing_objects(mover, bucket, items) if items else {}
    except UserError:  # e.g. a refused key in the common prefix: each file then fails on its own line
        listed = None

    def upload_one(item: UploadItem) -> None:
        sent = 0
        try:
            cancel.raise_if_cancelled()
            if not is_utf8(item.key):
                raise UserError("its name is not valid UTF-8, which object keys must be: rename the file")
            existing = listed.get(item.key) if listed is not None else mover.head(bucket, item.key)
            if existing is not None and not options.overwrite:
                tally.finish(item.key, "skipped", unsent=item.size)
                return
            if (
                existing is not None
                and options.skip_unchanged
                and existing.size == item.size
                and existing.etag == mover.local_etag(item)
            ):
                tally.finish(item.key, "skipped", unsent=item.size)
                return

            def on_bytes(step: int) -> None:
                nonlocal sent
                sent += step
                tally.advance(item.key, sent, item.size, step)

            mover.put_file(bucket, item, on_bytes, cancel)
            tally.finish(item.key, "done", unsent=item.size - sent)
        except BaseException as error:  # every failure becomes a line of the result
            tally.finish(item.key, "failed", failure_reason(error), unsent=item.size - sent)

    _run_all(upload_one, items, options.workers)
    return tally.result()


def run_download(
    mover: ObjectMover,
    bucket: BucketRef,
    objects: Sequence[ObjectInfo],
    destination: Path,
    remove_prefix: str,
    workers: int,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> TransferResult:
    """Download `objects` under `destination`, each as its key minus `remove_prefix`.

    Each file is written to a temporary name and renamed when complete, so an
    interrupted download never leaves a truncated file under the real name.
    """
    tally = _Tally(len(objects), sum(info.size for info in objects), progress)
    root = destination.resolve()
    folders: dict[str, Path] = {}  # checked and made once each: many small files share a few folders
    folders_lock = threading.Lock()

    def folder(relative: str, key: str) -> Path:
        """`destination`/`relative`, resolved (symlinks included), inside `destination`, made."""
        with folders_lock:
            known = folders.get(relative)
        if known is not None:
            return known
        resolved = (destination / relative).resolve() if relative else root
        if resolved != root and root not in resolved.parents:
            raise UserError(f"key '{key}' would be written outside {destination}: refusing it")
        resolved.mkdir(parents=True, exist_ok=True)
        with folders_lock:
            folders[relative] = resolved
        return resolved

    def download_one(info: ObjectInfo) -> None:
        received = 0
        name = (info.key[len(remove_prefix) :] if info.key.startswith(remove_prefix) else info.key).lstrip("/")
        relative, _, base = name.rpartition("/")
        temp: Path | None = None
        try:
            cancel.raise_if_cancelled()
            if base in ("", ".", ".."):
                raise UserError(f"key '{info.key}' names no file: refusing it")
            parent = folder(relative, info.key)
            target = parent / base  # a link already there is replaced by the rename, never followed
            temp = parent / f".{base}.part"
            if temp.is_symlink():  # written through, it would land wherever it points
                temp.unlink()

            def on_bytes(step: int) -> None:
                nonlocal received
                received += step
                tally.advance(info.key, received, info.size, step)

            mover.get_file(bucket, info, temp, on_bytes, cancel)
            temp.replace(target)
            tally.finish(info.key, "done", unsent=info.size - received)
        except BaseException as error:
            if temp is not None:
                temp.unlink(missing_ok=True)
            tally.finish(info.key, "failed", failure_reason(error), unsent=info.size - received)

    _run_all(download_one, objects, workers)
    return tally.result()


def _run_all(task: Callable[..., None], items: Sequence[object], workers: int) -> None:
    if not items:
        return
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items))), thread_name_prefix="transfer") as pool:
        list(pool.map(task, items))
