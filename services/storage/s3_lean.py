"""Lean signed S3 requests beside boto3: PUT of small objects, GET (whole or a byte range)
and ListObjectsV2 pages.

A model repository is mostly small files, and botocore spends ~1.5 ms of CPU per request
(under the GIL) building, signing and parsing, ~170 ms per 1,000-key listing page (XML and
datetime parsing); on a 2-core jump host that, not the network, bounds a transfer. These
send the same requests with a SigV4 signature computed here over one keep-alive connection
per thread (`http_lean`: one send per request, the answer's head parsed by hand), and parse
a listing with the C XML parser and `datetime.fromisoformat`.
Each only ever answers "done" or "not this way": anything other than the expected status
(or any exception) returns None/False and the caller does it with boto3, which owns
retries and error messages. After a few refusals the store stops trying. Not used when a
proxy is configured (boto3 goes through it); TLS trusts what boto3 trusts (AWS_CA_BUNDLE,
else certifi's bundle).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote_plus, urlencode, urlsplit
from xml.etree import ElementTree

from services.config import S3Credentials
from services.storage.etag import Writable
from services.storage.http_lean import Connection, Response, Unsupported
from services.storage.protocol import ListPage, ObjectInfo

UNSIGNED = "UNSIGNED-PAYLOAD"
ALGORITHM = "AWS4-HMAC-SHA256"
GIVE_UP_AFTER = 3
READ_CHUNK = 1024 * 1024
LIST_CHUNK = 64 * 1024  # a listing page is parsed as it arrives, this much at a time
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


def signed_headers(
    credentials: S3Credentials, region: str, method: str, host: str, path: str, query: Mapping[str, str], at: datetime,
    payload_hash: str = UNSIGNED, extra: Mapping[str, str] | None = None,
) -> dict[str, str]:  # fmt: skip
    """SigV4 headers for `method` on `path` (already URI-encoded) with `query` (raw values)."""
    stamp = at.strftime("%Y%m%dT%H%M%SZ")
    date = stamp[:8]
    headers = {**{name.lower(): value for name, value in (extra or {}).items()}, "host": host, "x-amz-content-sha256": payload_hash, "x-amz-date": stamp}
    names = ";".join(sorted(headers))
    canonical_query = "&".join(f"{quote(name, safe='-_.~')}={quote(value, safe='-_.~')}" for name, value in sorted(query.items()))
    canonical = "\n".join([method, path, canonical_query, "".join(f"{name}:{headers[name]}\n" for name in sorted(headers)), names, payload_hash])
    scope = f"{date}/{region}/s3/aws4_request"
    text = "\n".join([ALGORITHM, stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    signature = hmac.new(signing_key(credentials.secret_key.reveal(), date, region), text.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = f"{ALGORITHM} Credential={credentials.access_key.reveal()}/{scope}, SignedHeaders={names}, Signature={signature}"
    return headers


def signed_put_headers(
    credentials: S3Credentials, region: str, host: str, path: str, data: bytes, at: datetime
) -> dict[str, str]:
    """The headers of a SigV4-signed PutObject of `data` at `path` (already URI-encoded)."""
    md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
    return signed_headers(credentials, region, "PUT", host, path, {}, at, extra={"content-md5": md5})


class LeanS3:
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

    def _connection(self, host: str) -> Connection:
        connections: dict[str, Connection] = self._local.__dict__.setdefault("connections", {})
        connection = connections.get(host)
        if connection is None:
            port = self._port or (443 if self._tls else 80)
            connection = connections[host] = Connection(host, port, tls_context(os.environ) if self._tls else None, timeout=60)
        return connection

    def _forget(self, host: str) -> None:
        """A connection read part-way (or refused by our client): closed, the next opens anew."""
        connection = self._local.__dict__.get("connections", {}).pop(host, None)
        if connection is not None:
            connection.close()

    def _where(self, bucket: str, key: str = "") -> tuple[str, str, str]:
        """(connection host, URI-encoded path, Host header) for `key` in `bucket` ("" for the bucket)."""
        host = f"{bucket}.{self._host}" if self._virtual else self._host
        if self._virtual:
            path = "/" + quote(key, safe="/~")
        else:
            path = f"/{quote(bucket, safe='')}" + (f"/{quote(key, safe='/~')}" if key else "")
        return host, path, host if self._port is None else f"{host}:{self._port}"

    def _send(self, method: str, host: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], body: bytes = b"") -> Response | None:
        """The answer (the caller reads its body), or None when the connection cannot be made or breaks."""
        try:
            connection = self._connection(host)
        except (OSError, ssl.SSLError):  # e.g. an unreadable CA bundle: boto3 will say what is wrong
            self._refusals = GIVE_UP_AFTER
            return None
        target = path + ("?" + urlencode(sorted(query.items()), quote_via=quote, safe="-_.~") if query else "")
        try:
            return connection.request(method, target, headers, body)
        except (OSError, Unsupported):
            self._forget(host)
            return None

    def _refused(self, host: str, answer: Response) -> None:
        try:
            answer.read()
        except (OSError, Unsupported):
            self._forget(host)
        if answer.status in (400, 401, 403):  # this server does not take our signing: stop trying soon
            self._refusals += 1

    def put(self, bucket: str, key: str, data: bytes) -> bool:
        """True when the server stored the object; False to say "send it with boto3"."""
        if not self.active:
            return False
        host, path, header_host = self._where(bucket, key)
        answer = self._send("PUT", host, path, {}, signed_put_headers(self._credentials, self._region, header_host, path, data, datetime.now(UTC)), data)
        if answer is None:
            return False
        if answer.status == 200:
            try:
                answer.read()
            except OSError:
                self._forget(host)  # stored all the same: the server answered 200
            self.sent += 1
            return True
        self._refused(host, answer)
        return False

    def list_page(self, bucket: str, prefix: str, delimiter: str | None, token: str | None, page_size: int) -> ListPage | None:
        """One ListObjectsV2 page, or None: "list it with boto3"."""
        if not self.active:
            return None
        host, path, header_host = self._where(bucket)
        query = {"list-type": "2", "prefix": prefix, "max-keys": str(page_size), "encoding-type": "url"}
        if delimiter:
            query["delimiter"] = delimiter
        if token:
            query["continuation-token"] = token
        answer = self._send("GET", host, path, query, signed_headers(self._credentials, self._region, "GET", header_host, path, query, datetime.now(UTC)))
        if answer is None:
            return None
        if answer.status != 200:
            self._refused(host, answer)
            return None
        try:
            return parse_list_page(answer.chunks(LIST_CHUNK))
        except (ElementTree.ParseError, ValueError, KeyError, OSError, Unsupported):
            self._forget(host)
            return None

    def get(self, bucket: str, key: str, sink: Writable, first: int | None = None, last: int | None = None, on_bytes: Callable[[int], None] | None = None) -> bool:
        """The object (or bytes `first`..`last`) written to `sink`; False: "get it with boto3"
        (then `sink` may hold a partial write the caller discards or overwrites)."""
        if not self.active:
            return False
        host, path, header_host = self._where(bucket, key)
        extra = {"range": f"bytes={first}-{last}"} if first is not None else {}
        headers = signed_headers(self._credentials, self._region, "GET", header_host, path, {}, datetime.now(UTC), extra=extra)
        answer = self._send("GET", host, path, {}, headers)
        if answer is None:
            return False
        if answer.status != (206 if first is not None else 200):
            self._refused(host, answer)
            return False
        try:
            for chunk in answer.chunks(READ_CHUNK):
                sink.write(chunk)
                if on_bytes is not None:
                    on_bytes(len(chunk))
        except (OSError, Unsupported):
            self._forget(host)
            return False
        return True


S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def parse_list_page(chunks: Iterable[bytes]) -> ListPage:
    """A ListObjectsV2 answer (keys URL-encoded, as asked) parsed as its bytes arrive: each
    `Contents` entry becomes an object as soon as it is complete and is then dropped from the
    tree; dates stay text until asked for (see `ObjectInfo`)."""
    parser: Any = ElementTree.XMLPullParser(events=("start", "end"))  # typeshed's event types do not fit start/end pairs
    ns = ""
    objects: list[ObjectInfo] = []
    prefixes: list[str] = []
    fields: dict[str, str] = {}
    truncated, token = False, None
    for chunk in chunks:
        parser.feed(chunk)
        for event, element in parser.read_events():
            tag = element.tag
            if event == "start":
                if not ns and tag.startswith(S3_NS):
                    ns = S3_NS
                continue
            name = tag[len(ns) :]
            if name == "Contents":
                if "LastModified" not in fields or "Key" not in fields:
                    raise ValueError("a listing entry without Key or LastModified")  # boto3 will say what is wrong
                objects.append(ObjectInfo(
                    key=unquote_plus(fields.get("Key", "")), size=int(fields.get("Size", "0")), modified=fields.get("LastModified", ""),
                    etag=fields.get("ETag", "").strip('"'), storage_class=fields.get("StorageClass") or "STANDARD",
                ))  # fmt: skip
                fields = {}
                element.clear()
            elif name == "CommonPrefixes":
                prefixes.append(unquote_plus(fields.pop("Prefix", "")))
                element.clear()
            elif name == "IsTruncated":
                truncated = (element.text or "").strip().lower() == "true"
            elif name == "NextContinuationToken":
                token = element.text
            else:
                fields[name] = element.text or ""
    parser.close()
    return ListPage(tuple(objects), tuple(prefixes), token if truncated else None)
