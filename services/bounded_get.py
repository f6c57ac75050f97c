"""A GET with a total deadline and a size cap, for URLs a user names (an app's custom metric).

urllib's timeout is per `recv`: a server that answers and then sends a byte every half second
holds a read for as long as it likes, and `read()` takes whatever size comes. Here every recv
waits only for what is left of one deadline, the body stops at `max_bytes`, and only http and
https are spoken. HTTP/1.1 framing is h11's (already installed with httpx), not parsed by hand.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import h11

from services.errors import UserError

SCHEMES = ("http", "https")


def check_url(url: str, what: str) -> None:
    """Refuse, in one line, a URL this client will not read (file://, ftp://, no host)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as error:
        raise UserError(f"{what} '{url}': {error}: give http(s)://HOST[:PORT]/PATH") from None
    if parts.scheme.lower() not in SCHEMES or not parts.hostname:
        raise UserError(f"{what} '{url}': only http:// and https:// URLs are read: give http(s)://HOST[:PORT]/PATH")


class BoundedRead(Exception):
    """Why a read was abandoned: past its deadline, over its size, or refused."""


def get(url: str, deadline_s: float, max_bytes: int, headers: dict[str, str] | None = None) -> bytes:
    """The body of a 2xx answer; `BoundedRead` for anything else, never later than `deadline_s`."""
    try:
        check_url(url, "URL")
    except UserError as error:
        raise BoundedRead(error.message) from None
    parts = urlsplit(url)
    host, tls = parts.hostname or "", parts.scheme.lower() == "https"
    port = parts.port or (443 if tls else 80)
    deadline = time.monotonic() + deadline_s

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BoundedRead(f"no whole answer from {host}:{port} within {deadline_s:g} s")
        return remaining

    try:
        raw = socket.create_connection((host, port), timeout=left())
    except OSError as error:
        raise BoundedRead(f"cannot connect to {host}:{port} ({error.strerror or error})") from None
    with raw:
        try:
            sock = ssl.create_default_context().wrap_socket(raw, server_hostname=host) if tls else raw
            return _exchange(sock, host, parts.path or "/", parts.query, headers or {}, max_bytes, left)
        except (OSError, h11.ProtocolError) as error:
            if isinstance(error, TimeoutError | socket.timeout):
                raise BoundedRead(f"no whole answer from {host}:{port} within {deadline_s:g} s") from None
            raise BoundedRead(f"reading {host}:{port} failed ({error})") from None


def _exchange(sock: socket.socket, host: str, path: str, query: str, headers: dict[str, str], max_bytes: int, left: Callable[[], float]) -> bytes:
    connection = h11.Connection(h11.CLIENT, max_incomplete_event_size=16 * 1024)
    target = path + (f"?{query}" if query else "")
    request = h11.Request(method="GET", target=target, headers=[("Host", host), ("Connection", "close"), *headers.items()])
    sock.settimeout(left())
    sock.sendall(connection.send(request) + connection.send(h11.EndOfMessage()))
    body = bytearray()
    status = 0
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            sock.settimeout(left())
            connection.receive_data(sock.recv(65536))
            continue
        if isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > max_bytes:
                raise BoundedRead(f"the answer from {host} is over {max_bytes} bytes")
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            break
    if not 200 <= status < 300:
        raise BoundedRead(f"{host} answered HTTP {status}")
    return bytes(body)
