"""The lean HTTP/1.1 client against a real local server that misbehaves on purpose: answers that
close, keep-alive connections dropped while idle, chunked bodies, heads split over reads."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services.storage.http_lean import Connection, Unsupported


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str, bytes]] = []
    ports: list[int] = []

    def log_message(self, *_args: object) -> None:
        pass

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        Handler.seen.append(("PUT", self.path, body))
        Handler.ports.append(self.client_address[1])
        self._answer(200, b"")

    def do_GET(self) -> None:
        Handler.seen.append(("GET", self.path, b""))
        Handler.ports.append(self.client_address[1])
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"5\r\nhello\r\n0\r\n\r\n")
        elif self.path == "/close":
            self._answer(200, b"bye", close=True)
        elif self.path == "/slow-head":  # the head arrives in pieces
            for piece in (b"HTTP/1.1 200 OK\r\nContent-", b"Length: 4\r\n", b"\r\nbo", b"dy"):
                self.wfile.write(piece)
                self.wfile.flush()
        else:
            self._answer(200, self.path.encode() * 5000)

    def _answer(self, status: int, body: bytes, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # an abandoned answer breaks the handler's pipe: that is the test


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    Handler.seen, Handler.ports = [], []
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def connect(server: ThreadingHTTPServer) -> Connection:
    host, port = server.server_address[:2]
    return Connection(str(host), int(port), None, timeout=5)


def test_answers_are_read_whole_over_one_kept_alive_connection(server: ThreadingHTTPServer) -> None:
    connection = connect(server)
    big = connection.request("GET", "/abc", {"host": "x"})
    assert big.status == 200 and big.read() == b"/abc" * 5000, "a body over many reads"
    assert connection.request("PUT", "/key", {"host": "x"}, b"payload").read() == b""
    assert connection.request("GET", "/slow-head", {"host": "x"}).read() == b"body", "a head split over several reads"
    assert Handler.seen[1] == ("PUT", "/key", b"payload")
    assert len(set(Handler.ports)) == 1, "one connection for all three"


def test_a_connection_the_server_closed_is_opened_again_once(server: ThreadingHTTPServer) -> None:
    connection = connect(server)
    assert connection.request("GET", "/close", {"host": "x"}).read() == b"bye"
    assert connection.request("GET", "/again", {"host": "x"}).read() == b"/again" * 5000, "Connection: close was honoured"
    assert connection._socket is not None
    connection._socket.shutdown(socket.SHUT_RDWR)  # as a server dropping an idle keep-alive connection
    assert connection.request("GET", "/after", {"host": "x"}).read() == b"/after" * 5000


def test_a_body_left_unread_does_not_poison_the_next_answer(server: ThreadingHTTPServer) -> None:
    connection = connect(server)
    first = connection.request("GET", "/first", {"host": "x"})
    next(first.chunks(10))  # read part-way, then abandoned
    assert connection.request("GET", "/second", {"host": "x"}).read() == b"/second" * 5000


def test_what_it_does_not_read_is_refused_so_the_caller_falls_back(server: ThreadingHTTPServer) -> None:
    with pytest.raises(Unsupported):
        connect(server).request("GET", "/chunked", {"host": "x"})
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer_garbage() -> None:
        client, _ = listener.accept()
        client.recv(1024)
        client.sendall(b"SSH-2.0-OpenSSH\r\n\r\n")
        client.close()

    threading.Thread(target=answer_garbage, daemon=True).start()
    with pytest.raises(Unsupported):
        Connection("127.0.0.1", port, None, timeout=5).request("GET", "/", {"host": "x"})
    listener.close()
