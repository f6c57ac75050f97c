"""`LocalObjectStore`: buckets as directories, for the local profile (`name@LOCAL`).

Layout under the root (`$XDG_DATA_HOME/triton-deck/buckets` by default):

    <name>/data/<key>      the object's bytes, at its key's path
    <name>/meta/<key>      its MD5 ETag, with the size and mtime it was computed for
    <name>/tmp/            where writes land before an atomic rename

Every write goes to `tmp/` and is renamed into place, so no reader ever sees a
partial object. Listing walks the tree in S3 key order (a directory sorts as its
name plus "/"), so pages and continuation tokens behave exactly like S3's.
"""

from __future__ import annotations

import bisect
import errno
import hashlib
import itertools
import os
import re
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from services import locations
from services.cancel import CancelToken
from services.confine import bad_parts, is_inside
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

LOCAL_REGION = "LOCAL"
CHUNK = 1024 * 1024
STALE_TEMPORARY_S = 3600
LISTING_CACHE_DIRECTORIES = 64
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def default_root() -> Path:
    return locations.data_dir() / "buckets"


def file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


NAME_MAX = 255  # bytes in one file name on Linux file systems


def _too_long(path: str) -> bool:
    """A part no file name can hold (surrogates count as the bytes they stand for)."""
    return any(len(part.encode("utf-8", "surrogateescape")) > NAME_MAX for part in path.split("/"))


def _check_key(key: str) -> None:
    if not key or bad_parts(key):
        raise UserError(f"object key '{key}' cannot be stored in a local bucket: empty, '.' and '..' path parts are not allowed")
    if _too_long(key):
        raise UserError(f"object key '{key}' has a part over {NAME_MAX} bytes, longer than a file name can be: shorten it")


