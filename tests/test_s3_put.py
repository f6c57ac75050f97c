"""The lean signed PUT: its SigV4 signature equals botocore's for the same request, it stores
objects on a real S3 server, and a server that refuses it gets every object from boto3."""

from __future__ import annotations

import hashlib
import http.client
import ssl
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from services.cancel import CancelToken
from services.config import S3Credentials
from services.ports import free_port
from services.secrets import Secret
from services.storage.planning import plan_upload
from services.storage.protocol import BucketRef, UploadOptions, iter_objects
from services.storage.s3 import S3ObjectStore
from services.storage.s3_put import FastPut, signed_put_headers, tls_context

CREDENTIALS = S3Credentials(Secret("AKIDEXAMPLE-fastput"), Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), "test")
AT = datetime(2026, 11, 25, 14, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("host", "path"), [("s3.gra.io.cloud.ovh.net", "/my-models/efficientnet_lite0/1/model.onnx"), ("127.0.0.1:9000", "/b/dir%20with%20space/%C3%A9t%C3%A9.txt")])
def test_the_signature_is_botocores(host: str, path: str) -> None:
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    data = b"config.pbtxt content\n"
    ours = signed_put_headers(CREDENTIALS, "gra", host, path, data, AT)
    request = AWSRequest(method="PUT", url=f"https://{host}{path}", data=data, headers={k: v for k, v in ours.items() if k != "authorization"})
    request.context["timestamp"] = AT.strftime("%Y%m%dT%H%M%SZ")
    signer = S3SigV4Auth(Credentials(CREDENTIALS.access_key.reveal(), CREDENTIALS.secret_key.reveal()), "s3", "gra")
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    assert ours["authorization"].endswith(f"Signature={signature}")
    assert ours["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={CREDENTIALS.access_key.reveal()}/20261125/gra/s3/aws4_request, SignedHeaders=content-md5;host;x-amz-content-sha256;x-amz-date,")


def tree(root: Path, count: int) -> list:  # type: ignore[type-arg]
    for index in range(count):
        path = root / "repo" / f"m{index % 3}" / "1" / f"f{index}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(hashlib.sha256(str(index).encode()).digest() * (index + 1))
    return plan_upload([str(root / "repo") + "/"], remove_prefix=str(root / "repo").lstrip("/") + "/")


def stored(store: S3ObjectStore, bucket: BucketRef) -> dict[str, str]:
    return {obj.key: obj.etag.strip('"') for obj in iter_objects(store, bucket, "")}


def test_small_files_go_up_signed_here_with_md5_etags(moto_endpoint: str, tmp_path: Path) -> None:
    store = S3ObjectStore(CREDENTIALS, endpoint_url=moto_endpoint, signing_region="us-east-1")
    bucket = BucketRef("fast-put", "US-EAST-1")
    store.create_bucket(bucket)
    items = tree(tmp_path, 40)
    assert store.upload(bucket, items, UploadOptions(), lambda _p: None, CancelToken()).ok
    assert store.fast_puts_sent == 40
    assert stored(store, bucket) == {item.key: hashlib.md5(item.path.read_bytes()).hexdigest() for item in items}


class RefusingProxy:
    """Forwards boto3's requests to the S3 server and answers 403 to any other client,
    as a server that does not take our signing would."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.refused = 0
        self.port = free_port()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *_args: object) -> None:
                pass

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                if "Botocore" not in self.headers.get("User-Agent", ""):
                    proxy.refused += 1
                    page = b"<Error><Code>SignatureDoesNotMatch</Code></Error>"
                    self.send_response(403)
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                    return
                upstream = http.client.HTTPConnection(proxy.upstream.hostname or "", proxy.upstream.port, timeout=30)
                upstream.request(self.command, self.path, body=body, headers={k: v for k, v in self.headers.items() if k.lower() != "connection"})
                answer = upstream.getresponse()
                payload = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_a_server_that_refuses_the_lean_put_gets_everything_from_boto3(moto_endpoint: str, tmp_path: Path) -> None:
    proxy = RefusingProxy(moto_endpoint)
    try:
        store = S3ObjectStore(CREDENTIALS, endpoint_url=f"http://127.0.0.1:{proxy.port}", signing_region="us-east-1", workers=1)
        bucket = BucketRef("refusing", "US-EAST-1")
        store.create_bucket(bucket)
        items = tree(tmp_path, 12)
        assert store.upload(bucket, items, UploadOptions(workers=1), lambda _p: None, CancelToken()).ok
        assert store.fast_puts_sent == 0 and proxy.refused == 3, "three refusals, then it stops trying"
        assert set(stored(store, bucket)) == {item.key for item in items}
    finally:
        proxy.stop()


def test_not_used_behind_a_proxy_and_trusting_what_boto3_trusts(tmp_path: Path) -> None:
    assert FastPut.usable("https://s3.gra.io.cloud.ovh.net", {})
    assert not FastPut.usable("https://s3.gra.io.cloud.ovh.net", {"HTTPS_PROXY": "http://proxy:3128"})
    assert not FastPut.usable("https://gateway.example/s3", {})
    import certifi

    assert tls_context({}).cert_store_stats()["x509_ca"] > 0
    with pytest.raises((FileNotFoundError, ssl.SSLError)):
        tls_context({"AWS_CA_BUNDLE": str(tmp_path / "missing.pem")})
    assert tls_context({"AWS_CA_BUNDLE": certifi.where()}).verify_mode is ssl.CERT_REQUIRED
