"""The load generator must not be the bottleneck: `perf`'s throughput against a raw
tritonclient loop at the same concurrency, same server, same model, in the same run.

The demo server's `simple` model answers in well under a millisecond, so any overhead of
ours shows. Per level and protocol: ours (a sweep of three 2-second windows) against N
threads each looping `client.infer` for the same 6 seconds; target ours ≥ 95 % of raw.
It asserts nothing: figures are reported, not tested.

    python3 -m uv run python bench/perf_generator.py [--levels 1,2,4] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from services.cancel import CancelToken
from services.demo import MODEL_REPOSITORY
from services.inference.protocol import Endpoint, Transport
from services.inference.triton import TritonInferenceClient
from services.perf.sweep import LevelDone, SweepConfig
from services.triton.runtime import TritonServer, prepare_runtime
from services.usecases.perf import perf_inputs, run_sweep

TARGET = 0.95
SECONDS = 6.0


def raw_rate(address: str, transport: Transport, concurrency: int) -> float:
    if transport is Transport.GRPC:
        import tritonclient.grpc as module
    else:
        import tritonclient.http as module  # type: ignore[no-redef]
    data = np.ones((1, 16), dtype=np.int32)
    done = [0] * concurrency
    stop = time.perf_counter() + SECONDS

    def loop(slot: int) -> None:
        client = module.InferenceServerClient(address)
        inputs = [module.InferInput(name, [1, 16], "INT32") for name in ("INPUT0", "INPUT1")]
        for tensor in inputs:
            tensor.set_data_from_numpy(data)
        while time.perf_counter() < stop:
            client.infer("simple", inputs)
            done[slot] += 1
        client.close()

    threads = [threading.Thread(target=loop, args=(slot,)) for slot in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def ours_rate(address: str, transport: Transport, concurrency: int) -> float:
    client = TritonInferenceClient(Endpoint(address, transport))
    inputs = perf_inputs(client, "simple")
    config = SweepConfig("simple", (concurrency,), interval_ms=int(SECONDS / 3 * 1000), warmup_ms=500, stability=100.0, max_trials=3)
    (result,) = [event.result for event in run_sweep(client, config, inputs, CancelToken()) if isinstance(event, LevelDone)]
    client.close()
    return result.throughput


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,2,4")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per level, the first run alternating; medians are compared")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]
    scratch = Path(tempfile.mkdtemp(prefix="triton-deck-bench-"))
    with TritonServer(prepare_runtime(), MODEL_REPOSITORY, scratch / "server.log").running() as server:
        for transport in (Transport.HTTP, Transport.GRPC):
            port = server.ports.http if transport is Transport.HTTP else server.ports.grpc
            address = f"127.0.0.1:{port}"
            for level in levels:
                ours_rates: list[float] = []
                raw_rates: list[float] = []
                for number in range(args.rounds):  # who goes first alternates: drift on this VM favours neither
                    runs = [(ours_rates, ours_rate), (raw_rates, raw_rate)]
                    for rates, measure in runs if number % 2 == 0 else reversed(runs):
                        rates.append(measure(address, transport, level))
                ours, raw = statistics.median(ours_rates), statistics.median(raw_rates)
                verdict = "ok" if ours >= TARGET * raw else f"below the {TARGET:.0%} target"
                print(f"{transport.value:>4} concurrency {level}: perf {ours:8.1f} infer/s, raw tritonclient {raw:8.1f} infer/s, {ours / raw:6.1%} ({verdict})")


if __name__ == "__main__":
    main()