class LocalObjectStore(MovingStore):
    def __init__(self, root: Path | None = None, workers: int = 4) -> None:
        self.root = root or default_root()
        self.workers = workers
        self._lock = threading.Lock()
        self._listings: OrderedDict[str, tuple[int, list[str]]] = OrderedDict()

    # -- buckets -----------------------------------------------------------------------------

    def _bucket_dir(self, bucket: BucketRef, must_exist: bool = True) -> Path:
        if bucket.region != LOCAL_REGION:
            raise UserError(f"local buckets live in region {LOCAL_REGION}: write {bucket.name}@{LOCAL_REGION}")
        path = self.root / bucket.name
        if must_exist and not path.is_dir():
            raise UserError(f"bucket {bucket} does not exist: create it with `triton-deck bucket create {bucket}`")
        return path

    def create_bucket(self, bucket: BucketRef) -> None:
        if not _BUCKET_NAME.match(bucket.name):
            raise UserError(f"invalid bucket name '{bucket.name}': use 3-63 lowercase letters, digits, '.' or '-'")
        path = self._bucket_dir(bucket, must_exist=False)
        for sub in ("data", "meta", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True)

    def bucket_exists(self, bucket: BucketRef) -> bool:
        return (self._bucket_dir(bucket, must_exist=False) / "data").is_dir()

    def delete_bucket(self, bucket: BucketRef) -> None:
        path = self._bucket_dir(bucket)
        if path.is_symlink() or not is_inside(self.root, path):  # rmtree must not follow it elsewhere
            raise UserError(f"bucket {bucket} is a link out of {self.root}: remove the link itself")
        if any(entry.is_file() or entry.is_symlink() for entry in (path / "data").rglob("*")):
            raise bucket_not_empty(bucket)
        shutil.rmtree(path)  # what is left is folders and bookkeeping (meta, tmp), inside the bucket

    def list_buckets(self) -> list[BucketInfo]:
        if not self.root.is_dir():
            return []
        found = []
        for path in sorted(self.root.iterdir()):
            if (path / "data").is_dir():
                created = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(microsecond=0)
                found.append(BucketInfo(BucketRef(path.name, LOCAL_REGION), created))
        return found

    # -- objects -----------------------------------------------------------------------------

    def _paths(self, bucket: BucketRef, key: str) -> tuple[Path, Path]:
        """The object's file and its sidecar, both resolved inside the bucket (symlinks included)."""
        _check_key(key)
        base = self._bucket_dir(bucket)
        data, meta = base / "data" / key, base / "meta" / key
        if not is_inside(base / "data", data) or not is_inside(base / "meta", meta.parent):
            raise UserError(f"object key '{key}' resolves outside {bucket} through a symlink: refusing it")
        return data, meta

    def _info(self, bucket: BucketRef, key: str, data: Path, meta: Path) -> ObjectInfo:
        stat = data.stat()
        stamp = f"{stat.st_size} {stat.st_mtime_ns}"
        try:
            recorded_stamp, etag = meta.read_text().split("\n")[:2]
        except (OSError, ValueError):
            recorded_stamp, etag = "", ""
        if recorded_stamp != stamp or not etag:
            etag = file_md5(data)  # written by hand, or a crash between data and meta: recompute
            self._write_meta(bucket, meta, stamp, etag)
        modified = datetime.fromtimestamp(stat.st_mtime, UTC).replace(microsecond=0)
        return ObjectInfo(key=key, size=stat.st_size, modified=modified, etag=etag)

    def _write_meta(self, bucket: BucketRef, meta: Path, stamp: str, etag: str) -> None:
        """Replace the sidecar atomically; never through a link that leads out of meta/."""
        meta_root = self._bucket_dir(bucket) / "meta"
        if not is_inside(meta_root, meta.parent):
            raise UserError(f"the ETag record for '{meta.relative_to(meta_root)}' would land outside {bucket}: refusing it")
        meta.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self._bucket_dir(bucket) / "tmp")
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{stamp}\n{etag}\n")
        os.replace(temp, meta)

    def head(self, bucket: BucketRef, key: str) -> ObjectInfo | None:
        data, meta = self._paths(bucket, key)
        if not data.is_file():
            return None
        return self._info(bucket, key, data, meta)

    def _sorted_names(self, directory: Path, data_root: Path, resuming: bool) -> list[str]:
        """A directory's entries in S3 key order (a directory as its name plus "/").

        Real directories are descended; a symlink counts only as a file whose target stays
        inside the bucket (a link out, or to a directory, is not an object). A listing that
        resumes from a token reuses the order it sorted for the previous page while the
        directory is unchanged, so paging through 100,000 keys scans the directory once."""
        try:
            changed = directory.stat().st_mtime_ns
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as error:
            if error.errno == errno.ENAMETOOLONG:  # a prefix no file name can hold: nothing under it
                return []
            raise
        cache_key = str(directory)
        with self._lock:
            cached = self._listings.get(cache_key)
            if resuming and cached is not None and cached[0] == changed:
                self._listings.move_to_end(cache_key)
                return cached[1]
        names = []
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            return []
        for entry in entries:
            if entry.is_symlink():
                if entry.is_file() and is_inside(data_root, Path(entry.path)):
                    names.append(entry.name)
            elif entry.is_dir(follow_symlinks=False):
                names.append(entry.name + "/")
            elif entry.is_file(follow_symlinks=False):
                names.append(entry.name)
        names.sort()
        with self._lock:
            self._listings[cache_key] = (changed, names)
            while len(self._listings) > LISTING_CACHE_DIRECTORIES:
                self._listings.popitem(last=False)
        return names

    def _walk(self, directory: Path, relative: str, data_root: Path, prefix: str, after: str) -> Iterator[tuple[str, bool]]:
        """(key or prefix, is_dir) under `directory` in S3 key order, from the first that can
        match `prefix` or follow `after` (found by bisection, not by reading past the rest)."""
        names = self._sorted_names(directory, data_root, resuming=bool(after))
        start = 0
        for bound in (prefix, after):
            if bound.startswith(relative) and len(bound) > len(relative):
                head, slash, _ = bound[len(relative) :].partition("/")
                start = max(start, bisect.bisect_left(names, head + slash))
        for name in itertools.islice(names, start, None):
            yield relative + name, name.endswith("/")

    def _iter_keys(self, data_root: Path, prefix: str, delimiter: str | None, after: str) -> Iterator[tuple[str, bool]]:
        """Keys (and, with a delimiter, folded prefixes) starting with `prefix`, after `after`."""
        # Start at the deepest directory that the prefix names entirely.
        base = prefix.rpartition("/")[0]
        start = base + "/" if base else ""
        if _too_long(base):
            return  # no file name can hold such a part: nothing lies under it
        start_dir = data_root / base
        if base and (bad_parts(base) or not is_inside(data_root, start_dir)):
            raise UserError(f"prefix '{prefix}' leads outside the bucket: drop '..', '.', empty parts and links out")
        # The walk never follows a linked directory, so a prefix through one matches nothing either.
        linked = bool(base) and os.path.realpath(start_dir) != os.path.join(os.path.realpath(data_root), base)
        stack = [iter(self._walk(start_dir, start, data_root, prefix, after))] if start_dir.is_dir() and not linked else []
        while stack:
            entry = next(stack[-1], None)
            if entry is None:
                stack.pop()
                continue
            name, is_dir = entry
            if is_dir:
                # Prune whole subtrees that cannot hold a match or sort before the token.
                if not (name.startswith(prefix) or prefix.startswith(name)):
                    continue
                if after and not (name > after or after.startswith(name)):
                    continue
                rest = name[len(prefix) :] if name.startswith(prefix) else ""
                if delimiter == "/" and name.startswith(prefix) and rest:
                    if name > after:
                        yield name, True
                    continue
                stack.append(iter(self._walk(data_root / name.rstrip("/"), name, data_root, prefix, after)))
            elif name.startswith(prefix) and name > after:
                yield name, False

    def list_page(self, bucket: BucketRef, prefix: str = "", delimiter: str | None = "/", token: str | None = None,
                  page_size: int = 1000) -> ListPage:  # fmt: skip
        if delimiter not in (None, "/"):
            raise UserError("local buckets can only fold prefixes on '/'")
        base = self._bucket_dir(bucket)
        data_root, meta_root = base / "data", base / "meta"
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        last = ""
        for name, is_prefix in self._iter_keys(data_root, prefix, delimiter, token or ""):
            if len(objects) + len(prefixes) == page_size:
                return ListPage(tuple(objects), tuple(prefixes), next_token=last)
            last = name
            if is_prefix:
                prefixes.append(name)
            else:
                # Keys come from the tree itself: no per-object validation or bucket lookup.
                objects.append(self._info(bucket, name, data_root / name, meta_root / name))
        return ListPage(tuple(objects), tuple(prefixes), next_token=None)

    # -- transfers ---------------------------------------------------------------------------

    def local_etag(self, item: UploadItem) -> str:
        return file_md5(item.path)

    def put_file(self, bucket: BucketRef, item: UploadItem, on_bytes: BytesCallback, cancel: CancelToken) -> None:
        data, meta = self._paths(bucket, item.key)
        base = self._bucket_dir(bucket)
        digest = hashlib.md5(usedforsecurity=False)
        fd, temp_name = tempfile.mkstemp(dir=base / "tmp")
        try:
            with os.fdopen(fd, "wb") as target, item.path.open("rb") as source:
                while chunk := source.read(CHUNK):
                    cancel.raise_if_cancelled()
                    target.write(chunk)
                    digest.update(chunk)
                    on_bytes(len(chunk))
            if data.is_dir():
                raise UserError(f"key '{item.key}' clashes with the prefix '{item.key}/' in {bucket}: pick another key")
            try:
                data.parent.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise UserError(f"key '{item.key}' lies under an object of the same name in {bucket}: pick another key") from None
            os.replace(temp_name, data)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        stat = data.stat()
        self._write_meta(bucket, meta, f"{stat.st_size} {stat.st_mtime_ns}", digest.hexdigest())

    def get_file(self, bucket: BucketRef, info: ObjectInfo, target: Path, on_bytes: BytesCallback, cancel: CancelToken) -> None:
        key = info.key
        data, _ = self._paths(bucket, key)
        if not data.is_file():
            raise UserError(f"no such object: {bucket}/{key}")
        with data.open("rb") as source, target.open("wb") as sink:
            while chunk := source.read(CHUNK):
                cancel.raise_if_cancelled()
                sink.write(chunk)
                on_bytes(len(chunk))

    def _ready(self, bucket: BucketRef, uploading: bool) -> None:
        if uploading:
            self._sweep_stale_temporaries(bucket)
        else:
            self._bucket_dir(bucket)

    def _sweep_stale_temporaries(self, bucket: BucketRef) -> None:
        """Drop what a killed upload left in tmp/ (never visible as objects, but it takes space).

        Only files untouched for an hour go: a live upload in another process keeps writing its own.
        """
        cutoff = time.time() - STALE_TEMPORARY_S
        for leftover in (self._bucket_dir(bucket) / "tmp").iterdir():
            try:
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()
            except FileNotFoundError:
                continue

    def delete(self, bucket: BucketRef, keys: Iterable[str], progress: ProgressCallback, cancel: CancelToken) -> TransferResult:
        base = self._bucket_dir(bucket)

        def remove(key: str) -> str | None:
            try:
                data, meta = self._paths(bucket, key)
                data.unlink()
            except UserError as error:
                return error.message
            except FileNotFoundError:
                return "no such object"
            meta.unlink(missing_ok=True)
            for parent in data.parents:  # drop directories the delete left empty
                if parent == base / "data" or any(parent.iterdir()):
                    break
                parent.rmdir()
            return None

        return delete_each(keys, remove, progress, cancel)
