"""Reads a user's URL can cause (a custom metric) end at their deadline and their size cap,
whatever the server does: real sockets on 127.0.0.1, a server per behaviour."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from services import bounded_get
from services.bounded_get import BoundedRead


def serving(answer: Callable[[socket.socket, threading.Event], None]) -> Iterator[str]:
    listener = socket.create_server(("127.0.0.1", 0))
    closing = threading.Event()

    def accept() -> None:
        while not closing.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(connection,), daemon=True).start()

    def handle(connection: socket.socket) -> None:
        with connection:
            try:
                connection.recv(65536)
                answer(connection, closing)
            except OSError:
                pass

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/metrics"
    closing.set()
    listener.close()


def finishes(read: Callable[[], object]) -> object:
    """The read's result or exception, from a thread given ten times the deadline: a read that
    ignored its deadline leaves the thread running and fails the test instead of hanging it."""
    outcome: list[object] = []
    worker = threading.Thread(target=lambda: outcome.append(_outcome(read)), daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "the read outlived its deadline"
    return outcome[0]


def _outcome(read: Callable[[], object]) -> object:
    try:
        return read()
    except BoundedRead as error:
        return error


@pytest.fixture
def header_drip() -> Iterator[str]:
    def answer(connection: socket.socket, closing: threading.Event) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while not closing.wait(0.2):
            connection.sendall(b"a")

    yield from serving(answer)


@pytest.fixture
def too_big() -> Iterator[str]:
    def answer(connection: socket.socket, _closing: threading.Event) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(40):
            connection.sendall(b"10000\r\n" + b"x" * 0x10000 + b"\r\n")
        connection.sendall(b"0\r\n\r\n")

    yield from serving(answer)


@pytest.fixture
def metrics() -> Iterator[str]:
    def answer(connection: socket.socket, _closing: threading.Event) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nqueue\r\n3\r\n 2\n\r\n0\r\n\r\n")

    yield from serving(answer)


@pytest.fixture
def missing() -> Iterator[str]:
    def answer(connection: socket.socket, _closing: threading.Event) -> None:
        connection.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

    yield from serving(answer)


def test_a_server_dripping_its_headers_is_abandoned_at_the_deadline(header_drip: str) -> None:
    outcome = finishes(lambda: bounded_get.get(header_drip, 1.0, 1024))
    assert isinstance(outcome, BoundedRead) and "within 1 s" in str(outcome)


def test_an_answer_over_the_cap_is_abandoned(too_big: str) -> None:
    outcome = finishes(lambda: bounded_get.get(too_big, 5.0, 1024 * 1024))
    assert isinstance(outcome, BoundedRead) and "over 1048576 bytes" in str(outcome)


def test_a_chunked_answer_is_read_whole_and_a_404_is_said(metrics: str, missing: str) -> None:
    assert finishes(lambda: bounded_get.get(metrics, 5.0, 1024)) == b"queue 2\n"
    outcome = finishes(lambda: bounded_get.get(missing, 5.0, 1024))
    assert isinstance(outcome, BoundedRead) and "HTTP 404" in str(outcome)


@pytest.mark.parametrize("url", ["file:///dev/zero", "ftp://127.0.0.1/x", "http://[::1", "http:///nohost"])
def test_only_http_urls_are_read(url: str) -> None:
    outcome = finishes(lambda: bounded_get.get(url, 1.0, 1024))
    assert isinstance(outcome, BoundedRead)
    assert "http://" in str(outcome) and "\n" not in str(outcome)
