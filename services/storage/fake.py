"""`InMemoryObjectStore`: an `ObjectStore` held in a dict, for snapshot tests and UI work.

It keeps real semantics (sorted keys, delimiter folding, continuation tokens, MD5 ETags,
chunked progress, cancellation between chunks) so the UI exercised against it behaves
the same against the real stores. Dates come from the caller, never from the clock.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from services.cancel import CancelToken
from services.errors import UserError
from services.storage.protocol import (
    BucketInfo,
    BucketRef,
    ListPage,
    ObjectInfo,
    ProgressCallback,
    TransferResult,
    UploadItem,
    bucket_not_empty,
    delete_each,
)
from services.storage.transfer import BytesCallback, MovingStore

CHUNK = 64 * 1024


@dataclass
class _StoredObject:
    data: bytes
    modified: datetime

    @property
    def etag(self) -> str:
        return hashlib.md5(self.data, usedforsecurity=False).hexdigest()


class InMemoryObjectStore(MovingStore):
    def __init__(self, now: datetime) -> None:
        self._now = now
        self.workers = 4
        self._buckets: dict[BucketRef, dict[str, _StoredObject]] = {}
        self._sorted: dict[BucketRef, list[str]] = {}  # key order, dropped on every change: fast paging of big fakes
        self._lock = threading.Lock()

    def add_bucket(self, bucket: BucketRef) -> None:
        self._buckets.setdefault(bucket, {})

    def create_bucket(self, bucket: BucketRef) -> None:
        self.add_bucket(bucket)

    def bucket_exists(self, bucket: BucketRef) -> bool:
        return bucket in self._buckets

    def delete_bucket(self, bucket: BucketRef) -> None:
        if self._bucket(bucket):
            raise bucket_not_empty(bucket)
        del self._buckets[bucket]
        self._sorted.pop(bucket, None)

    def put(self, bucket: BucketRef, key: str, data: bytes, modified: datetime | None = None) -> None:
        self._bucket(bucket)[key] = _StoredObject(data, modified or self._now)
        self._sorted.pop(bucket, None)

    def get(self, bucket: BucketRef, key: str) -> bytes:
        return self._bucket(bucket)[key].data

    def _bucket(self, bucket: BucketRef) -> dict[str, _StoredObject]:
        try:
            return self._buckets[bucket]
        except KeyError:
            raise UserError(f"bucket {bucket} does not exist: check the name and region") from None

    def list_buckets(self) -> list[BucketInfo]:
        return [BucketInfo(ref=ref, created=self._now) for ref in sorted(self._buckets)]

    def head(self, bucket: BucketRef, key: str) -> ObjectInfo | None:
        stored = self._bucket(bucket).get(key)
        return None if stored is None else ObjectInfo(key, len(stored.data), stored.modified, stored.etag)

    def list_page(self, bucket: BucketRef, prefix: str = "", delimiter: str | None = "/", token: str | None = None,
                  page_size: int = 1000) -> ListPage:  # fmt: skip
        stored_objects = self._bucket(bucket)
        keys = self._sorted.get(bucket)
        if keys is None:
            keys = self._sorted[bucket] = sorted(stored_objects)
        after = token or ""  # the token is the last name of the previous page, as S3's StartAfter
        index = bisect.bisect_right(keys, max(after, prefix)) if after else bisect.bisect_left(keys, prefix)
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        last = ""
        while index < len(keys) and keys[index].startswith(prefix):
            if len(objects) + len(prefixes) == page_size:
                return ListPage(tuple(objects), tuple(prefixes), next_token=last)
            key = keys[index]
            rest = key[len(prefix) :]
            if delimiter and delimiter in rest:
                folded = prefix + rest.split(delimiter, 1)[0] + delimiter
                if folded > after:
                    prefixes.append(folded)
                    last = folded
                index = bisect.bisect_left(keys, folded + "\U0010ffff")  # past everything under it
                continue
            stored = stored_objects[key]
            objects.append(ObjectInfo(key, len(stored.data), stored.modified, stored.etag))
            last = key
            index += 1
        return ListPage(tuple(objects), tuple(prefixes), next_token=None)

    # -- transfers: the shared engine, as every store runs them (so the fake keeps the same rules) --

    def local_etag(self, item: UploadItem) -> str:
        return hashlib.md5(item.path.read_bytes(), usedforsecurity=False).hexdigest()

    def put_file(self, bucket: BucketRef, item: UploadItem, on_bytes: BytesCallback, cancel: CancelToken) -> None:
        data = item.path.read_bytes()
        for offset in range(0, len(data), CHUNK):  # chunked progress, as a real upload reports it
            cancel.raise_if_cancelled()
            on_bytes(min(CHUNK, len(data) - offset))
        cancel.raise_if_cancelled()
        with self._lock:
            self._bucket(bucket)[item.key] = _StoredObject(data, self._now)
            self._sorted.pop(bucket, None)

    def get_file(self, bucket: BucketRef, info: ObjectInfo, target: Path, on_bytes: BytesCallback, cancel: CancelToken) -> None:
        stored = self._bucket(bucket).get(info.key)
        if stored is None:
            raise UserError("no such object")
        cancel.raise_if_cancelled()
        target.write_bytes(stored.data)
        on_bytes(len(stored.data))

    def _ready(self, bucket: BucketRef, uploading: bool) -> None:
        self._bucket(bucket)

    def delete(self, bucket: BucketRef, keys: Iterable[str], progress: ProgressCallback, cancel: CancelToken) -> TransferResult:
        objects = self._bucket(bucket)

        def remove(key: str) -> str | None:
            if objects.pop(key, None) is None:
                return "no such object"
            self._sorted.pop(bucket, None)
            return None

        return delete_each(keys, remove, progress, cancel)
