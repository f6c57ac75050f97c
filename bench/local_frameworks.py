"""The ONNX layer of the local profile against onnxruntime called in-process, same run.

The shipped EfficientNet-Lite0 file is served as a user's `onnxruntime_onnx` model would be
(services/triton/frameworks.py generates its python-backend model); the baseline runs the
same file with onnxruntime in this process on the same input. Per-request latency at
concurrency 1 and throughput at concurrency 4, rounds alternating who goes first. The
served side pays for Triton's HTTP, the request's tensors copied into the python stub
over shared memory and back, and the client's encoding; the target is at most 1.25x the
direct call's latency at concurrency 1. Nothing is asserted: numbers are printed.

Where the rest goes, measured here (2 cores): a python-backend model that only returns its
output costs 1.2 ms a request for this 600 KB input over HTTP (0.85 ms over gRPC); a
hand-written python model running the same session once, 7.2 ms against 5.1 ms direct, as
the generated one does. What is left is Triton's HTTP and the python backend's hand-over,
which the bundled server (python backend only) cannot avoid.

    python3 -m uv run python bench/local_frameworks.py [--rounds 5] [--requests 40]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from services.demo import CLASSIFIER, MODEL_REPOSITORY
from services.triton.frameworks import served_repository
from services.triton.runtime import TritonServer, prepare_runtime

TARGET_RATIO = 1.25
MODEL = "efficientnet_onnx"


def onnx_repository(root: Path) -> Path:
    """The demo classifier's file as a user's ONNX model: platform onnxruntime_onnx, no model.py."""
    model = root / "repository" / MODEL
    (model / "1").mkdir(parents=True)
    shutil.copy(MODEL_REPOSITORY / CLASSIFIER / "1" / "model.onnx", model / "1" / "model.onnx")
    shutil.copy(MODEL_REPOSITORY / CLASSIFIER / "labels.txt", model / "labels.txt")
    config = (MODEL_REPOSITORY / CLASSIFIER / "config.pbtxt").read_text()
    (model / "config.pbtxt").write_text(config.replace(f'"{CLASSIFIER}"', f'"{MODEL}"').replace('backend: "python"', 'platform: "onnxruntime_onnx"'))
    return model.parent


def direct(batch: np.ndarray) -> Callable[[], None]:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(MODEL_REPOSITORY / CLASSIFIER / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda: session.run(None, {name: batch}) and None


def served(port: int, batch: np.ndarray) -> Callable[[], None]:
    import tritonclient.http as httpclient

    local = threading.local()

    def call() -> None:
        if not hasattr(local, "client"):
            local.client = httpclient.InferenceServerClient(f"127.0.0.1:{port}")
            local.tensor = httpclient.InferInput("input", list(batch.shape), "FP32")
            local.tensor.set_data_from_numpy(batch)
        local.client.infer(MODEL, [local.tensor])

    return call


def latency_ms(call: Callable[[], None], requests: int) -> float:
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def throughput(call: Callable[[], None], requests: int, concurrency: int) -> float:
    def worker() -> None:
        for _ in range(requests):
            call()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return requests * concurrency / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    batch = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        repository = served_repository(onnx_repository(root), root / "served", lambda _line: None)
        with TritonServer(prepare_runtime(root / "cache"), repository, root / "server.log").running() as server:
            sides = {"onnxruntime direct": direct(batch), "served locally": served(server.ports.http, batch)}
            for call in sides.values():  # warm both
                latency_ms(call, 5)
            latency: dict[str, list[float]] = {name: [] for name in sides}
            rate: dict[str, list[float]] = {name: [] for name in sides}
            for round_number in range(args.rounds):
                order = list(sides) if round_number % 2 == 0 else list(reversed(sides))
                for name in order:
                    latency[name].append(latency_ms(sides[name], args.requests))
                    rate[name].append(throughput(sides[name], args.requests // 4 or 1, 4))
    direct_ms, served_ms = (statistics.median(latency[name]) for name in sides)
    print(f"{'':22}{'latency c=1':>14}{'throughput c=4':>18}")
    for name in sides:
        print(f"{name:22}{statistics.median(latency[name]):>11.2f} ms{statistics.median(rate[name]):>13.1f} /s")
    ratio = served_ms / direct_ms
    print(f"served / direct latency at concurrency 1: {ratio:.2f}x (target ≤ {TARGET_RATIO:.2f}x): {'met' if ratio <= TARGET_RATIO else 'NOT met'}")


if __name__ == "__main__":
    main()
