"""A lean signed PUT for small objects, beside boto3.

A model repository is mostly small files, and botocore spends ~1.5 ms of CPU per request
(under the GIL) building, signing and parsing; on a 2-core jump host that, not the network,
bounds an upload. This sends the same single-part PutObject with a SigV4 signature computed
here (UNSIGNED-PAYLOAD, Content-MD5 for integrity) over one keep-alive connection per
thread, about 3x cheaper. It only ever answers "stored" or "not this way": anything other
than a 200 (or any exception) returns False and the caller sends the object with boto3,
which owns retries and error messages. After a few such refusals the store stops trying.
It is not used when a proxy is configured (boto3 goes through it); TLS trusts what boto3
trusts (AWS_CA_BUNDLE, else certifi's bundle).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import os
import ssl
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from services.config import S3Credentials

UNSIGNED = "UNSIGNED-PAYLOAD"
ALGORITHM = "AWS4-HMAC-SHA256"
GIVE_UP_AFTER = 3
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def tls_context(env: Mapping[str, str]) -> ssl.SSLContext:
    """The certificates botocore verifies with: AWS_CA_BUNDLE, else certifi's bundle."""
    bundle = env.get("AWS_CA_BUNDLE")
    if not bundle:
        try:
            import certifi

            bundle = certifi.where()
        except ImportError:
            bundle = None
    return ssl.create_default_context(cafile=bundle)


def signing_key(secret: str, date: str, region: str) -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signed_put_headers(
    credentials: S3Credentials, region: str, host: str, path: str, data: bytes, at: datetime
) -> dict[str, str]:
    """The headers of a SigV4-signed PutObject of `data` at `path` (already URI-encoded)."""
    stamp = at.strftime("%Y%m%dT%H%M%SZ")
    date = stamp[:8]
    headers = {
        "content-md5": base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode(),
        "host": host,
        "x-amz-content-sha256": UNSIGNED,
        "x-amz-date": stamp,
    }
    names = ";".join(sorted(headers))
    canonical = "\n".join(["PUT", path, "", "".join(f"{name}:{headers[name]}\n" for name in sorted(headers)), names, UNSIGNED])
    scope = f"{date}/{region}/s3/aws4_request"
    text = "\n".join([ALGORITHM, stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    signature = hmac.new(signing_key(credentials.secret_key.reveal(), date, region), text.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = f"{ALGORITHM} Credential={credentials.access_key.reveal()}/{scope}, SignedHeaders={names}, Signature={signature}"
    return headers


class FastPut:
    def __init__(self, endpoint: str, region: str, credentials: S3Credentials, addressing_style: str) -> None:
        parts = urlsplit(endpoint)
        self._tls = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._region = region
        self._credentials = credentials
        self._virtual = addressing_style == "virtual"
        self._local = threading.local()
        self._refusals = 0
        self.sent = 0  # objects stored this way (the benchmark reports it)

    @classmethod
    def usable(cls, endpoint: str, env: Mapping[str, str] | None = None) -> bool:
        parts = urlsplit(endpoint)
        environment = os.environ if env is None else env
        return parts.scheme in ("http", "https") and parts.path in ("", "/") and not any(environment.get(name) for name in PROXY_VARIABLES)

    @property
    def active(self) -> bool:
        return self._refusals < GIVE_UP_AFTER

    def _connection(self, host: str) -> http.client.HTTPConnection:
        connections: dict[str, http.client.HTTPConnection] = self._local.__dict__.setdefault("connections", {})
        connection = connections.get(host)
        if connection is None:
            if self._tls:
                connection = http.client.HTTPSConnection(host, self._port, timeout=60, context=tls_context(os.environ))
            else:
                connection = http.client.HTTPConnection(host, self._port, timeout=60)
            connections[host] = connection
        return connection

    def put(self, bucket: str, key: str, data: bytes) -> bool:
        """True when the server stored the object; False to say "send it with boto3"."""
        if not self.active:
            return False
        host = f"{bucket}.{self._host}" if self._virtual else self._host
        path = "/" + quote(key, safe="/~") if self._virtual else f"/{quote(bucket, safe='')}/{quote(key, safe='/~')}"
        header_host = host if self._port is None else f"{host}:{self._port}"
        headers = signed_put_headers(self._credentials, self._region, header_host, path, data, datetime.now(UTC))
        try:
            connection = self._connection(host)
        except (OSError, ssl.SSLError):  # e.g. an unreadable CA bundle: boto3 will say what is wrong
            self._refusals = GIVE_UP_AFTER
            return False
        try:
            connection.request("PUT", path, body=data, headers=headers)
            answer = connection.getresponse()
            answer.read()
            if answer.status == 200:
                self.sent += 1
                return True
            if answer.status in (400, 401, 403):  # this server does not take our signing: stop trying soon
                self._refusals += 1
        except (OSError, http.client.HTTPException):
            connection.close()
        return False
