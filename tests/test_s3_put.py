"""The lean signed PUT: its SigV4 signature equals botocore's for the same request, it stores
objects on a real S3 server, and a server that refuses it gets every object from boto3."""

from __future__ import annotations

import hashlib
import ssl
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from services.cancel import CancelToken
from services.config import S3Credentials
from services.secrets import Secret
from services.storage.listing import iter_objects
from services.storage.planning import plan_upload
from services.storage.protocol import BucketRef, UploadOptions
from services.storage.s3 import S3ObjectStore
from services.storage.s3_lean import LeanS3, signed_put_headers, tls_context
from tests.auth_proxy import FilteringProxy

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


def test_a_server_that_refuses_the_lean_put_gets_everything_from_boto3(moto_endpoint: str, tmp_path: Path) -> None:
    """A gateway that only takes boto3's requests (say, a signing it does not support)."""
    refusal = (403, "application/xml", b"<Error><Code>SignatureDoesNotMatch</Code></Error>")
    port = urlsplit(moto_endpoint).port
    assert port is not None
    with FilteringProxy(port, lambda headers: "Botocore" in headers.get("User-Agent", ""), refusal) as proxy:
        store = S3ObjectStore(CREDENTIALS, endpoint_url=f"http://127.0.0.1:{proxy.port}", signing_region="us-east-1", workers=1)
        bucket = BucketRef("refusing", "US-EAST-1")
        store.create_bucket(bucket)
        items = tree(tmp_path, 12)
        assert store.upload(bucket, items, UploadOptions(workers=1), lambda _p: None, CancelToken()).ok
        assert store.fast_puts_sent == 0 and proxy.rejected == 3, "three refusals, then it stops trying"
        assert set(stored(store, bucket)) == {item.key for item in items}


def test_not_used_behind_a_proxy_and_trusting_what_boto3_trusts(tmp_path: Path) -> None:
    assert LeanS3.usable("https://s3.gra.io.cloud.ovh.net", {})
    assert not LeanS3.usable("https://s3.gra.io.cloud.ovh.net", {"HTTPS_PROXY": "http://proxy:3128"})
    assert not LeanS3.usable("https://gateway.example/s3", {})
    import certifi

    assert tls_context({}).cert_store_stats()["x509_ca"] > 0
    with pytest.raises((FileNotFoundError, ssl.SSLError)):
        tls_context({"AWS_CA_BUNDLE": str(tmp_path / "missing.pem")})
    assert tls_context({"AWS_CA_BUNDLE": certifi.where()}).verify_mode is ssl.CERT_REQUIRED
