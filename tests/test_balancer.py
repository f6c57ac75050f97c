"""The local app endpoint's HTTP/1.1 side on its own, in front of stand-in replicas: every
request of one keep-alive connection goes to a replica of its own, bytes pass unchanged,
and what goes wrong (a replica dying mid-request, a client leaving mid-body, no replica,
idle connections) costs only the request it happens to."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator

import h11
import pytest

from services.apps.http_balancer import BalancerThread, HttpBalancer
from services.apps.replica_pool import Backend
from services.ports import free_port

BIG = 5 * 1024 * 1024


class StandIn:
    """A replica stand-in: an HTTP/1.1 keep-alive server (h11) that answers its own name.

    Paths: /echo sends the body back, /chunked answers in chunks with odd header case, /big
    answers 5 MB, /die closes without answering, anything else answers the name."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
        self.port = self.listener.getsockname()[1]
        self.open = 0
        self.served: Counter[str] = Counter()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with self._lock:
            self.open += 1
        parser = h11.Connection(h11.SERVER)
        body: list[bytes] = []
        target = b""
        try:
            while True:
                event = parser.next_event()
                if event is h11.NEED_DATA:
                    if parser.they_are_waiting_for_100_continue:
                        connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                        parser.send(h11.InformationalResponse(status_code=100, headers=[]))
                    data = connection.recv(65536)
                    parser.receive_data(data)
                    if not data:
                        return
                elif isinstance(event, h11.Request):
                    target, body = event.target, []
                elif isinstance(event, h11.Data):
                    body.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    with self._lock:
                        self.served[target.decode()] += 1
                    if target == b"/die":
                        return
                    connection.sendall(self._answer(target, b"".join(body)))
                    trailing = bytes(parser.trailing_data[0])  # a pipelined next request
                    parser = h11.Connection(h11.SERVER)
                    if trailing:  # (b"" would say the client closed)
                        parser.receive_data(trailing)
                else:
                    return
        except (OSError, h11.RemoteProtocolError):
            return
        finally:
            connection.close()
            with self._lock:
                self.open -= 1

    def _answer(self, target: bytes, body: bytes) -> bytes:
        if target == b"/chunked":
            parts = [b"Hello", b", ", b"world"]
            head = b"HTTP/1.1 200 OK\r\nX-Odd-CASE: yes\r\nTransfer-Encoding: chunked\r\n\r\n"
            return head + b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"
        payload = body if target == b"/echo" else (b"x" * BIG if target == b"/big" else self.name.encode())
        return b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-replica: %s\r\ncontent-length: %d\r\n\r\n%s" % (self.name.encode(), len(payload), payload)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def endpoint() -> Iterator[tuple[HttpBalancer, list[StandIn]]]:
    replicas = [StandIn("r0"), StandIn("r1")]
    balancer = HttpBalancer(free_port(), idle_s=30)
    balancer.set_backends([Backend(r.name, "127.0.0.1", r.port) for r in replicas])
    relay = BalancerThread([balancer])
    relay.start()
    yield balancer, replicas
    relay.stop()
    for replica in replicas:
        replica.close()


def keep_alive(balancer: HttpBalancer) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", balancer.port, timeout=10)


def ask(connection: http.client.HTTPConnection, path: str = "/", body: bytes | None = None) -> tuple[int, bytes]:
    connection.request("POST" if body is not None else "GET", path, body=body)
    answer = connection.getresponse()
    return answer.status, answer.read()


def test_one_keep_alive_client_spreads_over_both_replicas(endpoint: tuple[HttpBalancer, list[StandIn]]) -> None:
    balancer, _ = endpoint
    connection = keep_alive(balancer)
    answered = Counter(ask(connection)[1].decode() for _ in range(100))
    connection.close()
    assert balancer.connections == 1 and set(answered) == {"r0", "r1"}
    assert all(30 <= count <= 70 for count in answered.values()), answered
    traffic = balancer.pool.traffic()
    assert traffic["r0"].requests + traffic["r1"].requests == 100 and traffic["r0"].mean_latency_ms is not None


