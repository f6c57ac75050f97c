"""The local app endpoint's HTTP/1.1 side: each request goes to a ready replica, not each connection.

AI Deploy puts an HTTP-aware ingress in front of an app's replicas; this is the local twin.
A client keeps its connection open (tritonclient, perf_analyzer, browsers all do), and every
request on it is given to the replica with the fewest in flight (services/apps/replica_pool.py)
over a pooled keep-alive connection to that replica. h11 finds where each request and each
response ends; the bytes themselves pass untouched both ways, so what a replica answers is
what the client reads, byte for byte (chunked bodies keep their chunks, headers their case).

* Pipelined requests are taken one at a time: the next is read once the previous is answered.
* `Expect: 100-continue` works through the replica's own interim answer.
* A replica that closes or dies mid-request fails only that request: 502 naming the replica
  when nothing of its answer went out yet (the client's connection stays open for the next
  request, which goes elsewhere), else the client's connection is closed, as a proxy must.
* No ready replica: 503, and the connection stays usable.
* A connection that moves no byte either way for `IDLE_S` is closed, as an ingress closes idle
  keep-alive connections; idle pooled connections to replicas are closed too.

Written on asyncio protocols (no stream buffer, no task per chunk): a stream-based copy loop
cost ~10% of a classification's latency. A proxy (HAProxy, Envoy) is not installable from the
package index.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import cast

import h11

from services.apps.replica_pool import Backend, ReplicaPool

IDLE_S = 120.0  # nginx closes an idle keep-alive client after 75 s, a stalled request after 60 s
BACKLOG = 1024  # a burst of clients (perf at high concurrency) is queued, not left to SYN retries
IDLE_UPSTREAMS = 32  # pooled keep-alive connections kept per replica
NO_REPLICA = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: 26\r\n\r\nno replica is ready (yet)\n"
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: 25\r\nconnection: close\r\n\r\nthis is not HTTP/1.1 (!)\n"


def replica_failed(replica: str) -> bytes:
    """502 naming the replica: it closed or died before answering."""
    body = f"replica {replica} closed the connection before answering: try again\n".encode()
    return b"HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)


def wants_close(head: h11.Request) -> bool:
    """Whether the client's request ends its connection."""
    return _closes(list(head.headers), head.http_version)


HEAD_LIMIT = 64 * 1024  # a request or response head larger than this is refused (h11's own default is 16 KiB)


def _head_end(buffer: bytearray, searched: int) -> int:
    """Where the head in `buffer` ends (after its blank line), or -1; `searched` bytes were looked at already."""
    found = buffer.find(b"\r\n\r\n", max(0, searched - 3))
    return -1 if found < 0 else found + 4


def _length(headers: list[tuple[bytes, bytes]], request: bool) -> int | None:
    """A body's Content-Length (h11 checked it); None when h11 must read it: chunked, or a
    response that ends with the connection. A request with neither header has no body."""
    if any(name == b"transfer-encoding" for name, _ in headers):
        return None
    lengths = [value for name, value in headers if name == b"content-length"]
    return int(lengths[0]) if lengths else (0 if request else None)


def _closes(headers: list[tuple[bytes, bytes]], http_version: bytes) -> bool:
    """Whether the message ends its connection (`Connection: close`, or HTTP/1.0 without keep-alive)."""
    tokens = {token.strip() for name, value in headers if name == b"connection" for token in value.lower().split(b",")}
    return b"close" in tokens or (http_version == b"1.0" and b"keep-alive" not in tokens)


