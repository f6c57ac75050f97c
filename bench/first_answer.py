"""Time to the first answer: `triton-deck demo` against the raw minimum, same machine, same run.

The raw path is a script doing only what must be done: start the bundled tritonserver on
`demo/model_repository`, wait until it is ready, classify the three photos with tritonclient
(image_client's preprocessing), print the first top-3. Ours is `triton-deck demo` in a
scratch data directory. Both are whole processes, timed to their first printed top-3, warm
runtime cache, interleaved rounds; target ours ≤ 1.3× raw. It asserts nothing.

    python3 -m uv run python bench/first_answer.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.3
RAW = r"""
import sys, time
from pathlib import Path
import numpy as np
import tritonclient.http as httpclient
from PIL import Image
from services.demo import MODEL_REPOSITORY, SAMPLES_DIR
from services.triton.runtime import TritonServer, prepare_runtime

server = TritonServer(prepare_runtime(), MODEL_REPOSITORY, Path(sys.argv[1]) / "raw.log")
server.start()
try:
    server.wait_ready()
    client = httpclient.InferenceServerClient(f"127.0.0.1:{server.ports.http}")
    for photo in sorted(SAMPLES_DIR.iterdir()):
        pixels = np.array(Image.open(photo).convert("RGB").resize((224, 224), Image.BILINEAR)).astype(np.float32)
        batch = np.transpose(pixels / 127.5 - 1, (2, 0, 1))[np.newaxis]
        tensor = httpclient.InferInput("input", list(batch.shape), "FP32")
        tensor.set_data_from_numpy(batch)
        answer = client.infer("efficientnet_lite0", [tensor], outputs=[httpclient.InferRequestedOutput("logits", class_count=3)])
        print(f"Image '{photo}':", flush=True)
        for value in answer.as_numpy("logits")[0]:
            print("   ", value.decode(), flush=True)
finally:
    server.stop()
"""


def until_first_top3(command: list[str], env: dict[str, str]) -> float:
    """Seconds from start to the third class line of the first image; the process then finishes."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
    assert process.stdout is not None
    seen, elapsed = 0, None
    for line in process.stdout:
        if line.startswith("Image '"):
            seen = 1
        elif seen and line.startswith("    "):
            seen += 1
            if seen == 4 and elapsed is None:
                elapsed = time.perf_counter() - started
    process.wait()
    if elapsed is None:
        raise SystemExit(f"{command[:3]} printed no top-3")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ours_times, raw_times = [], []
    for _ in range(args.rounds + 1):  # the first round warms the runtime cache and the page cache
        with tempfile.TemporaryDirectory() as scratch:
            env = {**os.environ, "XDG_DATA_HOME": f"{scratch}/data", "XDG_CONFIG_HOME": f"{scratch}/config", "PYTHONPATH": str(ROOT)}
            ours = until_first_top3([sys.executable, "-m", "tui.cli", "demo"], env)
            raw = until_first_top3([sys.executable, "-c", RAW, scratch], env)
        ours_times.append(ours)
        raw_times.append(raw)
    ours, raw = statistics.median(ours_times[1:]), statistics.median(raw_times[1:])
    verdict = "within" if ours <= TARGET * raw else "OVER"
    print(f"triton-deck demo: {ours:5.2f} s to the first top-3 (median of {args.rounds})")
    print(f"raw minimum     : {raw:5.2f} s")
    print(f"ratio           : {ours / raw:.2f}x ({verdict} the {TARGET}x target)")


if __name__ == "__main__":
    main()