def raw_exchange(port: int, request: bytes, until: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        received = b""
        while not received.endswith(until):
            data = connection.recv(65536)
            if not data:
                break
            received += data
        return received


def test_answers_pass_byte_for_byte_and_pipelined_requests_in_order(endpoint: tuple[HttpBalancer, list[StandIn]]) -> None:
    balancer, replicas = endpoint
    request = b"GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n"
    direct = raw_exchange(replicas[0].port, request, b"0\r\n\r\n")
    through = raw_exchange(balancer.port, request, b"0\r\n\r\n")
    assert through == direct and b"X-Odd-CASE: yes" in through and b"5\r\nHello\r\n" in through
    pipelined = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirstPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nsecond"
    answers = raw_exchange(balancer.port, pipelined, b"second")
    assert answers.index(b"first") < answers.index(b"second") and answers.count(b"HTTP/1.1 200") == 2


def test_expect_100_continue_and_a_chunked_upload(endpoint: tuple[HttpBalancer, list[StandIn]]) -> None:
    balancer, _ = endpoint
    with socket.create_connection(("127.0.0.1", balancer.port), timeout=10) as connection:
        connection.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        assert connection.recv(65536).startswith(b"HTTP/1.1 100")
        connection.sendall(b"ping")
        assert connection.recv(65536).endswith(b"ping")
        connection.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        assert connection.recv(65536).endswith(b"\r\n\r\nabcde")


def test_five_megabytes_each_way_and_a_slow_reader(endpoint: tuple[HttpBalancer, list[StandIn]]) -> None:
    balancer, _ = endpoint
    connection = keep_alive(balancer)
    status, echoed = ask(connection, "/echo", b"y" * BIG)
    assert status == 200 and echoed == b"y" * BIG
    connection.request("GET", "/big")
    answer = connection.getresponse()
    received = 0
    while chunk := answer.read(256 * 1024):  # a client slower than the replica: the replica waits, nothing is lost
        received += len(chunk)
        time.sleep(0.005)
    assert received == BIG and ask(connection)[0] == 200
    connection.close()


def test_a_replica_dying_mid_request_fails_that_request_only(endpoint: tuple[HttpBalancer, list[StandIn]]) -> None:
    balancer, _ = endpoint
    connection = keep_alive(balancer)
    status, body = ask(connection, "/die")
    assert status == 502 and body.startswith(b"replica r") and b"closed the connection before answering" in body
    dead = body.split()[1].decode()
    later = [ask(connection) for _ in range(10)]  # the same connection, no reconnecting by hand
    connection.close()
    assert all(status == 200 for status, _ in later) and {body.decode() for _, body in later} == {"r0", "r1"} - {dead}
    assert balancer.pool.traffic()[dead].failed == 1


def test_no_ready_replica_answers_503_and_the_connection_stays_usable(endpoint: tuple[HttpBalancer, list[StandIn]]) -> None:
    balancer, replicas = endpoint
    balancer.set_backends([])
    connection = keep_alive(balancer)
    assert ask(connection, "/echo", b"lost") == (503, b"no replica is ready (yet)\n")
    balancer.set_backends([Backend("r0", "127.0.0.1", replicas[0].port)])
    assert ask(connection) == (200, b"r0")
    connection.close()


def test_a_client_leaving_mid_body_leaks_no_replica_connection(endpoint: tuple[HttpBalancer, list[StandIn]]) -> None:
    balancer, replicas = endpoint
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", balancer.port), timeout=10) as connection:
            connection.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly some")
            time.sleep(0.01)
    deadline = time.monotonic() + 10
    while sum(r.open for r in replicas) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sum(r.open for r in replicas) == 0 and balancer.upstream_opened <= 20
    connection = keep_alive(balancer)
    assert ask(connection)[0] == 200  # and the endpoint still serves
    connection.close()


def test_pooled_connections_are_reused_not_reopened(endpoint: tuple[HttpBalancer, list[StandIn]]) -> None:
    balancer, _ = endpoint
    connection = keep_alive(balancer)
    for _ in range(50):
        ask(connection)
    connection.close()
    assert balancer.upstream_opened <= 2


def closed_by_peer(connection: socket.socket, timeout: float) -> bool:
    connection.settimeout(timeout)
    try:
        while connection.recv(65536):
            pass
        return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_idle_half_sent_connections_are_closed_and_a_busy_one_is_not() -> None:
    replica = StandIn("r0")
    balancer = HttpBalancer(free_port(), idle_s=0.3)
    balancer.set_backends([Backend("r0", "127.0.0.1", replica.port)])
    relay = BalancerThread([balancer])
    relay.start()
    try:
        stalled = [socket.create_connection(("127.0.0.1", balancer.port)) for _ in range(200)]
        for connection in stalled:
            connection.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhalf")
        busy = keep_alive(balancer)
        checking = threading.Event()
        statuses: list[int] = []

        def keep_busy() -> None:  # requests keep it active across every window, until the check is over
            while not checking.is_set():
                statuses.append(ask(busy)[0])
                time.sleep(0.05)

        worker = threading.Thread(target=keep_busy)
        worker.start()
        time.sleep(1.0)
        try:
            assert all(closed_by_peer(connection, 2.0) for connection in stalled)
        finally:
            checking.set()
            worker.join()
        assert len(statuses) >= 3 and set(statuses) == {200}
        busy.close()
        for connection in stalled:
            connection.close()
    finally:
        relay.stop()
        replica.close()
