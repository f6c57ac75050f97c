"""The local app endpoint: one loopback port per app (and one for gRPC) in front of its replicas.

A layer-4 balancer, as a Kubernetes Service in front of AI Deploy replicas is: each
accepted connection goes to the ready replica with the fewest open connections, and bytes
are copied both ways untouched, so HTTP/1.1 and gRPC's HTTP/2 pass alike and responses are
never changed. A replica that refuses the connection (it died since the last probe) is
skipped for the next one; with none ready, the HTTP port answers 503 and closes.

Written on asyncio rather than taking a proxy (HAProxy, Envoy) as a dependency: those are
not installable from the package index, and what is needed here is a hundred lines.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import Future

Address = tuple[str, int]
CHUNK = 256 * 1024
REFUSAL_READ_S = 1.0
NO_REPLICA = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: 26\r\nconnection: close\r\n\r\nno replica is ready (yet)\n"


class Balancer:
    """One listening port and the replicas' matching ports behind it."""

    def __init__(self, port: int, refusal: bytes = b"") -> None:
        self.port = port
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

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        for backend in self._choices():
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(*backend)
            except OSError:
                continue  # gone since the last probe: the next one
            self._count(backend, 1)
            try:
                await asyncio.gather(_copy(reader, upstream_writer), _copy(upstream_reader, writer))
            finally:
                self._count(backend, -1)
                upstream_writer.close()
                writer.close()
            return
        if self._refusal:
            await _refuse(reader, writer, self._refusal)
        writer.close()


async def _refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answer: bytes) -> None:
    """Answer without a replica; what the client sent is read first and after, so closing
    does not reset the connection before the client has read the answer."""
    try:
        await asyncio.wait_for(reader.read(CHUNK), REFUSAL_READ_S)
        writer.write(answer)
        await writer.drain()
        writer.write_eof()
        while await asyncio.wait_for(reader.read(CHUNK), REFUSAL_READ_S):
            pass
    except (OSError, TimeoutError):
        pass


async def _copy(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
    try:
        while chunk := await source.read(CHUNK):
            target.write(chunk)
            await target.drain()
    except OSError:
        pass
    finally:
        try:
            if target.can_write_eof():
                target.write_eof()  # a half-close passes through: the other direction goes on
        except OSError:
            pass


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
            self._servers.append(await asyncio.start_server(balancer.handle, "127.0.0.1", balancer.port, reuse_address=True))

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
