"""`S3ObjectStore`: OVHcloud Object Storage, or any S3-compatible endpoint, on boto3.

OVHcloud endpoints are per region (`https://s3.<region>.io.cloud.ovh.net`, SigV4, the
region lowercase), so the bucket's `@REGION` picks the endpoint unless the profile
names one. Checksums are sent only when required: OVHcloud rejected boto3's default
flexible checksums for a while, and `when_required` is harmless elsewhere.

Small files go up in one PUT (signed here, falling back to boto3: see `s3_put`); larger
ones as multipart uploads whose parts are aborted on any failure or cancellation, so no
partial object is ever left behind. A killed one is journaled and resumed by the next
upload of the same file (see `upload_journal`).
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.cancel import CancelToken
from services.config import S3Credentials
from services.errors import UserError
from services.secrets import redact
from services.storage.download_journal import DownloadJournal
from services.storage.etag import MIB, HashingWriter, PartDigests, Writable, candidate_part_sizes, etag_matches, multipart_etag
from services.storage.protocol import (
    BucketInfo,
    BucketRef,
    ListPage,
    ObjectInfo,
    ProgressCallback,
    TransferProgress,
    TransferResult,
    UploadItem,
    UploadOptions,
    bucket_not_empty,
    delete_total,
)
from services.storage.s3_lean import LeanS3
from services.storage.transfer import BytesCallback, MovingStore, ObjectMover
from services.storage.upload_journal import JournalEntry, UploadJournal

if TYPE_CHECKING:
    from botocore.client import BaseClient

DEFAULT_MULTIPART_THRESHOLD = 16 * MIB
DEFAULT_PART_SIZE = 8 * MIB
DELETE_BATCH = 1000
DOWNLOAD_CHUNK = MIB
LARGEST_DOWNLOAD_PART = 64 * MIB  # an uploader's bigger parts would leave workers idle


# OVHcloud Object Storage regions with an S3 endpoint (docs: "S3 endpoints per region").
OVH_S3_REGIONS = (
    "gra", "rbx", "sbg", "de", "uk", "waw", "bhs", "ca-east-tor", "sgp",
    "ap-southeast-syd", "ap-south-mum", "eu-west-par", "eu-south-mil",
)  # fmt: skip


def ovh_endpoint(region: str) -> str:
    if region.lower() not in OVH_S3_REGIONS:
        known = ", ".join(name.upper() for name in OVH_S3_REGIONS)
        raise UserError(f"unknown Object Storage region '{region}': use one of {known}, or set s3_endpoint in the profile")
    return f"https://s3.{region.lower()}.io.cloud.ovh.net"


def _content_md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


class S3ObjectStore(MovingStore):
    def __init__(
        self,
        credentials: S3Credentials | None,
        *,
        endpoint_url: str | None = None,
        signing_region: str | None = None,
        default_region: str = "GRA",
        workers: int = 8,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        part_size: int = DEFAULT_PART_SIZE,
        addressing_style: str = "path",
        credential_hint: str = "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the profile's aws_profile",
        fast_put: bool = True,
    ) -> None:
        self._credentials = credentials
        self._endpoint_url = endpoint_url
        self._signing_region = signing_region
        self.default_region = default_region.upper()
        self.workers = workers
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self._addressing_style = addressing_style
        self._hint = credential_hint
        self._clients: dict[str, BaseClient] = {}
        self._leans: dict[str, LeanS3 | None] = {}
        self.fast_put_enabled = fast_put
        self._lock = threading.Lock()
        self.parts_sent = 0  # multipart parts sent, and found already stored by a resumed upload
        self.parts_reused = 0

    # -- clients and errors ------------------------------------------------------------------

    def _client(self, region: str) -> BaseClient:
        endpoint = self._endpoint_url or ovh_endpoint(region)
        client = self._clients.get(endpoint)  # the common case: no lock on the hot path
        if client is not None:
            return client
        with self._lock:
            client = self._clients.get(endpoint)
            if client is None:
                import boto3  # imported on first use: startup does not pay for botocore
                from botocore.config import Config

                if self._credentials is None:
                    raise UserError(f"no S3 credentials: {self._hint}")
                client = boto3.session.Session().client(
                    "s3",
                    endpoint_url=endpoint,
                    region_name=self._signing_region or region.lower(),
                    aws_access_key_id=self._credentials.access_key.reveal(),
                    aws_secret_access_key=self._credentials.secret_key.reveal(),
                    config=Config(
                        signature_version="s3v4",
                        s3={"addressing_style": self._addressing_style},
                        request_checksum_calculation="when_required",
                        response_checksum_validation="when_required",
                        retries={"mode": "standard", "max_attempts": 5},
                        max_pool_connections=max(10, self.workers * 2),
                    ),
                )
                self._clients[endpoint] = client
            return client

    def _lean(self, region: str) -> LeanS3 | None:
        """The lean requests on this region's endpoint (see `s3_lean`), where usable."""
        endpoint = self._endpoint_url or ovh_endpoint(region)
        if endpoint not in self._leans:
            usable = self.fast_put_enabled and self._credentials is not None and LeanS3.usable(endpoint)
            with self._lock:
                self._leans.setdefault(
                    endpoint,
                    LeanS3(endpoint, self._signing_region or region.lower(), self._credentials, self._addressing_style) if usable and self._credentials else None,
                )
        return self._leans[endpoint]

    @property
    def fast_puts_sent(self) -> int:
        return sum(lean.sent for lean in self._leans.values() if lean is not None)

    def _user_error(self, error: Exception, what: str) -> UserError:
        """One line that names the thing and the fix, for any botocore exception."""
        from botocore.exceptions import ClientError, EndpointConnectionError

        if isinstance(error, ClientError):
            code = str(error.response.get("Error", {}).get("Code", ""))
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "NoSuchBucket":
                return UserError(f"{what}: the bucket does not exist; check its name and region")
            if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "Forbidden") or status in (401, 403):
                return UserError(f"{what}: S3 refused the credentials ({code or status}); {self._hint}")
            message = str(error.response.get("Error", {}).get("Message", "")) or str(error)
            return UserError(f"{what}: S3 answered {code or status}: {redact(message)}")
        if isinstance(error, EndpointConnectionError):
            endpoint = error.kwargs.get("endpoint_url", "the S3 endpoint")
            return UserError(f"{what}: cannot reach {endpoint}; check s3_endpoint and the network")
        return UserError(f"{what}: {redact(str(error))}")

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except (BotoCoreError, ClientError) as error:
            raise self._user_error(error, what) from None

    # -- buckets -----------------------------------------------------------------------------

    def list_buckets(self) -> list[BucketInfo]:
        with self._errors("listing buckets"):
            answer = self._client(self.default_region).list_buckets()
        return [
            BucketInfo(BucketRef(entry["Name"], self.default_region), entry.get("CreationDate"))
            for entry in sorted(answer.get("Buckets", []), key=lambda entry: entry["Name"])
        ]

    def create_bucket(self, bucket: BucketRef) -> None:
        region = self._signing_region or bucket.region.lower()
        arguments: dict[str, Any] = {"Bucket": bucket.name}
        if region != "us-east-1":
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
        with self._errors(f"creating {bucket}"):
            self._client(bucket.region).create_bucket(**arguments)

    def delete_bucket(self, bucket: BucketRef) -> None:
        if self.list_page(bucket, delimiter=None, page_size=1).objects:
            raise bucket_not_empty(bucket)
        with self._errors(f"deleting {bucket}"):
            self._client(bucket.region).delete_bucket(Bucket=bucket.name)

    def bucket_exists(self, bucket: BucketRef) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client(bucket.region).head_bucket(Bucket=bucket.name)
        except ClientError as error:
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return False
            raise self._user_error(error, f"checking {bucket}") from None
        return True

    # -- objects -----------------------------------------------------------------------------

    def head(self, bucket: BucketRef, key: str) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        try:
            answer = self._client(bucket.region).head_object(Bucket=bucket.name, Key=key)
        except ClientError as error:
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return None
            raise self._user_error(error, f"reading {bucket}/{key}") from None
        return ObjectInfo(key, answer["ContentLength"], answer["LastModified"], answer["ETag"].strip('"'))

    def list_page(self, bucket: BucketRef, prefix: str = "", delimiter: str | None = "/", token: str | None = None,
                  page_size: int = 1000) -> ListPage:  # fmt: skip
        lean = self._lean(bucket.region)
        page = lean.list_page(bucket.name, prefix, delimiter, token, page_size) if lean is not None else None
        if page is not None:
            return page
        arguments: dict[str, Any] = {"Bucket": bucket.name, "Prefix": prefix, "MaxKeys": page_size}
        if delimiter:
            arguments["Delimiter"] = delimiter
        if token:
            arguments["ContinuationToken"] = token
        with self._errors(f"listing {bucket}"):
            answer = self._client(bucket.region).list_objects_v2(**arguments)
        objects = tuple(
            ObjectInfo(
                key=entry["Key"],
                size=entry["Size"],
                modified=entry["LastModified"],
                etag=entry.get("ETag", "").strip('"'),
                storage_class=entry.get("StorageClass", "STANDARD"),
            )
            for entry in answer.get("Contents", [])
        )
        prefixes = tuple(entry["Prefix"] for entry in answer.get("CommonPrefixes", []))
        return ListPage(objects, prefixes, answer.get("NextContinuationToken") if answer.get("IsTruncated") else None)

    # -- transfers ---------------------------------------------------------------------------

    def local_etag(self, item: UploadItem) -> str:
        if item.size > self.multipart_threshold:
            return multipart_etag(item.path, self.part_size)
        return hashlib.md5(item.path.read_bytes(), usedforsecurity=False).hexdigest()

    def put_file(self, bucket: BucketRef, item: UploadItem, on_bytes: BytesCallback, cancel: CancelToken) -> None:
        self.put_file_within(threading.BoundedSemaphore(self.workers), bucket, item, on_bytes, cancel)

    def put_file_within(
        self, slots: threading.BoundedSemaphore, bucket: BucketRef, item: UploadItem, on_bytes: BytesCallback, cancel: CancelToken
    ) -> None:
        """`put_file` with requests in flight (files and parts together) bounded by `slots`:
        a big file's parts must not pile threads on top of the small files' workers."""
        client = self._client(bucket.region)
        if item.size <= self.multipart_threshold:
            data = item.path.read_bytes()
            cancel.raise_if_cancelled()
            fast = self._lean(bucket.region)
            with slots:
                if fast is None or not fast.put(bucket.name, item.key, data):
                    with self._errors(f"uploading {item.key}"):
                        client.put_object(Bucket=bucket.name, Key=item.key, Body=data, ContentMD5=_content_md5(data))
            on_bytes(len(data))
            return
        self._put_multipart(slots, client, bucket, item, on_bytes, cancel)

    def _put_multipart(
        self, slots: threading.BoundedSemaphore, client: BaseClient, bucket: BucketRef, item: UploadItem, on_bytes: BytesCallback, cancel: CancelToken
    ) -> None:
        """A multipart upload that resumes where a killed one stopped (see `upload_journal`).

        A failure or a cancel aborts it as before: only a kill leaves parts, and the next
        upload of the same file picks them up."""
        journal = UploadJournal(self._endpoint_url or ovh_endpoint(bucket.region), bucket.name, item.key)
        fingerprint = JournalEntry("", item.size, item.path.stat().st_mtime_ns, self.part_size)
        upload_id, stored = self._resumable(client, bucket, item, journal, fingerprint)
        if upload_id is None:
            with self._errors(f"uploading {item.key}"):
                upload_id = client.create_multipart_upload(Bucket=bucket.name, Key=item.key)["UploadId"]
            journal.save(replace(fingerprint, upload_id=upload_id))
        try:
            parts = self._upload_parts(slots, client, bucket, item, upload_id, stored, on_bytes, cancel)
            cancel.raise_if_cancelled()
            with self._errors(f"uploading {item.key}"):
                client.complete_multipart_upload(
                    Bucket=bucket.name, Key=item.key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
        except BaseException:
            # Never leave parts (or a half object) behind: abort, and report the first error.
            self._abort(client, bucket, item.key, upload_id)
            journal.clear()
            raise
        journal.clear()

    def _abort(self, client: BaseClient, bucket: BucketRef, key: str, upload_id: str) -> None:
        try:
            client.abort_multipart_upload(Bucket=bucket.name, Key=key, UploadId=upload_id)
        except Exception:  # gone already, or the original failure is the one worth reporting
            pass

    def _resumable(
        self, client: BaseClient, bucket: BucketRef, item: UploadItem, journal: UploadJournal, fingerprint: JournalEntry
    ) -> tuple[str | None, dict[int, dict[str, Any]]]:
        """The journaled upload of this very file and its parts that check out, or (None, {})
        after aborting a stale one (the file changed, or the part size did)."""
        saved = journal.load()
        if saved is None:
            return None, {}
        if replace(saved, upload_id="") != fingerprint:
            self._abort(client, bucket, item.key, saved.upload_id)
            journal.clear()
            return None, {}
        from botocore.exceptions import ClientError

        stored: dict[int, dict[str, Any]] = {}
        try:
            pages = client.get_paginator("list_parts").paginate(Bucket=bucket.name, Key=item.key, UploadId=saved.upload_id)
            listed = [part for page in pages for part in page.get("Parts", [])]
        except ClientError:  # completed, aborted or expired meanwhile: start again
            journal.clear()
            return None, {}
        with item.path.open("rb") as source:
            for part in listed:
                number = int(part["PartNumber"])
                source.seek((number - 1) * self.part_size)
                data = source.read(self.part_size)
                if data and part.get("Size") == len(data) and str(part.get("ETag", "")).strip('"') == hashlib.md5(data, usedforsecurity=False).hexdigest():
                    stored[number] = {"PartNumber": number, "ETag": part["ETag"]}
        return saved.upload_id, stored

    def _upload_parts(
        self,
        slots: threading.BoundedSemaphore,
        client: BaseClient,
        bucket: BucketRef,
        item: UploadItem,
        upload_id: str,
        stored: dict[int, dict[str, Any]],
        on_bytes: BytesCallback,
        cancel: CancelToken,
    ) -> list[dict[str, Any]]:
        """Send the parts of one file concurrently (one big model file should fill the pipe too);
        those in `stored` are on the server already and count as sent."""
        count = max(1, -(-item.size // self.part_size))
        for number in stored:
            on_bytes(min(self.part_size, item.size - (number - 1) * self.part_size))
        with self._lock:
            self.parts_reused += len(stored)

        def send(number: int) -> dict[str, Any]:
            with slots:
                cancel.raise_if_cancelled()
                with item.path.open("rb") as source:
                    source.seek((number - 1) * self.part_size)
                    data = source.read(self.part_size)
                with self._errors(f"uploading {item.key}"):
                    answer = client.upload_part(
                        Bucket=bucket.name, Key=item.key, UploadId=upload_id, PartNumber=number, Body=data, ContentMD5=_content_md5(data)
                    )
            with self._lock:
                self.parts_sent += 1
            on_bytes(len(data))
            return {"PartNumber": number, "ETag": answer["ETag"]}

        missing = [number for number in range(1, count + 1) if number not in stored]
        with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(missing) or 1)), thread_name_prefix="s3-part") as pool:
            futures = {number: pool.submit(send, number) for number in missing}
            try:
                return [stored[number] if number in stored else futures[number].result() for number in range(1, count + 1)]
            except BaseException:
                for future in futures.values():  # parts not started yet are dropped
                    future.cancel()
                raise

    def get_file(self, bucket: BucketRef, info: ObjectInfo, target: Path, on_bytes: BytesCallback, cancel: CancelToken) -> None:
        """A small object in one GET (the lean one where it works); a big one in ranged parts."""
        if info.size > self.multipart_threshold:
            self._get_ranged(bucket, info, target, on_bytes, cancel)
            return
        with target.open("wb") as sink:
            lean = self._lean(bucket.region)
            if lean is not None and lean.get(bucket.name, info.key, sink):
                on_bytes(sink.tell())
                return
            sink.seek(0)
            sink.truncate()
            self._get_into(bucket, info.key, sink, None, on_bytes, cancel)

    def _get_into(self, bucket: BucketRef, key: str, sink: Writable, span: tuple[int, int] | None, on_bytes: BytesCallback, cancel: CancelToken) -> None:
        """boto3's GET of the object (or of bytes span[0]..span[1]) written to `sink`."""
        arguments: dict[str, Any] = {"Bucket": bucket.name, "Key": key}
        if span is not None:
            arguments["Range"] = f"bytes={span[0]}-{span[1]}"
        with self._errors(f"downloading {bucket}/{key}"):
            body = self._client(bucket.region).get_object(**arguments)["Body"]
            try:
                for chunk in body.iter_chunks(DOWNLOAD_CHUNK):
                    cancel.raise_if_cancelled()
                    sink.write(chunk)
                    on_bytes(len(chunk))
            finally:
                body.close()

    def download_part_size(self, info: ObjectInfo) -> int:
        """The uploader's part size where the ETag tells it (each part can then be checked as
        it arrives), else ours."""
        sizes = [size for size in candidate_part_sizes(info.size, info.etag, self.part_size) if size <= LARGEST_DOWNLOAD_PART]
        return sizes[0] if sizes else self.part_size

    def _get_ranged(self, bucket: BucketRef, info: ObjectInfo, target: Path, on_bytes: BytesCallback, cancel: CancelToken) -> None:
        """Parts fetched concurrently straight into place in `target` (the engine's temporary
        name); a journal beside it records finished parts, so a killed download resumes with
        the parts already on disk. The whole file is checked against the object's ETag."""
        journal = DownloadJournal(target, info, self.download_part_size(info))
        try:
            self._fetch_parts(bucket, info, target, journal, on_bytes, cancel)
        except BaseException:
            journal.discard()  # a failure or a cancel leaves nothing; only a kill leaves parts to resume
            raise
        journal.discard()

    def _fetch_parts(self, bucket: BucketRef, info: ObjectInfo, target: Path, journal: DownloadJournal, on_bytes: BytesCallback, cancel: CancelToken) -> None:
        done = journal.load()
        digests = PartDigests(info.etag, journal.parts)
        if done:
            on_bytes(sum(journal.part_length(n) for n in done))
            if digests.usable:
                for number in done:
                    digests.record_from_disk(target, number, journal.span(number)[0], journal.part_length(number))
        todo = [number for number in range(journal.parts) if number not in done]
        lean = self._lean(bucket.region)

        def fetch(number: int) -> None:
            cancel.raise_if_cancelled()
            first, last = journal.span(number)
            with target.open("r+b") as handle:
                handle.seek(first)
                sink = HashingWriter(handle)
                if lean is not None and lean.get(bucket.name, info.key, sink, first, last):
                    on_bytes(last - first + 1)
                else:  # from the start of the part again, with boto3
                    handle.seek(first)
                    sink = HashingWriter(handle)
                    self._get_into(bucket, info.key, sink, (first, last), on_bytes, cancel)
            digests.record(number, sink.digest.digest())
            journal.finished(number)

        with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(todo) or 1)), thread_name_prefix="s3-range") as pool:
            futures = [pool.submit(fetch, number) for number in todo]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        whole = digests.matches() if digests.usable else etag_matches(target, info.etag, journal.part_size)
        if not whole:
            raise UserError(f"{bucket}/{info.key} came down different from what the server holds (ETag {info.etag}): download it again")

    def _mover(self, options: UploadOptions) -> ObjectMover:
        """Every request of one upload shares that upload's worker budget."""
        return _Bounded(self, threading.BoundedSemaphore(options.workers))

    def delete(self, bucket: BucketRef, keys: Iterable[str], progress: ProgressCallback, cancel: CancelToken) -> TransferResult:
        """`DeleteObjects` batches of 1,000 keys, several at once, each sent as soon as it is
        full (a prefix's listing streams in); a key the server refuses is reported with its
        reason and the rest still go."""
        client = self._client(bucket.region)
        total = delete_total(keys)
        done: list[str] = []
        failed: list[tuple[str, str]] = []
        lock = threading.Lock()

        def remove(batch: list[str]) -> None:
            if cancel.cancelled:
                with lock:
                    failed.extend((key, "cancelled") for key in batch)
                return
            with self._errors(f"deleting from {bucket}"):
                answer = client.delete_objects(Bucket=bucket.name, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": False})
            with lock:
                done.extend(entry["Key"] for entry in answer.get("Deleted", []))
                failed.extend((entry["Key"], entry.get("Message") or entry.get("Code", "failed")) for entry in answer.get("Errors", []))
                progress(TransferProgress(batch[-1], 0, 0, 0, 0, len(done) + len(failed), total or 0))

        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="s3-delete") as pool:
            sent: deque[Future[None]] = deque()
            try:
                for batch in _batches(keys, DELETE_BATCH):
                    if cancel.cancelled and total is None:
                        break
                    sent.append(pool.submit(remove, batch))
                    while len(sent) > 2 * self.workers:  # the listing waits for the deletes, not the reverse
                        sent.popleft().result()
                for future in sent:
                    future.result()
            except BaseException:
                for future in sent:
                    future.cancel()
                raise
        return TransferResult(done=tuple(done), failed=tuple(failed))


def _batches(keys: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for key in keys:
        batch.append(key)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Bounded:
    """The store as one upload sees it: every request shares that upload's worker budget."""

    def __init__(self, store: S3ObjectStore, slots: threading.BoundedSemaphore) -> None:
        self._store = store
        self._slots = slots
        self.head = store.head
        self.list_page = store.list_page
        self.local_etag = store.local_etag
        self.get_file = store.get_file

    def put_file(self, bucket: BucketRef, item: UploadItem, on_bytes: BytesCallback, cancel: CancelToken) -> None:
        self._store.put_file_within(self._slots, bucket, item, on_bytes, cancel)
