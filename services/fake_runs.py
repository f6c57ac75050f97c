"""What the in-memory job and app platforms share: a clock the tests move, the runs by id,
their log lines, and the refusals the real platforms give (no such run; not stopped yet)."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import ClassVar, Generic, Protocol, TypeVar

from services.errors import UserError


def triton_log_lines(at: datetime, source: str = "job") -> list[str]:
    """The lines a starting tritonserver prints, stamped and tagged with their source (`job`,
    or an app's replica) as `ovhai job logs` shows them."""
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    body = [
        "=============================",
        "== Triton Inference Server ==",
        "=============================",
        "I1125 14:00:01.000000 1 server.cc:674] +-------------------+---------+--------+",
        "I1125 14:00:01.000000 1 server.cc:674] | Model             | Version | Status |",
        "I1125 14:00:01.000000 1 server.cc:674] | efficientnet_lite0 | 1      | READY  |",
        "I1125 14:00:01.000000 1 grpc_server.cc:2495] Started GRPCInferenceService at 0.0.0.0:8001",
        "I1125 14:00:01.000000 1 http_server.cc:4694] Started HTTPService at 0.0.0.0:8000",
    ]
    return [f"{stamp} [{source}] {line}" for line in body]


class _Run(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def short_id(self) -> str: ...

    @property
    def state(self) -> object: ...


Run = TypeVar("Run", bound=_Run)


class FakeRuns(Generic[Run]):
    noun: ClassVar[str]  # "job": its refusals and the listing command they point to

    def __init__(self, now: datetime) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._runs: dict[str, Run] = {}
        self._logs: dict[str, list[str]] = {}
        self._sequence = 0

    @property
    def now(self) -> datetime:
        return self._now

    def _ended(self, run: Run) -> bool:
        """Whether `run` runs no more: it deletes without --force."""
        raise NotImplementedError

    def _existing(self, run_id: str) -> Run:
        run = self._runs.get(run_id)
        if run is None:
            raise UserError(f"{self.noun} {run_id} not found: list {self.noun}s with `triton-deck {self.noun} list`")
        return run

    def get(self, run_id: str) -> Run:
        with self._lock:
            return self._existing(run_id)

    def append_log(self, run_id: str, line: str) -> None:
        with self._lock:
            self._logs[self._existing(run_id).id].append(line)

    def delete(self, run_id: str, force: bool = False) -> None:
        with self._lock:
            run = self._existing(run_id)
            if not self._ended(run) and not force:
                raise UserError(f"{self.noun} {run.short_id} is {run.state}: stop it first, or delete with --force")
            del self._runs[run_id]
            del self._logs[run_id]