class Framer:
    """Where each message of one direction ends, the bytes passing unchanged. h11 reads every
    head; a body with a Content-Length is then only counted (no copy through h11: a 600 KB
    tensor body cost a tenth of a millisecond that way), a chunked or until-close one is read
    by h11 to its end."""

    def __init__(self) -> None:
        self.buffer = bytearray()  # a head not whole yet
        self.parser: h11.Connection | None = None  # h11 reading a chunked or until-close body
        self.remaining: int | None = None  # a counted body's bytes still to come

    def _body(self, data: bytes) -> tuple[bytes, bool, bytes]:
        """The current body's part of `data`, whether the message ended, and what follows it."""
        if self.remaining is not None:
            if len(data) < self.remaining:
                self.remaining -= len(data)
                return data, False, b""
            cut, self.remaining = self.remaining, None
            return data[:cut], True, data[cut:]
        assert self.parser is not None
        self.parser.receive_data(data)
        while True:
            event = self.parser.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return data, False, b""
            if isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                trailing = bytes(self.parser.trailing_data[0])
                self.parser = None
                return data[: len(data) - len(trailing)], True, trailing

    def _head(self, data: bytes) -> tuple[bytes, bytes] | None:
        """(the whole head, the bytes after it) once the head is whole; raises on one too large."""
        searched = len(self.buffer)
        self.buffer += data
        end = _head_end(self.buffer, searched)
        if end < 0:
            if len(self.buffer) > HEAD_LIMIT:
                raise h11.RemoteProtocolError("head too large")
            return None
        head, rest = bytes(self.buffer[:end]), bytes(self.buffer[end:])
        self.buffer.clear()
        return head, rest


class RequestFramer(Framer):
    """A client's bytes cut into requests, none changed."""

    def __init__(self) -> None:
        super().__init__()
        self.head: h11.Request | None = None

    def feed(self, data: bytes) -> tuple[h11.Request | None, bytes, bool, bytes]:
        """(the head, when a request's head completed in `data`; the current request's bytes that
        can go now; whether it ended; the bytes after it). Raises h11.RemoteProtocolError."""
        if self.head is not None:
            chunk, ended, rest = self._body(data)
            if ended:
                self.head = None
            return None, chunk, ended, rest
        whole = self._head(data)
        if whole is None:
            return None, b"", False, b""
        head_bytes, rest = whole
        parser = h11.Connection(h11.SERVER, max_incomplete_event_size=HEAD_LIMIT)
        parser.receive_data(head_bytes)
        event = parser.next_event()
        if not isinstance(event, h11.Request):
            raise h11.RemoteProtocolError("not an HTTP/1.1 request")
        self.head = event
        self.remaining = _length(list(event.headers), request=True)
        if self.remaining is None:
            self.parser = parser  # chunked: h11 reads it
        elif self.remaining == 0:
            self.head, self.remaining = None, None
            return event, head_bytes, True, rest
        chunk, ended, after = self._body(rest) if rest else (b"", False, b"")
        if ended:
            self.head = None
        return event, head_bytes + chunk, ended, after


class ResponseFramer(Framer):
    """Where a replica's answer to one request ends, and whether its connection can be reused."""

    def __init__(self, method: bytes) -> None:
        super().__init__()
        self.method = method
        self.status = 0
        self.reusable = False
        self.in_body = False

    def feed(self, data: bytes) -> bool:
        """True once the answer is whole; `data` is b"" when the replica closed."""
        closed = not data
        while True:
            if self.in_body:
                if not data and (not closed or self.parser is None):
                    return False  # more to come; or closed inside a counted body: never whole
                _chunk, ended, data = self._body(data)
                if not ended:
                    return False
                self.in_body = False
                return True
            if closed:
                return False
            whole = self._head(data)
            if whole is None:
                return False
            head_bytes, data = whole
            if self._read_head(head_bytes) and not self.in_body:
                return True  # (after a 1xx, the loop reads the real answer's head)

    def _read_head(self, head_bytes: bytes) -> bool:
        """The final answer's head read (False for a 1xx); sets how its body ends."""
        parser = h11.Connection(h11.CLIENT, max_incomplete_event_size=HEAD_LIMIT)
        parser.send(h11.Request(method=self.method, target="/", headers=[("host", "replica")]))  # the method decides the framing (HEAD)
        parser.send(h11.EndOfMessage())
        parser.receive_data(head_bytes)
        event = parser.next_event()
        if isinstance(event, h11.InformationalResponse):
            return False
        if not isinstance(event, h11.Response):
            raise h11.RemoteProtocolError("not an HTTP/1.1 response")
        self.status = event.status_code
        bodiless = self.method == b"HEAD" or event.status_code in (204, 304)
        length = 0 if bodiless else _length(list(event.headers), request=False)
        chunked = any(name == b"transfer-encoding" for name, _ in event.headers)
        self.reusable = not _closes(list(event.headers), event.http_version) and (length is not None or chunked)
        if length == 0:
            return True
        self.in_body = True
        if length is None:
            self.parser = parser  # chunked or until the close: h11 reads it
        else:
            self.remaining = length
        return True


