"""Small helpers shared by tests (instead of importing one test module from another)."""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DEMO = Path(__file__).resolve().parent.parent / "demo"
# A python model that costs 20 ms a batch of up to 4, whatever its size: under load, more
# instances and dynamic batching raise its throughput predictably (tune's constructed best).
SLEEPER = '''
import time
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        time.sleep(0.02)
        return [pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("Y", pb_utils.get_input_tensor_by_name(r, "X").as_numpy())]) for r in requests]
'''
SLEEPER_CONFIG = '''name: "sleeper"
backend: "python"
max_batch_size: 4
input [{ name: "X" data_type: TYPE_INT32 dims: [ 1 ] }]
output [{ name: "Y" data_type: TYPE_INT32 dims: [ 1 ] }]
instance_group [{ count: 1 kind: KIND_CPU }]
'''


@contextmanager
def explicit_server(scratch: Path) -> Iterator[Any]:
    """A real tritonserver in explicit model-control mode serving `simple` and `sleeper`."""
    from services.triton.runtime import TritonServer, prepare_runtime

    repository = scratch / "models"
    shutil.copytree(DEMO / "model_repository" / "simple", repository / "simple", ignore=shutil.ignore_patterns("__pycache__"))
    (repository / "sleeper" / "1").mkdir(parents=True)
    (repository / "sleeper" / "config.pbtxt").write_text(SLEEPER_CONFIG)
    (repository / "sleeper" / "1" / "model.py").write_text(SLEEPER)
    server = TritonServer(prepare_runtime(scratch / "cache"), repository, scratch / "server.log", extra_args=["--model-control-mode=explicit", "--load-model=*"])
    with server.running() as triton:
        yield triton


def config_of(server: Any, model: str) -> dict[str, object]:
    """The config a server has in force for `model` (/v2/models/{m}/config)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{server.ports.http}/v2/models/{model}/config", timeout=10) as answer:
        document: dict[str, object] = json.loads(answer.read())
    return document


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
