"""The lean S3 paths beside boto3, on moto's server: ListObjectsV2 pages (signed as botocore
signs, parsed to what boto3 lists, keys of every kind), ranged resumable downloads checked
against the ETag, concurrent batch deletes with a refused key, and the fallback to boto3
through a gateway that refuses anything but botocore."""

from __future__ import annotations

import hashlib
import http.client
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from services.cancel import CancelToken
from services.config import S3Credentials
from services.ports import free_port
from services.secrets import Secret
from services.storage.etag import MIB, PartDigests, Writable, etag_matches, multipart_etag
from services.storage.listing import iter_objects
from services.storage.protocol import BucketRef
from services.storage.s3 import S3ObjectStore
from services.storage.s3_lean import LeanS3, signed_headers
from tests.auth_proxy import FilteringProxy

CREDENTIALS = S3Credentials(Secret("test-access"), Secret("test-secret-key"), "test")
AT = datetime(2026, 11, 25, 14, 0, 0, tzinfo=UTC)
TRICKY = ["plain.txt", "dir with space/file name.bin", "été/àccents.txt", "日本/データ.bin", "plus+sign.txt", "per%cent.txt", "a&b=c?.txt", "tilde~/x"]


def store_on(endpoint: str, **options: object) -> S3ObjectStore:
    return S3ObjectStore(CREDENTIALS, endpoint_url=endpoint, signing_region="us-east-1", **options)  # type: ignore[arg-type]


def test_the_listing_signature_is_botocores() -> None:
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    query = {"list-type": "2", "prefix": "dir with space/é", "max-keys": "7", "continuation-token": "a+b/c==", "encoding-type": "url"}
    ours = signed_headers(CREDENTIALS, "gra", "GET", "127.0.0.1:9000", "/bucket", query, AT)
    request = AWSRequest(method="GET", url="http://127.0.0.1:9000/bucket", params=query, headers={k: v for k, v in ours.items() if k != "authorization"})
    request.context["timestamp"] = AT.strftime("%Y%m%dT%H%M%SZ")
    signer = S3SigV4Auth(Credentials(CREDENTIALS.access_key.reveal(), CREDENTIALS.secret_key.reveal()), "s3", "gra")
    canonical = signer.canonical_request(request)
    assert ours["authorization"].endswith(f"Signature={signer.signature(signer.string_to_sign(request, canonical), request)}")


@pytest.mark.parametrize("page_size", [1, 7, 1000])
def test_lean_pages_list_what_boto3_lists(moto_endpoint: str, page_size: int) -> None:
    store = store_on(moto_endpoint)
    bucket = BucketRef(f"lean-list-{page_size}", "US-EAST-1")
    store.create_bucket(bucket)
    client = store._client(bucket.region)
    for index, key in enumerate(TRICKY * 3):
        client.put_object(Bucket=bucket.name, Key=f"{index:02d}/{key}", Body=key.encode() * (index + 1))
    expected = [
        (entry["Key"], entry["Size"], entry["ETag"].strip('"'), entry["LastModified"])
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket.name) for entry in page.get("Contents", [])
    ]  # fmt: skip
    lean = store._lean(bucket.region)
    assert lean is not None
    first = lean.list_page(bucket.name, "", None, None, page_size)
    assert first is not None, "the lean path answered"
    listed = [(info.key, info.size, info.etag, info.last_modified) for info in iter_objects(store, bucket, page_size=page_size)]
    assert listed == expected
    folders = store.list_page(bucket, "", "/", None, 1000)
    assert set(folders.prefixes) == {f"{index:02d}/" for index in range(len(TRICKY) * 3)}


def big_object(store: S3ObjectStore, bucket: BucketRef, tmp_path: Path, megabytes: int = 20) -> Path:
    source = tmp_path / "big.onnx"
    source.write_bytes(os.urandom(megabytes * MIB))
    from services.storage.protocol import UploadItem, UploadOptions

    assert store.upload(bucket, [UploadItem(source, "models/big.onnx", source.stat().st_size)], UploadOptions(), lambda _p: None, CancelToken()).ok
    return source


