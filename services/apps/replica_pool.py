"""Which ready replica takes the next request, and what each one answered over the last minute.

Shared by the app endpoint's HTTP/1.1 and gRPC sides (services/apps/http_balancer.py,
services/apps/grpc_balancer.py), which balance per request, not per connection: a client
that keeps its connection open (every real one does) still spreads over every ready
replica, and a replica that becomes ready takes its share of a running client's load at
once. The choice is the fewest outstanding requests, ties taken in turn. A replica whose
request failed at the transport (it died, or refused a connection) is set aside for
`QUARANTINE_S` so that the client's next requests go elsewhere before the next probe says
it is gone; with no other replica it is tried anyway.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

WINDOW_S = 60.0  # what the app's status reports: requests and latency over the last minute
QUARANTINE_S = 5.0


@dataclass(frozen=True)
class Backend:
    """One ready replica as a protocol side sees it: its name and the address it listens on."""

    replica: str
    host: str
    port: int

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port


@dataclass(frozen=True)
class ReplicaTraffic:
    """What one replica answered through the endpoint over the last `WINDOW_S`."""

    requests: int
    failed: int
    mean_latency_ms: float | None


class ReplicaPool:
    """The ready replicas of one protocol, their outstanding requests and their recent answers.

    Thread-safe: the HTTP side runs in an event loop, the gRPC side in grpcio's threads."""

    def __init__(self) -> None:
        self._backends: tuple[Backend, ...] = ()
        self._outstanding: dict[str, int] = {}
        self._quarantined: dict[str, float] = {}
        self._answers: dict[str, deque[list[float]]] = {}  # per replica, one [second, count, failed, latency sum] per second
        self._turn = 0
        self._lock = threading.Lock()

    def set_backends(self, backends: Sequence[Backend]) -> None:
        """The ready replicas from now on; requests in flight on the others finish as they are."""
        with self._lock:
            self._backends = tuple(backends)

    @property
    def backends(self) -> tuple[Backend, ...]:
        return self._backends

    def choose(self, exclude: Sequence[Backend] = ()) -> Backend | None:
        """The replica for the next request, counted as outstanding on it until `finish`."""
        with self._lock:
            candidates = [backend for backend in self._backends if backend not in exclude]
            clock = time.monotonic()
            healthy = [backend for backend in candidates if self._quarantined.get(backend.replica, 0.0) <= clock]
            candidates = healthy or candidates
            if not candidates:
                return None
            self._turn += 1
            start = self._turn % len(candidates)
            rotated = candidates[start:] + candidates[:start]
            chosen = min(rotated, key=lambda backend: self._outstanding.get(backend.replica, 0))
            self._outstanding[chosen.replica] = self._outstanding.get(chosen.replica, 0) + 1
            return chosen

    def finish(self, backend: Backend, started: float, ok: bool, transport_failed: bool = False) -> None:
        """A request on `backend` is over: counted in the last minute's answers; a transport
        failure sets the replica aside for a while."""
        clock = time.monotonic()
        with self._lock:
            self._outstanding[backend.replica] = max(0, self._outstanding.get(backend.replica, 0) - 1)
            answers = self._answers.setdefault(backend.replica, deque())
            second = float(int(clock))
            if not answers or answers[-1][0] != second:
                answers.append([second, 0.0, 0.0, 0.0])
                self._forget(answers, clock)
            bucket = answers[-1]
            bucket[1] += 1
            bucket[2] += 0 if ok else 1
            bucket[3] += (clock - started) * 1000.0
            if transport_failed:
                self._quarantined[backend.replica] = clock + QUARANTINE_S

    def refused(self, backend: Backend) -> None:
        """`backend` refused the connection: not a request, but not to be chosen for a while."""
        with self._lock:
            self._outstanding[backend.replica] = max(0, self._outstanding.get(backend.replica, 0) - 1)
            self._quarantined[backend.replica] = time.monotonic() + QUARANTINE_S

    def traffic(self) -> dict[str, ReplicaTraffic]:
        """Per replica that answered in the last minute: how many, how many failed, mean latency."""
        clock = time.monotonic()
        report: dict[str, ReplicaTraffic] = {}
        with self._lock:
            for replica, answers in self._answers.items():
                self._forget(answers, clock)
                count = int(sum(bucket[1] for bucket in answers))
                if count:
                    latency = sum(bucket[3] for bucket in answers) / count
                    report[replica] = ReplicaTraffic(count, int(sum(bucket[2] for bucket in answers)), latency)
        return report

    @staticmethod
    def _forget(answers: deque[list[float]], clock: float) -> None:
        while answers and answers[0][0] < clock - WINDOW_S:
            answers.popleft()
