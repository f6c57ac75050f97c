"""The lean HTTP/1.1 client against a real local server that misbehaves on purpose: answers that
close, keep-alive connections dropped while idle, chunked bodies, heads split over reads."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from services.storage.http_lean import Connection, Unsupported
from services.storage.s3_lean import tls_context


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


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost and its key (moto's own dependency, cryptography, makes it)."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_file, key_file


def test_over_tls_it_trusts_the_bundle_boto3_would_and_nothing_else(tmp_path: Path) -> None:
    cert_file, key_file = self_signed(tmp_path)
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        port = int(httpd.server_address[1])
        trusted = Connection("localhost", port, tls_context({"AWS_CA_BUNDLE": str(cert_file)}), timeout=5)
        assert trusted.request("GET", "/tls", {"host": "localhost"}).read() == b"/tls" * 5000
        assert trusted.request("GET", "/again", {"host": "localhost"}).read() == b"/again" * 5000
        with pytest.raises(ssl.SSLCertVerificationError):
            Connection("localhost", port, tls_context({}), timeout=5).request("GET", "/", {"host": "localhost"})
    finally:
        httpd.shutdown()
        httpd.server_close()