def ranges_fetched(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The first byte of every ranged lean GET from now on, as they are sent."""
    ranges: list[int] = []
    original = LeanS3.get

    def counting(self: LeanS3, *args: object, **kwargs: object) -> bool:
        if len(args) > 3 and args[3] is not None:
            ranges.append(int(args[3]))  # type: ignore[call-overload]
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(LeanS3, "get", counting)
    return ranges


def test_a_20_mb_object_comes_down_in_ranged_parts_byte_for_byte(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = store_on(moto_endpoint, multipart_threshold=5 * MIB, part_size=5 * MIB)
    bucket = BucketRef("lean-big", "US-EAST-1")
    store.create_bucket(bucket)
    source = big_object(store, bucket, tmp_path)
    ranges = ranges_fetched(monkeypatch)
    objects = list(iter_objects(store, bucket, "models/"))
    assert "-" in objects[0].etag, "a multipart object"
    result = store.download(bucket, objects, tmp_path / "out", lambda _p: None, CancelToken(), remove_prefix="models/")
    assert result.ok and (tmp_path / "out" / "big.onnx").read_bytes() == source.read_bytes()
    assert sorted(ranges) == [0, 5 * MIB, 10 * MIB, 15 * MIB]
    assert not list((tmp_path / "out").glob(".*")), "no temporary file or journal left"


def test_a_part_that_comes_down_wrong_fails_the_download_without_a_second_read(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The parts are the uploader's, so each is hashed as it arrives: the ETag check needs no
    re-read of the file, and still catches one flipped byte."""
    store = store_on(moto_endpoint, multipart_threshold=5 * MIB, part_size=5 * MIB)
    bucket = BucketRef("lean-flip", "US-EAST-1")
    store.create_bucket(bucket)
    big_object(store, bucket, tmp_path)
    objects = list(iter_objects(store, bucket, "models/"))

    def no_reread(*_args: object) -> bool:
        raise AssertionError("the file was read again to check it")

    monkeypatch.setattr("services.storage.s3.etag_matches", no_reread)
    good = store.download(bucket, objects, tmp_path / "good", lambda _p: None, CancelToken(), remove_prefix="models/")
    assert good.ok
    original = LeanS3.get

    def flipping(self: LeanS3, bucket_name: str, key: str, sink: Writable, first: int | None = None, last: int | None = None, on_bytes: object = None) -> bool:
        class Flip:
            def write(self, data: bytes) -> int:
                return sink.write(bytes([data[0] ^ 1]) + data[1:] if first == 10 * MIB else data)

        return original(self, bucket_name, key, Flip(), first, last)

    monkeypatch.setattr(LeanS3, "get", flipping)
    bad = store.download(bucket, objects, tmp_path / "bad", lambda _p: None, CancelToken(), remove_prefix="models/")
    assert [reason for _key, reason in bad.failed] == ["lean-flip@US-EAST-1/models/big.onnx came down different from what the server holds (ETag " + objects[0].etag + "): download it again"]
    assert not list((tmp_path / "bad").rglob("*.onnx*")), "neither the file nor its parts are left"


def test_part_digests_stand_in_for_the_etag_only_when_the_parts_are_the_uploaders() -> None:
    parts = [os.urandom(1000) for _ in range(3)]
    etag = hashlib.md5(b"".join(hashlib.md5(part).digest() for part in parts)).hexdigest() + "-3"
    digests = PartDigests(etag, 3)
    assert digests.usable and not PartDigests(etag, 4).usable and not PartDigests("abc", 2).usable and PartDigests("abc", 1).usable
    for number, part in reversed(list(enumerate(parts))):  # parts finish in any order
        digests.record(number, hashlib.md5(part).digest())
    assert digests.matches()
    digests.record(1, hashlib.md5(b"x" + parts[1][1:]).digest())
    assert not digests.matches()


KILLED_DOWNLOAD = r"""
import os, signal, sys
from services.cancel import CancelToken
from services.config import S3Credentials
from services.secrets import Secret
from services.storage.download_journal import DownloadJournal
from services.storage.protocol import BucketRef
from services.storage.listing import iter_objects
from services.storage.s3 import MIB, S3ObjectStore

finished = DownloadJournal.finished
def dying(self, number):
    finished(self, number)
    if len(self._done) == 2:
        os.kill(os.getpid(), signal.SIGKILL)  # as a kill: nothing gets to clean up
DownloadJournal.finished = dying
store = S3ObjectStore(S3Credentials(Secret("test-access"), Secret("test-secret-key"), "t"), endpoint_url=sys.argv[1], signing_region="us-east-1",
                      multipart_threshold=5 * MIB, part_size=5 * MIB, workers=1)
bucket = BucketRef("lean-resume", "US-EAST-1")
from pathlib import Path
store.download(bucket, list(iter_objects(store, bucket, "models/")), Path(sys.argv[2]), lambda _p: None, CancelToken(), remove_prefix="models/")
"""


def test_a_killed_download_resumes_with_the_parts_on_disk(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = store_on(moto_endpoint, multipart_threshold=5 * MIB, part_size=5 * MIB, workers=1)
    bucket = BucketRef("lean-resume", "US-EAST-1")
    store.create_bucket(bucket)
    source = big_object(store, bucket, tmp_path)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    killed = subprocess.run([sys.executable, "-c", KILLED_DOWNLOAD, moto_endpoint, str(out)], env=env, timeout=120)
    assert killed.returncode == -9
    assert not (out / "big.onnx").exists() and (out / ".big.onnx.part").exists(), "nothing under the real name, the parts kept"
    ranges = ranges_fetched(monkeypatch)
    result = store.download(bucket, list(iter_objects(store, bucket, "models/")), out, lambda _p: None, CancelToken(), remove_prefix="models/")
    assert result.ok and (out / "big.onnx").read_bytes() == source.read_bytes()
    assert sorted(ranges) == [10 * MIB, 15 * MIB], "only the parts the killed run had not finished"


def test_a_corrupted_part_is_caught_by_the_etag(tmp_path: Path) -> None:
    data = os.urandom(3 * MIB)
    path = tmp_path / "f"
    path.write_bytes(data)
    whole, parts = hashlib.md5(data).hexdigest(), multipart_etag(path, MIB)
    assert etag_matches(path, whole, MIB) and etag_matches(path, parts, MIB)
    assert etag_matches(path, multipart_etag(path, 8 * MIB), MIB), "another uploader's part size is tried too"
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit flipped in the last part
    assert not etag_matches(path, whole, MIB) and not etag_matches(path, parts, MIB)


def test_a_gateway_that_refuses_the_lean_requests_gets_them_from_boto3(moto_endpoint: str, tmp_path: Path) -> None:
    refusal = (403, "application/xml", b"<Error><Code>SignatureDoesNotMatch</Code></Error>")
    port = urlsplit(moto_endpoint).port
    assert port is not None
    direct = store_on(moto_endpoint)
    bucket = BucketRef("lean-refused", "US-EAST-1")
    direct.create_bucket(bucket)
    for index in range(5):
        direct._client(bucket.region).put_object(Bucket=bucket.name, Key=f"k/{index}", Body=b"x" * index)
    with FilteringProxy(port, lambda headers: "Botocore" in headers.get("User-Agent", ""), refusal) as proxy:
        store = store_on(f"http://127.0.0.1:{proxy.port}", workers=1)
        assert [info.key for info in iter_objects(store, bucket, page_size=2)] == [f"k/{index}" for index in range(5)]
        result = store.download(bucket, list(iter_objects(store, bucket)), tmp_path / "out", lambda _p: None, CancelToken())
        assert result.ok and (tmp_path / "out" / "k" / "4").read_bytes() == b"xxxx"
        assert proxy.rejected == 3, "three refusals, then the store stops trying"


class RefusingDeletes:
    """Forwards everything; in DeleteObjects answers, reports `refused` as an error the server gave."""

    def __init__(self, upstream: int, refused: str) -> None:
        self.port = free_port()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                connection = http.client.HTTPConnection("127.0.0.1", upstream, timeout=30)
                connection.request(self.command, self.path, body=body, headers={k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")})
                answer = connection.getresponse()
                payload = answer.read()
                if self.command == "POST" and "delete" in self.path:
                    deleted = f"<Deleted><Key>{refused}</Key></Deleted>".encode()
                    payload = payload.replace(deleted, f"<Error><Key>{refused}</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>".encode())
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_deletes_go_in_concurrent_batches_and_a_refused_key_is_named(moto_endpoint: str) -> None:
    port = urlsplit(moto_endpoint).port
    assert port is not None
    proxy = RefusingDeletes(port, "k/01234")
    try:
        store = store_on(f"http://127.0.0.1:{proxy.port}", workers=4)
        bucket = BucketRef("lean-delete", "US-EAST-1")
        direct = store_on(moto_endpoint)
        direct.create_bucket(bucket)
        client = direct._client(bucket.region)
        keys = [f"k/{index:05d}" for index in range(2500)]
        with ThreadPoolExecutor(8) as pool:  # set up straight on the server, not through the proxy
            list(pool.map(lambda key: client.put_object(Bucket=bucket.name, Key=key, Body=b""), keys))
        seen: list[int] = []
        result = store.delete(bucket, keys, lambda progress: seen.append(progress.files_done), CancelToken())
        assert result.failed == (("k/01234", "Access Denied"),)
        assert len(result.done) == 2499 and sorted(seen)[-1] == 2500 and len(seen) == 3, "three batches of at most 1,000"
    finally:
        proxy.close()


LIST_PAGE = (
    b'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"<Name>b</Name><Prefix></Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys><IsTruncated>true</IsTruncated>"
    b"<Contents><Key>mod%C3%A8le+a/1/model.onnx</Key><LastModified>2026-11-25T14:00:00.000Z</LastModified>"
    b"<ETag>&quot;abc-2&quot;</ETag><Size>123</Size><StorageClass>STANDARD</StorageClass></Contents>"
    b"<Contents><Key>z</Key><LastModified>2026-11-26T09:30:00.000Z</LastModified><ETag>&quot;def&quot;</ETag><Size>0</Size></Contents>"
    b"<CommonPrefixes><Prefix>p%2F/</Prefix></CommonPrefixes>"
    b"<NextContinuationToken>tok+en==</NextContinuationToken></ListBucketResult>"
)


@pytest.mark.parametrize("chunk", [1, 7, 64 * 1024])
def test_a_listing_page_is_parsed_as_it_arrives_and_dates_wait_until_asked(chunk: int) -> None:
    from datetime import UTC, datetime

    from services.storage.s3_lean import parse_list_page

    page = parse_list_page(LIST_PAGE[start : start + chunk] for start in range(0, len(LIST_PAGE), chunk))
    assert [(info.key, info.size, info.etag, info.storage_class) for info in page.objects] == [("modèle a/1/model.onnx", 123, "abc-2", "STANDARD"), ("z", 0, "def", "STANDARD")]
    assert page.prefixes == ("p//",) and page.next_token == "tok+en=="
    first = page.objects[0]
    assert first.modified == "2026-11-25T14:00:00.000Z", "no datetime work while listing"
    assert first.last_modified == datetime(2026, 11, 25, 14, 0, tzinfo=UTC) and first.modified == first.last_modified, "parsed once, when asked"
    with pytest.raises(ValueError):
        parse_list_page([LIST_PAGE.replace(b"<LastModified>2026-11-26T09:30:00.000Z</LastModified>", b"")])
