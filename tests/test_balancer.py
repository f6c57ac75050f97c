"""The local app endpoint's relay on its own: bytes pass unchanged, idle connections are closed."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from services.apps.balancer import Balancer, BalancerThread
from services.ports import free_port


@pytest.fixture
def echo_server() -> Iterator[tuple[str, int]]:
    """A replica stand-in that sends back what it gets, one thread per connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    stopping = threading.Event()

    def serve(connection: socket.socket) -> None:
        with connection:
            while data := connection.recv(65536):
                connection.sendall(data)

    def accept() -> None:
        while not stopping.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()
    stopping.set()
    listener.close()


def closed_by_peer(connection: socket.socket, timeout: float) -> bool:
    """True once the other end closed (what it echoed before is read and dropped)."""
    connection.settimeout(timeout)
    try:
        while connection.recv(65536):
            pass
        return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_idle_half_sent_connections_are_closed_and_a_busy_one_is_not(echo_server: tuple[str, int]) -> None:
    balancer = Balancer(free_port(), idle_s=0.3)
    balancer.set_backends([echo_server])
    relay = BalancerThread([balancer])
    relay.start()
    try:
        stalled = [socket.create_connection(("127.0.0.1", balancer.port)) for _ in range(200)]
        for connection in stalled:
            connection.sendall(b"POST /v2/models/simple/infer HTTP/1.1\r\nContent-Length: 100\r\n\r\nhalf")
        busy = socket.create_connection(("127.0.0.1", balancer.port))
        busy.settimeout(5)
        sent = received = b""
        deadline = time.monotonic() + 1.5  # five idle windows
        while time.monotonic() < deadline:
            chunk = f"{time.monotonic()}\n".encode()
            busy.sendall(chunk)
            sent += chunk
            received += busy.recv(65536)
            time.sleep(0.05)
        while len(received) < len(sent):
            received += busy.recv(65536)
        assert received == sent, "bytes pass unchanged both ways"
        states = [closed_by_peer(connection, timeout=2) for connection in stalled]
        assert states == [True] * 200, [i for i, s in enumerate(states) if not s]
        assert not closed_by_peer(busy, timeout=0.05), "the connection in use stays open"
        for connection in [*stalled, busy]:
            connection.close()
    finally:
        relay.stop()
