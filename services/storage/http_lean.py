"""The smallest HTTP/1.1 client the lean S3 requests need: one kept-alive socket, one send per
request, a status line and headers parsed by hand, a body read to its Content-Length.

Why not `http.client`: downloading thousands of small objects, its per-response header
parsing (the `email` package) and the several GIL round trips each response takes cost as
much CPU as the transfer itself on a 2-core host: eight download threads then spend their
time handing the GIL to each other (tens of futex calls per object). This sends a request
in one `sendall` and reads a small answer in one or two `recv_into`.

It understands only what the lean path asks for; anything else (no Content-Length, a
chunked body, a malformed head) raises `Unsupported` and the caller closes the connection
and does the request with boto3, as for any other refusal.
"""

from __future__ import annotations

import socket
import ssl
import struct
from collections.abc import Iterator, Mapping

RECEIVE = 64 * 1024  # what a head read asks for
BODY_READ = 1024 * 1024  # the most one body read waits for
MAX_HEAD = 64 * 1024


class Unsupported(Exception):
    """An answer this client does not read (the caller falls back to boto3)."""


class Response:
    """A status, lower-cased headers and a body read from the connection as asked."""

    def __init__(self, connection: Connection, status: int, headers: dict[str, str], length: int, first: bytes, keep: bool) -> None:
        self.status = status
        self.headers = headers
        self.finished = False
        self._connection = connection
        self._left = length - len(first)
        self._pending = first
        self._keep = keep

    def chunks(self, size: int = RECEIVE) -> Iterator[bytes]:
        """The body as it arrives; the connection is reusable once it is all read."""
        if self._pending:
            chunk, self._pending = self._pending, b""
            yield chunk
        while self._left > 0:
            chunk = self._connection.receive(min(size, self._left))
            self._left -= len(chunk)
            yield chunk
        self.finished = True
        self._connection.answered(self._keep)

    def read(self) -> bytes:
        return b"".join(self.chunks())


class Connection:
    """One kept-alive HTTP/1.1 connection to host:port (TLS when a context is given)."""

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None, timeout: float) -> None:
        self._address = (host, port)
        self._tls = tls
        self._timeout = timeout
        self._socket: socket.socket | None = None
        self._view = memoryview(bytearray(BODY_READ))
        self._reused = False
        self._answer: Response | None = None  # the last answer, which must be read before the next request

    def _open(self) -> socket.socket:
        sock = socket.create_connection(self._address, timeout=self._timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._tls is not None:
            return self._tls.wrap_socket(sock, server_hostname=self._address[0])
        # Plain TCP: a blocking socket with the kernel's own timeouts, so one MSG_WAITALL read
        # takes a whole MiB of body in one system call (a Python timeout makes the socket
        # non-blocking, and every 64 KiB read would then be a GIL round trip of its own).
        seconds = int(self._timeout)
        interval = struct.pack("ll", seconds, int((self._timeout - seconds) * 1e6))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, interval)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, interval)
        sock.settimeout(None)
        return sock

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def receive(self, size: int) -> bytes:
        """Up to `size` bytes of body (at most a MiB): all of them on plain TCP unless the
        connection ends or times out, what has arrived over TLS."""
        assert self._socket is not None
        wanted = min(size, BODY_READ)
        flags = 0 if self._tls is not None else socket.MSG_WAITALL
        count = self._socket.recv_into(self._view, wanted, flags)
        if count == 0:
            self.close()
            raise ConnectionError("the server closed the connection mid-answer")
        return bytes(self._view[:count])

    def answered(self, keep: bool) -> None:
        if keep:
            self._reused = True
        else:
            self.close()  # the server said `Connection: close`

    def request(self, method: str, target: str, headers: Mapping[str, str], body: bytes = b"") -> Response:
        """Send and read the head. A kept-alive connection the server closed meanwhile is
        reopened once (every lean request is idempotent: a GET, a listing, a whole PUT)."""
        head = "".join([f"{method} {target} HTTP/1.1\r\n", *(f"{name}: {value}\r\n" for name, value in headers.items()), f"content-length: {len(body)}\r\n" if body or method == "PUT" else "", "\r\n"])
        message = head.encode("latin-1") + body
        if self._answer is not None and not self._answer.finished:
            self.close()  # its body was left unread: the stream is out of step
        reused = self._socket is not None and self._reused
        try:
            return self._exchange(message)
        except OSError as error:
            if not reused or isinstance(error, (TimeoutError, BlockingIOError)):  # a timeout is not a dropped idle connection
                raise
        return self._exchange(message)  # once more, on a fresh connection

    def _exchange(self, message: bytes) -> Response:
        if self._socket is None:
            self._socket, self._reused = self._open(), False
        try:
            self._socket.sendall(message)
            self._answer = self._read_head()
        except OSError:
            self.close()
            raise
        return self._answer

    def _read_head(self) -> Response:
        assert self._socket is not None
        data = b""
        while (end := data.find(b"\r\n\r\n")) < 0:
            if len(data) > MAX_HEAD:
                raise Unsupported("an answer head over 64 KiB")
            count = self._socket.recv_into(self._view, RECEIVE)
            if count == 0:
                raise ConnectionError("the server closed the connection")
            data += self._view[:count]
        lines = data[:end].decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        if not version.startswith("HTTP/1.") or not rest[:3].isdigit():
            raise Unsupported(f"not an HTTP/1.x status line: {lines[0][:40]!r}")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = headers.get("content-length", "")
        if "transfer-encoding" in headers or not length.isdigit():
            raise Unsupported("a body without a Content-Length")
        keep = headers.get("connection", "").lower() != "close"
        first = data[end + 4 : end + 4 + int(length)]
        if len(data) > end + 4 + int(length):
            raise Unsupported("more bytes than the answer's length")
        return Response(self, int(rest[:3]), headers, int(length), first, keep)