class Upstream(asyncio.Protocol):
    """A keep-alive connection to one replica, lent to one client's request at a time."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.transport: asyncio.Transport | None = None
        self.client: ClientSide | None = None
        self.framer: ResponseFramer | None = None
        self.closed = False
        self.idle_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.client is None:  # an idle connection has nothing to say: drop it
            self.close()
            return
        self.client.from_upstream(data)

    def eof_received(self) -> bool:
        return False  # close: a replica that half-closes is done with this connection

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.client is not None:
            self.client.upstream_lost()

    def pause_writing(self) -> None:
        if self.client is not None:
            self.client.pause_for_upstream(True)

    def resume_writing(self) -> None:
        if self.client is not None:
            self.client.pause_for_upstream(False)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class HttpBalancer:
    """One listening port, the pool that picks replicas, and the idle connections to them."""

    def __init__(self, port: int, pool: ReplicaPool | None = None, idle_s: float = IDLE_S) -> None:
        self.port = port
        self.pool = pool or ReplicaPool()
        self.idle_s = idle_s
        self.idle: dict[Backend, list[Upstream]] = {}
        self.connections = 0  # accepted so far, for tests and the bench
        self.upstream_opened = 0  # connections opened to replicas, for tests (pooling, leaks)

    def set_backends(self, backends: Sequence[Backend]) -> None:
        self.pool.set_backends(backends)

    def take_idle(self, backend: Backend) -> Upstream | None:
        pooled = self.idle.get(backend, [])
        while pooled:
            upstream = pooled.pop()
            if not upstream.closed and upstream.transport is not None and not upstream.transport.is_closing():
                return upstream
        return None

    def put_idle(self, upstream: Upstream) -> None:
        pooled = self.idle.setdefault(upstream.backend, [])
        if len(pooled) >= IDLE_UPSTREAMS or upstream.backend not in self.pool.backends:
            upstream.close()
            return
        upstream.client, upstream.framer, upstream.idle_since = None, None, time.monotonic()
        if upstream.transport is not None:
            upstream.transport.resume_reading()  # a lent connection may have been paused for a slow client
        pooled.append(upstream)

    def open_upstreams(self) -> int:
        """Pooled connections still open, for tests: nothing leaks."""
        return sum(1 for pooled in self.idle.values() for upstream in pooled if not upstream.closed)

    def sweep_idle(self) -> None:
        """Close pooled connections unused for `idle_s`, and those to replicas no longer ready."""
        limit = time.monotonic() - self.idle_s
        for backend, pooled in list(self.idle.items()):
            keep = [u for u in pooled if not u.closed and u.idle_since > limit and backend in self.pool.backends]
            for upstream in pooled:
                if upstream not in keep:
                    upstream.close()
            self.idle[backend] = keep

    async def connect(self, backend: Backend) -> Upstream | None:
        loop = asyncio.get_running_loop()
        try:
            _transport, upstream = await loop.create_connection(functools.partial(Upstream, backend), *backend.address)
        except OSError:
            return None
        self.upstream_opened += 1
        return upstream


class ClientSide(asyncio.Protocol):
    """One client connection: its requests one after another, each to the replica the pool chose."""

    def __init__(self, balancer: HttpBalancer) -> None:
        self.balancer = balancer
        self.transport: asyncio.Transport | None = None
        self.framer = RequestFramer()
        self.upstream: Upstream | None = None
        self.backend: Backend | None = None
        self.started = 0.0
        self.method = b"GET"
        self.in_request = False  # a request's head arrived and its answer is not whole yet
        self.request_sent = False  # the whole request was read from the client
        self.answered = False  # some of the answer went out to the client
        self.local = False  # answered here (502/503): the rest of the request's body is dropped
        self.close_after = False
        self.waiting_up: list[bytes] = []  # the request's bytes while a connection to the replica opens
        self.stash: bytearray | None = None  # bytes after the current request, read once it is answered
        self.paused_for_upstream = False
        self.writing_paused = False  # the client reads slower than the replica answers
        self.active = False

    # -- the client's side ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.balancer.connections += 1
        asyncio.get_running_loop().call_later(self.balancer.idle_s, self._close_if_idle)

    def data_received(self, data: bytes) -> None:
        self.active = True
        if self.stash is not None:
            self.stash += data
            return
        self._consume(data)

    def eof_received(self) -> bool:
        self.close_after = True
        if self.in_request and not self.request_sent:
            return False  # gone mid-request: the request can never end (connection_lost closes the replica's side)
        if not self.in_request and not self.stash:
            return False  # nothing asked: close
        return True  # the answer still goes back this way

    def connection_lost(self, exc: Exception | None) -> None:
        upstream, self.upstream = self.upstream, None
        if upstream is not None:  # mid-request: the replica's connection is in an unknown state
            upstream.client = None
            upstream.close()
            if self.backend is not None:
                self.balancer.pool.finish(self.backend, self.started, ok=False)
        self.transport = None

    def pause_writing(self) -> None:
        self.writing_paused = True
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.pause_reading()

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.resume_reading()

    def pause_for_upstream(self, paused: bool) -> None:
        self.paused_for_upstream = paused
        self._reading()

    def _reading(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if self.paused_for_upstream or self.stash is not None:
            self.transport.pause_reading()
        else:
            self.transport.resume_reading()

    def _consume(self, data: bytes) -> None:
        assert self.transport is not None
        try:
            head, chunk, ended, rest = self.framer.feed(data)
        except h11.RemoteProtocolError:
            if not self.in_request:
                self.transport.write(BAD_REQUEST)
            self._abort()
            return
        if head is not None:
            self._begin(head)
        if chunk:
            self._up(chunk)
        if ended:
            self.request_sent = True
            self.stash = bytearray(rest)
            self._reading()
            if self.local or not self.in_request:
                self._over()

    def _begin(self, head: h11.Request) -> None:
        self.in_request, self.request_sent, self.answered, self.local = True, False, False, False
        self.method, self.close_after = head.method, self.close_after or wants_close(head)
        self.started = time.monotonic()
        self._choose(())

    def _choose(self, tried: tuple[Backend, ...]) -> None:
        backend = self.balancer.pool.choose(exclude=tried)
        if backend is None:
            self._answer_here(NO_REPLICA)
            return
        self.backend = backend
        upstream = self.balancer.take_idle(backend)
        if upstream is not None:
            self._attach(upstream)
            return
        asyncio.get_running_loop().create_task(self._open(backend, tried))

    async def _open(self, backend: Backend, tried: tuple[Backend, ...]) -> None:
        upstream = await self.balancer.connect(backend)
        if self.transport is None:  # the client left meanwhile
            if upstream is not None:
                upstream.close()
            self.balancer.pool.finish(backend, self.started, ok=False)
            return
        if upstream is None:
            self.balancer.pool.refused(backend)  # gone since the last probe: the next one
            self._choose((*tried, backend))
            return
        self._attach(upstream)

    def _attach(self, upstream: Upstream) -> None:
        assert upstream.transport is not None
        self.upstream, upstream.client, upstream.framer = upstream, self, ResponseFramer(self.method)
        if self.writing_paused:
            upstream.transport.pause_reading()
        for chunk in self.waiting_up:
            upstream.transport.write(chunk)
        self.waiting_up.clear()

    def _up(self, chunk: bytes) -> None:
        if self.local:
            return
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.write(chunk)
        else:
            self.waiting_up.append(chunk)

    # -- the replica's side --------------------------------------------------------------------

    def from_upstream(self, data: bytes) -> None:
        upstream = self.upstream
        assert upstream is not None and upstream.framer is not None and self.transport is not None
        self.active = True
        try:
            done = upstream.framer.feed(data)
        except h11.RemoteProtocolError:
            self.upstream_lost()
            return
        if done and self.backend is not None:  # counted before the client can read it
            self.balancer.pool.finish(self.backend, self.started, ok=upstream.framer.status < 500)
        self.transport.write(data)
        self.answered = True
        if done:
            self._answered(reusable=upstream.framer.reusable)

    def upstream_lost(self) -> None:
        """The replica's connection closed before its answer was whole."""
        upstream, self.upstream = self.upstream, None
        if upstream is None or self.backend is None:
            return
        upstream.client = None
        framer = upstream.framer
        if framer is not None and self.answered:
            try:
                if framer.feed(b""):  # an answer whose end is the close (no length): whole
                    self.balancer.pool.finish(self.backend, self.started, ok=framer.status < 500)
                    self.upstream = upstream
                    self._answered(reusable=False)
                    return
            except h11.RemoteProtocolError:
                pass
        self.balancer.pool.finish(self.backend, self.started, ok=False, transport_failed=True)
        if self.answered or self.transport is None:
            self._abort()
            return
        self._answer_here(replica_failed(self.backend.replica))

    def _answered(self, reusable: bool) -> None:
        upstream, self.upstream = self.upstream, None
        assert upstream is not None
        if reusable and self.request_sent:
            self.balancer.put_idle(upstream)
        else:
            upstream.client = None
            upstream.close()
        self.paused_for_upstream = False
        if self.request_sent:
            self._over()
        else:  # answered before the client finished sending: nothing to resync on
            self._close_when_written()

    def _answer_here(self, answer: bytes) -> None:
        """A 502/503 of our own; the rest of the request's body, if any, is read and dropped."""
        assert self.transport is not None
        self.transport.write(answer)
        self.answered, self.local, self.paused_for_upstream = True, True, False
        self.waiting_up.clear()
        if self.request_sent:
            self._over()
        else:
            self._reading()

    def _over(self) -> None:
        """The request is answered: the next one (already read, or still to come)."""
        self.in_request, self.local, self.backend = False, False, None
        if self.close_after:
            self._close_when_written()
            return
        stash, self.stash = self.stash, None
        self._reading()
        if stash:
            self._consume(bytes(stash))

    def _close_when_written(self) -> None:
        if self.transport is not None:
            self.transport.close()  # asyncio sends what is buffered first

    def _abort(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _close_if_idle(self) -> None:
        """Close when neither side moved a byte since the last look, unless a whole request
        waits for its replica's answer; else look again later."""
        if self.transport is None or self.transport.is_closing():
            return
        waiting_on_replica = self.in_request and self.request_sent and not self.local  # a slow model is not an idle client
        if not self.active and not waiting_on_replica:
            self.transport.close()
            return
        self.active = False
        self.balancer.sweep_idle()
        asyncio.get_running_loop().call_later(self.balancer.idle_s, self._close_if_idle)


class BalancerThread:
    """The HTTP balancers of one app, served from one event loop in a daemon thread."""

    def __init__(self, balancers: Sequence[HttpBalancer]) -> None:
        self.balancers = tuple(balancers)
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.Server] = []
        self._thread = threading.Thread(target=self._loop.run_forever, name="app-balancer", daemon=True)

    def start(self) -> None:
        """Listen on every balancer's port (raises OSError when one is taken)."""
        self._thread.start()
        future: Future[None] = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        future.result(timeout=10)

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        for balancer in self.balancers:
            factory: Callable[[], ClientSide] = functools.partial(ClientSide, balancer)
            self._servers.append(await loop.create_server(factory, "127.0.0.1", balancer.port, reuse_address=True, backlog=BACKLOG))

    def call(self, function: Callable[[], object]) -> None:
        """Run `function` on the balancers' loop (their state is the loop's alone)."""
        self._loop.call_soon_threadsafe(function)

    def stop(self) -> None:
        async def close() -> None:
            for server in self._servers:
                server.close()
            for balancer in self.balancers:
                for pooled in balancer.idle.values():
                    for upstream in pooled:
                        upstream.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
