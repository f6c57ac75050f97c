"""The local app endpoint: one loopback port per app (and one for gRPC) in front of its replicas.

A layer-4 balancer, as a Kubernetes Service in front of AI Deploy replicas is: each
accepted connection goes to the ready replica with the fewest open connections, and bytes
are copied both ways untouched, so HTTP/1.1 and gRPC's HTTP/2 pass alike and responses are
never changed. A replica that refuses the connection (it died since the last probe) is
skipped for the next one; with none ready, the HTTP port answers 503 and closes.
A connection that moves no byte either way for `IDLE_S` is closed (after one to two
windows), as an ingress closes idle keep-alive connections: a client that sends half a
request and stalls no longer holds two descriptors forever.

Written on asyncio rather than taking a proxy (HAProxy, Envoy) as a dependency: those are
not installable from the package index, and what is needed here is a hundred lines. The
relay is two protocols writing into each other's transports: an earlier stream-based copy
loop (a buffer and a task wake-up per chunk) cost ~10% of a classification's latency.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import cast

Address = tuple[str, int]
REFUSAL_READ_S = 1.0
IDLE_S = 120.0  # nginx closes an idle keep-alive client after 75 s, a stalled request after 60 s
BACKLOG = 1024  # a burst of clients (perf at high concurrency) is queued, not left to SYN retries
NO_REPLICA = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: 26\r\nconnection: close\r\n\r\nno replica is ready (yet)\n"


class Balancer:
    """One listening port and the replicas' matching ports behind it."""

    def __init__(self, port: int, refusal: bytes = b"", idle_s: float = IDLE_S) -> None:
        self.port = port
        self.idle_s = idle_s
        self._refusal = refusal
        self._backends: tuple[Address, ...] = ()
        self._open: dict[Address, int] = {}
        self._lock = threading.Lock()
        self.connections = 0  # accepted so far, for tests and the bench

    def set_backends(self, backends: Sequence[Address]) -> None:
        """The ready replicas from now on; open connections to the others finish as they are."""
        with self._lock:
            self._backends = tuple(backends)
            for backend in backends:
                self._open.setdefault(backend, 0)

    def _choices(self) -> list[Address]:
        """Fewest open connections first; ties taken in turn, so sequential requests spread too."""
        with self._lock:
            turn = self.connections % len(self._backends) if self._backends else 0
            rotated = self._backends[turn:] + self._backends[:turn]
            return sorted(rotated, key=lambda backend: self._open.get(backend, 0))

    def _count(self, backend: Address, delta: int) -> None:
        with self._lock:
            self._open[backend] = self._open.get(backend, 0) + delta

    async def connect(self, downstream: Downstream) -> None:
        """Link `downstream` to the first replica that takes the connection, or refuse it."""
        loop = asyncio.get_running_loop()
        self.connections += 1
        for backend in self._choices():
            try:
                _transport, upstream = await loop.create_connection(Side, *backend)
            except OSError:
                continue  # gone since the last probe: the next one
            self._count(backend, 1)
            downstream.link(upstream, functools.partial(self._count, backend, -1))
            return
        downstream.refuse(self._refusal)


class Side(asyncio.Protocol):
    """One end of a relayed connection: what it receives goes straight to the other end's
    transport (no stream buffer, no task per chunk), a half-close passes through, and a full
    send buffer on one end pauses reading on the other."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: Side | None = None
        self.pending: list[bytes] = []  # what came before the peer was linked (a gRPC server speaks first)
        self.eof = False
        self.active = False  # a byte came in since the idle check last looked
        self.on_close: Callable[[], None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.active = True
        if self.peer is None or self.peer.transport is None:
            self.pending.append(data)
        else:
            self.peer.transport.write(data)

    def eof_received(self) -> bool:
        self.eof = True
        peer = self.peer
        if peer is None or peer.transport is None:
            return True  # passed on once linked
        if peer.eof or not peer.transport.can_write_eof():
            peer.transport.close()
            return False
        peer.transport.write_eof()
        return True  # keep our half open: the answer still comes back this way

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()
        if self.on_close is not None:
            on_close, self.on_close = self.on_close, None
            on_close()


class Downstream(Side):
    """The accepted end: held until a replica is linked (or the connection refused)."""

    def __init__(self, balancer: Balancer) -> None:
        super().__init__()
        self._balancer = balancer
        self._refusal = b""
        self._answered = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        self.transport.pause_reading()
        loop = asyncio.get_running_loop()
        loop.create_task(self._balancer.connect(self))
        loop.call_later(self._balancer.idle_s, self._close_if_idle)

    def _close_if_idle(self) -> None:
        """Close both ends when neither received a byte since the last look; else look again later."""
        if self.transport is None or self.transport.is_closing():
            return
        peer = self.peer
        connecting = peer is None and not self._refusal  # reading is paused until a replica is linked
        if not connecting and not self.active and (peer is None or not peer.active):
            self.transport.close()  # the upstream end follows (connection_lost)
            return
        self.active = False
        if peer is not None:
            peer.active = False
        asyncio.get_running_loop().call_later(self._balancer.idle_s, self._close_if_idle)

    def link(self, upstream: Side, on_close: Callable[[], None]) -> None:
        assert self.transport is not None and upstream.transport is not None
        self.peer, upstream.peer = upstream, self
        upstream.on_close = on_close
        for data in upstream.pending:
            self.transport.write(data)
        upstream.pending.clear()
        if upstream.eof:
            upstream.eof_received()
        self.transport.resume_reading()

    # -- no replica: answer (HTTP) or close, without resetting what the client sent ----------

    def refuse(self, answer: bytes) -> None:
        assert self.transport is not None
        if not answer:
            self.transport.close()
            return
        self._refusal = answer
        self.transport.resume_reading()
        loop = asyncio.get_running_loop()
        loop.call_later(REFUSAL_READ_S, self._answer)  # a client that sends nothing gets it too
        loop.call_later(2 * REFUSAL_READ_S, self.transport.close)

    def _answer(self) -> None:
        if self._refusal and not self._answered and self.transport is not None and not self.transport.is_closing():
            self._answered = True
            self.transport.write(self._refusal)
            if self.transport.can_write_eof():
                self.transport.write_eof()

    def data_received(self, data: bytes) -> None:
        if self._refusal:
            self._answer()  # what was sent is read and dropped, so closing does not reset the answer
        else:
            super().data_received(data)

    def eof_received(self) -> bool:
        if self._refusal:
            self._answer()
            assert self.transport is not None
            self.transport.close()
            return False
        return super().eof_received()


class BalancerThread:
    """The balancers of one app, served from one event loop in a daemon thread."""

    def __init__(self, balancers: Sequence[Balancer]) -> None:
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
        for balancer in self.balancers:
            loop = asyncio.get_running_loop()
            self._servers.append(await loop.create_server(functools.partial(Downstream, balancer), "127.0.0.1", balancer.port, reuse_address=True, backlog=BACKLOG))

    def stop(self) -> None:
        async def close() -> None:
            for server in self._servers:
                server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
