"""The local app endpoint against calling one replica directly, in the same run.

A real local app (the bundled tritonserver serving the demo classifier) is started in a
scratch data directory. Then, with interleaved rounds (who goes first alternating) so drift
hits both sides alike:

1. Latency at concurrency 1 and 8: one classifier request (the photo already preprocessed,
   so only the server and the path to it are timed) through the app URL against straight
   to a replica's own port; target at most 1.10× at concurrency 1.
2. Throughput with 2 replicas against 1, at concurrency 8, through the endpoint.
3. The spread of one keep-alive client over the 2 replicas (the endpoint balances each
   request, not each connection), from the app's own per-replica status.
4. With `--perf-analyzer`, the real perf_analyzer and `perf`'s engine, each through the
   endpoint and straight to the replica at concurrency 1 and 8 (one replica, the same run),
   with bench/perf_vs_perf_analyzer.py's method.

It asserts nothing: timings are reported, not tested.

    python3 -m uv run python bench/app_endpoint.py [--rounds 5] [--requests 40] [--perf-analyzer]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

TARGET_RATIO = 1.10


def request_body() -> tuple[list[object], list[object]]:
    import tritonclient.http as httpclient
    from PIL import Image

    from services.demo import SAMPLES_DIR

    pixels = np.array(Image.open(SAMPLES_DIR / "coffee.png").convert("RGB").resize((224, 224), Image.BILINEAR)).astype(np.float32)
    batch = np.transpose(pixels / 127.5 - 1, (2, 0, 1))[np.newaxis]
    tensor = httpclient.InferInput("input", list(batch.shape), "FP32")
    tensor.set_data_from_numpy(batch)
    return [tensor], [httpclient.InferRequestedOutput("logits", class_count=3)]


def timed_requests(address: str, requests: int, concurrency: int) -> tuple[float, float]:
    """(median seconds per request, requests per second) with `concurrency` clients, each its own connection."""
    import tritonclient.http as httpclient

    from services.demo import CLASSIFIER

    inputs, outputs = request_body()
    clients = [httpclient.InferenceServerClient(address) for _ in range(concurrency)]
    latencies: list[float] = []
    lock = threading.Lock()
    share = max(1, requests // concurrency)

    def worker(client: httpclient.InferenceServerClient) -> None:
        for _ in range(share):
            start = time.perf_counter()
            client.infer(CLASSIFIER, inputs, outputs=outputs)
            with lock:
                latencies.append(time.perf_counter() - start)

    began = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    for client in clients:
        client.close()
    return statistics.median(latencies), len(latencies) / elapsed


def replica_address(root: Path, app_id: str) -> str:
    log = (root / app_id / "log.txt").read_text()
    port = next(int(line.split("(HTTP ", 1)[1].split(",", 1)[0]) for line in log.splitlines() if " starting (HTTP " in line)
    return f"127.0.0.1:{port}"


def wait(test: Callable[[], bool], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not test():
        if time.monotonic() > deadline:
            raise SystemExit("the app did not come up in time")
        time.sleep(0.2)


def against_perf_analyzer(endpoint: str, direct: str, scratch: Path) -> None:
    """perf_analyzer and `perf`'s engine through the endpoint and straight to the replica."""
    from bench.perf_vs_perf_analyzer import install, ours, theirs
    from services.demo import CLASSIFIER
    from services.inference.protocol import Transport

    binary = install()
    if binary is None:
        print("perf_analyzer: could not be installed with the shared recipe; skipped")
        return
    for level in (1, 8):
        figures = {(tool, where): measure(address, Transport.HTTP, CLASSIFIER, level)
                   for where, address in (("endpoint", endpoint), ("direct", direct))
                   for tool, measure in (("perf_analyzer", lambda *a: theirs(binary, *a, scratch)), ("perf", ours))}  # fmt: skip
        for tool in ("perf_analyzer", "perf"):
            via, straight = figures[(tool, "endpoint")], figures[(tool, "direct")]
            print(f"{tool:>13}, concurrency {level}: endpoint {via.throughput:.1f}/s {via.avg_us / 1000:.2f} ms, direct {straight.throughput:.1f}/s "
                  f"{straight.avg_us / 1000:.2f} ms: throughput {via.throughput / straight.throughput:.2f}×, latency {via.avg_us / straight.avg_us:.2f}×")  # fmt: skip
        perf_side, pa_side = figures[("perf", "endpoint")], figures[("perf_analyzer", "endpoint")]
        print(f"   through the endpoint, perf / perf_analyzer: throughput {perf_side.throughput / pa_side.throughput:.2f}×, latency {perf_side.avg_us / pa_side.avg_us:.2f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--perf-analyzer", action="store_true", help="also measure with the real perf_analyzer (installed with the shared recipe)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="triton-deck-bench-"))
    for name in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        os.environ[name] = str(scratch / name.lower())

    from services.apps.local import LocalAppPlatform
    from services.apps.preset import triton_app
    from services.apps.protocol import AppState, FixedScaling
    from services.cancel import CancelToken
    from services.demo import MODEL_REPOSITORY
    from services.jobs.protocol import VolumeSpec
    from services.storage.local import LocalObjectStore
    from services.storage.planning import plan_upload
    from services.storage.protocol import BucketRef, UploadOptions

    store = LocalObjectStore()
    bucket = BucketRef("bench-models", "LOCAL")
    store.create_bucket(bucket)
    items = plan_upload([str(MODEL_REPOSITORY)], str(MODEL_REPOSITORY).lstrip("/") + "/")
    store.upload(bucket, items, UploadOptions(), lambda _p: None, CancelToken())
    platform = LocalAppPlatform()
    models = VolumeSpec(bucket.name, bucket.region, "/workspace/models", "RO")
    app = platform.run(triton_app("local/tritonserver", models, "bench", FixedScaling(1), unsecure_http=True))
    try:
        wait(lambda: platform.get(app.id).state is AppState.RUNNING)
        endpoint = (platform.get(app.id).url or "").removeprefix("http://")
        direct = replica_address(platform.root, app.id)
        timed_requests(endpoint, 8, 1)  # warm both paths
        for concurrency in (1, 8):
            ratios, seconds = [], {"endpoint": [], "direct": []}
            for number in range(args.rounds):  # who goes first alternates: on this VM the second of a pair runs differently
                pair = {}
                for name, address in ((("endpoint", endpoint), ("direct", direct)) if number % 2 == 0 else (("direct", direct), ("endpoint", endpoint))):
                    pair[name] = timed_requests(address, args.requests, concurrency)[0]
                    seconds[name].append(pair[name])
                ratios.append(pair["endpoint"] / pair["direct"])
            ratio = statistics.median(ratios)
            verdict = "ok" if concurrency > 1 or ratio <= TARGET_RATIO else f"over the {TARGET_RATIO:.2f}× target"
            shown = ", ".join(f"{name} {statistics.median(values) * 1e3:.2f} ms" for name, values in seconds.items())
            print(f"latency, concurrency {concurrency}: endpoint / one replica directly = {ratio:.3f}×  ({verdict}; {shown})")
        if args.perf_analyzer:
            against_perf_analyzer(endpoint, direct, scratch)
        one = statistics.median(timed_requests(endpoint, args.requests * 2, 8)[1] for _ in range(args.rounds))
        platform.scale(app.id, FixedScaling(2))
        wait(lambda: (a := platform.get(app.id)).state is AppState.RUNNING and a.available_replicas == 2)
        two = statistics.median(timed_requests(endpoint, args.requests * 2, 8)[1] for _ in range(args.rounds))
        print(f"throughput, concurrency 8: 2 replicas / 1 replica = {two / one:.2f}×  ({one:.1f} → {two:.1f} requests/s, {os.cpu_count()} CPUs)")
        before = {r.name: r.requests or 0 for r in platform.get(app.id).replicas}
        timed_requests(endpoint, args.requests * 2, 1)  # one client, one keep-alive connection
        time.sleep(1.5)  # the supervisor's next tick writes the status
        answered = {r.name: (r.requests or 0) - before.get(r.name, 0) for r in platform.get(app.id).replicas}
        total = sum(answered.values()) or 1
        print("one keep-alive client over 2 replicas: " + ", ".join(f"{name} {count / total:.0%}" for name, count in sorted(answered.items())))
    finally:
        platform.delete(app.id, force=True)


if __name__ == "__main__":
    main()
