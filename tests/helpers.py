"""Small helpers shared by tests (instead of importing one test module from another)."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable


def http_status(url: str, token: str | None = None) -> int:
    """The status of a GET, with a bearer token if given; 0 while nothing answers yet."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, ConnectionError):  # not listening yet, or a guard closing on a server still starting
        return 0


def sequence_batching(value_kind: str, tensor_type: str, max_batch_size: int) -> str:
    """A config body for a sequence model on the sequence batcher: START/END/READY as
    `{value_kind}_false_true` pairs, CORRID as UINT64, one INPUT and one OUTPUT of [1]."""
    controls = [f'{{ name: "{name}" control [ {{ kind: CONTROL_SEQUENCE_{name} {value_kind}_false_true: [ 0, 1 ] }} ] }}' for name in ("START", "END", "READY")]
    controls.append('{ name: "CORRID" control [ { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_UINT64 } ] }')
    return (
        f"max_batch_size: {max_batch_size}\nsequence_batching {{\n  max_sequence_idle_microseconds: 5000000\n  control_input [\n    "
        + ",\n    ".join(controls)
        + f'\n  ]\n}}\ninput [ {{ name: "INPUT" data_type: TYPE_{tensor_type} dims: [ 1 ] }} ]\noutput [ {{ name: "OUTPUT" data_type: TYPE_{tensor_type} dims: [ 1 ] }} ]\n'
    )


class BackgroundLoad:
    """`call` over and over in a thread until the block ends; each outcome kept with its time.

    `with BackgroundLoad(lambda: client.infer(...)) as load: ...`, then `load.outcomes`:
    (monotonic time, True) per success, (time, False) per exception of `failures`."""

    def __init__(self, call: Callable[[], object], failures: tuple[type[BaseException], ...] = (Exception,)) -> None:
        self.call = call
        self.failures = failures
        self.outcomes: list[tuple[float, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.call()
                self.outcomes.append((time.monotonic(), True))
            except self.failures:
                self.outcomes.append((time.monotonic(), False))

    def __enter__(self) -> BackgroundLoad:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
