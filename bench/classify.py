"""Classification benchmark against a real local tritonserver serving the demo classifier.

1. Per-request overhead: `TritonInferenceClient.classify` on one photo against a raw
   tritonclient call doing the same work (image_client's preprocessing + infer with
   class_count), same image, same server, interleaved rounds; target ratio at most 1.10.
2. Throughput: images/s of `classify` with `--concurrency` requests in flight against the
   same images sent one at a time.

It asserts nothing: timings are reported, not tested.

    python3 -m uv run python bench/classify.py [--rounds 7] [--requests 40] [--concurrency 4] [--protocol http|grpc]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from services.demo import CLASSIFIER, MODEL_REPOSITORY, SAMPLES_DIR
from services.inference.protocol import ClassifyRequest, Endpoint, Scaling, Transport
from services.inference.triton import TritonInferenceClient
from services.triton.runtime import TritonServer, prepare_runtime

TARGET_RATIO = 1.10
PHOTO = SAMPLES_DIR / "coffee.png"


def raw_call(transport: Transport, address: str) -> Callable[[], list[str]]:
    """The baseline: what image_client does per image, written straight on tritonclient."""
    from PIL import Image

    if transport is Transport.GRPC:
        import tritonclient.grpc as module
    else:
        import tritonclient.http as module  # type: ignore[no-redef]
    client = module.InferenceServerClient(address)

    def call() -> list[str]:
        pixels = np.array(Image.open(PHOTO).convert("RGB").resize((224, 224), Image.BILINEAR)).astype(np.float32)
        batch = np.transpose(pixels / 127.5 - 1, (2, 0, 1))[np.newaxis]
        tensor = module.InferInput("input", list(batch.shape), "FP32")
        tensor.set_data_from_numpy(batch)
        answer = client.infer(CLASSIFIER, [tensor], outputs=[module.InferRequestedOutput("logits", class_count=3)])
        return [value.decode() for value in answer.as_numpy("logits")[0]]

    return call


def ours_call(client: TritonInferenceClient) -> Callable[[], list[str]]:
    request = ClassifyRequest(CLASSIFIER, (PHOTO,), top_k=3, scaling=Scaling.INCEPTION)

    def call() -> list[str]:
        (result,) = client.classify(request)
        return [f"{c.score}:{c.index}:{c.label}" for c in result.classes]

    return call


def per_call_ms(call: Callable[[], object], requests: int) -> float:
    started = time.perf_counter()
    for _ in range(requests):
        call()
    return (time.perf_counter() - started) * 1000 / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=40, help="requests per round")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--protocol", type=Transport, default=Transport.HTTP)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        with TritonServer(prepare_runtime(), MODEL_REPOSITORY, Path(scratch) / "server.log").running() as server:
            port = server.ports.http if args.protocol is Transport.HTTP else server.ports.grpc
            address = f"127.0.0.1:{port}"
            ours_client = TritonInferenceClient(Endpoint(address, args.protocol))
            raw, ours = raw_call(args.protocol, address), ours_call(ours_client)
            assert raw() == ours(), "both paths must give the same answer"
            raw_ms: list[float] = []
            ours_ms: list[float] = []
            for _ in range(args.rounds):
                raw_ms.append(per_call_ms(raw, args.requests))
                ours_ms.append(per_call_ms(ours, args.requests))
            raw_median, ours_median = statistics.median(raw_ms), statistics.median(ours_ms)
            ratio = ours_median / raw_median
            verdict = "within" if ratio <= TARGET_RATIO else "OVER"
            print(f"protocol               : {args.protocol.value}, {args.requests} requests x {args.rounds} rounds, {PHOTO.name}")
            print(f"raw tritonclient       : {raw_median:7.2f} ms/request (median)")
            print(f"triton-deck classify   : {ours_median:7.2f} ms/request (median)")
            print(f"overhead ratio         : {ratio:.3f}x  ({verdict} the {TARGET_RATIO:.2f}x target)")

            images = (PHOTO,) * args.requests
            sequential = ClassifyRequest(CLASSIFIER, images, top_k=3, scaling=Scaling.INCEPTION)
            concurrent = ClassifyRequest(CLASSIFIER, images, top_k=3, scaling=Scaling.INCEPTION, concurrency=args.concurrency)
            rates: dict[str, list[float]] = {"sequential": [], "concurrent": []}
            for _ in range(args.rounds):
                for name, request in (("sequential", sequential), ("concurrent", concurrent)):
                    started = time.perf_counter()
                    assert all(r.error is None for r in ours_client.classify(request))
                    rates[name].append(len(images) / (time.perf_counter() - started))
            one, many = (statistics.median(rates[name]) for name in ("sequential", "concurrent"))
            print(f"sequential             : {one:7.1f} images/s")
            print(f"concurrency {args.concurrency:<2}         : {many:7.1f} images/s  ({many / one:.2f}x sequential)")
            ours_client.close()


if __name__ == "__main__":
    main()
