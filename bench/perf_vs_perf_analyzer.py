"""`perf`'s generator against the real perf_analyzer, same server, same model, same run.

perf_analyzer (C++, from the tritonclient 2.34.0 wheel) is installed with the recipe
(../shared/scripts/install-perf-analyzer.sh) into a cache outside the repository; where
that cannot be done the bench says so and stops. For HTTP and gRPC at each level on the
demo's `simple` model (and at 1 and 4 on the EfficientNet classifier), the two run one
after the other, who goes first alternating by round, with the same method: 2-second
windows, stability 20 %, at most 10 windows. Printed per level: throughput, average
latency and client CPU milliseconds per 1,000 inferences for each, and the ratios.
Targets: throughput ≥ 0.9×, average latency ≤ 1.15×, client CPU per request no higher.
It asserts nothing: figures are reported, not tested.

    python3 -m uv run python bench/perf_vs_perf_analyzer.py [--levels 1,2,4,8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from services.cancel import CancelToken
from services.demo import CLASSIFIER, MODEL_REPOSITORY
from services.inference.protocol import Endpoint, Transport
from services.inference.triton import TritonInferenceClient
from services.perf.sweep import LevelDone, SweepConfig
from services.triton.runtime import TritonServer, prepare_runtime
from services.usecases.perf import perf_inputs, run_sweep

RECIPE = Path(__file__).resolve().parents[2] / "shared" / "scripts" / "install-perf-analyzer.sh"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "triton-deck-bench" / "perf_analyzer"
INTERVAL_MS, STABILITY, TRIALS = 2000, 20, 10


@dataclass(frozen=True)
class Figures:
    throughput: float
    avg_us: float
    cpu_ms_per_1000: float


def install() -> Path | None:
    binary = CACHE / "perf_analyzer"
    if binary.exists():
        return binary
    CACHE.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["bash", str(RECIPE), str(CACHE)], capture_output=True, text=True)
    return binary if done.returncode == 0 and binary.exists() else None


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def ours(address: str, transport: Transport, model: str, level: int) -> Figures:
    client = TritonInferenceClient(Endpoint(address, transport))
    inputs = perf_inputs(client, model)
    config = SweepConfig(model, (level,), interval_ms=INTERVAL_MS, stability=STABILITY, max_trials=TRIALS, warmup_ms=0)
    cpu, wall = cpu_seconds(resource.RUSAGE_SELF), time.perf_counter()
    (result,) = [event.result for event in run_sweep(client, config, inputs, CancelToken()) if isinstance(event, LevelDone)]
    cpu, wall = cpu_seconds(resource.RUSAGE_SELF) - cpu, time.perf_counter() - wall
    client.close()
    return Figures(result.throughput, result.avg_us, 1e6 * cpu / (result.throughput * wall))


def theirs(binary: Path, address: str, transport: Transport, model: str, level: int, scratch: Path) -> Figures:
    table = scratch / "pa.csv"
    words = [str(binary), "-m", model, "-u", address, "-i", transport.value, "--concurrency-range", f"{level}:{level}",
             "--measurement-interval", str(INTERVAL_MS), "--stability-percentage", str(STABILITY), "--max-trials", str(TRIALS), "-f", str(table)]  # fmt: skip
    cpu, wall = cpu_seconds(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(words, capture_output=True, check=True)
    cpu, wall = cpu_seconds(resource.RUSAGE_CHILDREN) - cpu, time.perf_counter() - wall
    with table.open() as file:
        row = next(csv.DictReader(file))
    throughput = float(row["Inferences/Second"])
    parts = ("Client Send", "Network+Server Send/Recv", "Server Queue", "Server Compute Input", "Server Compute Infer", "Server Compute Output", "Client Recv")
    average = float(row["Avg latency"]) if "Avg latency" in row else sum(float(row[part]) for part in parts)  # its breakdown adds up to the average
    return Figures(throughput, average, 1e6 * cpu / (throughput * wall))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,2,4,8")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    binary = install()
    if binary is None:
        print(f"perf_analyzer could not be installed with {RECIPE} into {CACHE}: nothing to compare against", file=sys.stderr)
        raise SystemExit(0)
    scratch = Path(tempfile.mkdtemp(prefix="triton-deck-bench-"))
    plan = [("simple", int(level)) for level in args.levels.split(",")] + [(CLASSIFIER, 1), (CLASSIFIER, 4)]
    print(f"{'':6}{'model':20}{'c':>3} {'perf infer/s':>13}{'pa infer/s':>12}{'ratio':>7} {'perf avg µs':>12}{'pa avg µs':>11}{'ratio':>7} {'perf CPU':>9}{'pa CPU':>8}  (client CPU ms per 1,000 inferences)")
    with TritonServer(prepare_runtime(), MODEL_REPOSITORY, scratch / "server.log").running() as server:
        for transport in (Transport.HTTP, Transport.GRPC):
            address = f"127.0.0.1:{server.ports.http if transport is Transport.HTTP else server.ports.grpc}"
            for model, level in plan:
                mine: list[Figures] = []
                pa: list[Figures] = []
                for number in range(args.rounds):  # who goes first alternates
                    for side in ("ours", "theirs") if number % 2 == 0 else ("theirs", "ours"):
                        if side == "ours":
                            mine.append(ours(address, transport, model, level))
                        else:
                            pa.append(theirs(binary, address, transport, model, level, scratch))
                a = Figures(*(statistics.median(getattr(f, field) for f in mine) for field in ("throughput", "avg_us", "cpu_ms_per_1000")))
                b = Figures(*(statistics.median(getattr(f, field) for f in pa) for field in ("throughput", "avg_us", "cpu_ms_per_1000")))
                print(f"{transport.value:6}{model:20}{level:>3} {a.throughput:>13.1f}{b.throughput:>12.1f}{a.throughput / b.throughput:>7.2f} "
                      f"{a.avg_us:>12.0f}{b.avg_us:>11.0f}{a.avg_us / b.avg_us:>7.2f} {a.cpu_ms_per_1000:>9.1f}{b.cpu_ms_per_1000:>8.1f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
