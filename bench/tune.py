"""`tune` against the restart way (Model Analyzer's usual mode): the same brute search, same
model, same sweep settings, same run, timed end to end.

The model is tests' constructed one: a python-backend model whose batch costs 20 ms whatever
its size, so that under load more instances and dynamic batching pay off predictably. The
search is 3 instance counts × 3 max_batch_sizes × dynamic batching on/off (18 candidates),
each swept at one level. Ours loads every candidate into one running server in explicit
model-control mode; the restart way writes each candidate's config.pbtxt and starts a fresh
tritonserver for it, as Model Analyzer's local mode does. Target: ours ≤ 0.3× the restart
way's time, and the same winner. It asserts nothing: figures are printed.

`tune` is timed on the server that serves the model (a job's or an app's: `tune` never starts
or stops one), from the first load to the verdict; the restart way's starts and stops are its
search by construction. The figure with the served server's own start and stop added is
printed beside it. The default concurrency, 24, makes the constructed best unique (3
instances of 8 take all 24 at once; at 8 several candidates tie and either winner is right).

    python3 -m uv run python bench/tune.py [--level 24] [--interval 400]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from services.cancel import CancelToken
from services.inference.protocol import Endpoint, Transport
from services.inference.triton import TritonInferenceClient
from services.perf.sweep import SweepConfig
from services.perf.tune import Candidate, Dimensions, candidate_config, candidates, pbtxt, ranked
from services.triton.runtime import TritonServer, prepare_runtime
from services.usecases.perf import perf_inputs
from services.usecases.tune import TuneEnded, TuneSettings, measure, tune

SLEEPER = '''
import time
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        time.sleep(0.02)
        return [pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("Y", pb_utils.get_input_tensor_by_name(r, "X").as_numpy())]) for r in requests]
'''
CONFIG = 'name: "sleeper"\nbackend: "python"\nmax_batch_size: 8\ninput [{ name: "X" data_type: TYPE_INT32 dims: [ 1 ] }]\noutput [{ name: "Y" data_type: TYPE_INT32 dims: [ 1 ] }]\n'
DIMENSIONS = Dimensions(instances=(1, 2, 3), max_batch_sizes=(1, 4, 8), dynamic_batching=(False, True))


def repository(root: Path) -> Path:
    (root / "sleeper" / "1").mkdir(parents=True)
    (root / "sleeper" / "config.pbtxt").write_text(CONFIG)
    (root / "sleeper" / "1" / "model.py").write_text(SLEEPER)
    return root


def ours(root: Path, settings: TuneSettings) -> tuple[float, str, float]:
    """`tune` on a server that serves the model (a job's or an app's): its time, its winner,
    and the time with that server's own start and stop added, for the record."""
    started = time.perf_counter()
    server = TritonServer(prepare_runtime(), repository(root / "ours"), root / "ours.log", extra_args=["--model-control-mode=explicit", "--load-model=*"])
    with server.running():
        searching = time.perf_counter()
        client = TritonInferenceClient(Endpoint(f"127.0.0.1:{server.ports.http}", Transport.HTTP))
        (ended,) = [event for event in tune(client, settings, CancelToken()) if isinstance(event, TuneEnded)]
        client.close()
        searched = time.perf_counter() - searching
    best = ended.results[0].candidate.label if ended.results else "none"
    return searched, best, time.perf_counter() - started


def restarting(root: Path, settings: TuneSettings) -> tuple[float, str]:
    started = time.perf_counter()
    results = []
    original: dict[str, object] | None = None
    for number, candidate in enumerate([Candidate(current=True), *candidates({"max_batch_size": 8}, DIMENSIONS)]):
        models = repository(root / f"restart-{number}")
        if original is not None:  # the candidate's config.pbtxt, then a fresh server for it
            (models / "sleeper" / "config.pbtxt").write_text(pbtxt(candidate_config(original, candidate, DIMENSIONS, True)))
        with TritonServer(prepare_runtime(), models, root / f"restart-{number}.log").running() as server:
            client = TritonInferenceClient(Endpoint(f"127.0.0.1:{server.ports.http}", Transport.HTTP))
            if original is None:
                original = client.model_config("sleeper")
                client.close()
                continue
            results.append(measure(client, candidate, settings, perf_inputs(client, "sleeper"), CancelToken()))
            client.close()
    order = ranked(results, "throughput")
    return time.perf_counter() - started, order[0].candidate.label if order else "none"


def model_analyzer(root: Path, settings: TuneSettings, executable: str, perf_analyzer: str) -> tuple[float, str]:
    """Model Analyzer 1.58 in remote mode on the same model, server and sweep: it loads each
    variant into the running explicit-mode server with a config override, as `tune` does, and
    drives perf_analyzer at the same level and windows. Its brute search over instances and
    max_batch_size keeps dynamic batching on (it has no off for a batching model), so the
    comparison runs `tune` over the same 9 candidates."""
    import csv
    import subprocess

    sweep = settings.sweep
    config = {
        "model_repository": str(repository(root / "ma-models")), "triton_launch_mode": "remote", "run_config_search_disable": True,
        "perf_analyzer_path": perf_analyzer, "export_path": str(root / "ma-results"), "output_model_repository_path": str(root / "ma-output"),
        "override_output_model_repository": True, "collect_cpu_metrics": False, "skip_detailed_reports": True,
        "perf_analyzer_flags": {"measurement-interval": sweep.interval_ms, "stability-percentage": sweep.stability, "max-trials": sweep.max_trials},
        "profile_models": {"sleeper": {"cpu_only": True, "parameters": {"concurrency": [int(level) for level in sweep.levels], "batch_sizes": [1]},
                                       "model_config_parameters": {"max_batch_size": list(DIMENSIONS.max_batch_sizes), "dynamic_batching": [{}],
                                                                   "instance_group": [[{"kind": "KIND_CPU", "count": list(DIMENSIONS.instances)}]]}}},
    }  # fmt: skip
    server = TritonServer(prepare_runtime(), Path(config["model_repository"]), root / "ma.log", extra_args=["--model-control-mode=explicit", "--load-model=*"])  # type: ignore[arg-type]
    with server.running():
        started = time.perf_counter()  # on the served server, as `tune` is timed
        config.update(triton_http_endpoint=f"127.0.0.1:{server.ports.http}", triton_grpc_endpoint=f"127.0.0.1:{server.ports.grpc}",
                      triton_metrics_url=f"http://127.0.0.1:{server.ports.metrics}/metrics")  # fmt: skip
        (root / "ma.json").write_text(json.dumps(config))  # YAML is a superset of JSON
        subprocess.run([executable, "profile", "-f", str(root / "ma.json")], check=True, capture_output=True, cwd=root)
        elapsed = time.perf_counter() - started
    with (root / "ma-results" / "results" / "metrics-model-inference.csv").open() as table:
        rows = [row for row in csv.DictReader(table) if row.get("Throughput (infer/sec)")]
    best = max(rows, key=lambda row: float(row["Throughput (infer/sec)"]))
    return elapsed, f"instances={best['Instance Group'].split(':')[0]} max_batch_size={best['Max Batch Size']} dynamic_batching=on ({best['Model Config Path']})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--level", type=int, default=24, help="the concurrency: 24 makes the constructed best unique (3 instances x 8)")
    parser.add_argument("--interval", type=int, default=400)
    parser.add_argument("--model-analyzer", metavar="PATH", help="model-analyzer executable (triton-model-analyzer 1.58 in its own venv)")
    parser.add_argument("--perf-analyzer", metavar="PATH", help="perf_analyzer (../shared/scripts/install-perf-analyzer.sh DIR writes DIR/perf_analyzer)")
    args = parser.parse_args()
    sweep = SweepConfig("sleeper", (float(args.level),), interval_ms=args.interval, warmup_ms=200, stability=50.0, max_trials=4)
    settings = TuneSettings(DIMENSIONS, sweep)
    with tempfile.TemporaryDirectory(prefix="triton-deck-bench-") as scratch:
        root = Path(scratch)
        mine, theirs = ours(root, settings), restarting(root, settings)
    print(json.dumps({"ours_s": round(mine[0], 1), "ours_with_server_s": round(mine[2], 1), "ours_winner": mine[1], "restart_s": round(theirs[0], 1), "restart_winner": theirs[1]}))
    ratio = mine[0] / theirs[0]
    print(f"tune {mine[0]:.1f} s against restarting per candidate {theirs[0]:.1f} s: {ratio:.2f}x (target ≤ 0.30x; "
          f"{mine[2] / theirs[0]:.2f}x counting the served server's own start and stop); "
          f"winners: {mine[1]} / {theirs[1]} ({'same' if mine[1] == theirs[1] else 'DIFFERENT'})")  # fmt: skip
    if not (args.model_analyzer and args.perf_analyzer):
        print("Model Analyzer: skipped (give --model-analyzer and --perf-analyzer; recipe in ../shared/docs/perf-analyzer.md)")
        return
    on_only = replace(settings, dimensions=replace(DIMENSIONS, dynamic_batching=(True,)))
    with tempfile.TemporaryDirectory(prefix="triton-deck-bench-") as scratch:
        root = Path(scratch)
        mine, theirs = ours(root, on_only), model_analyzer(root, on_only, args.model_analyzer, args.perf_analyzer)
    print(f"9 candidates, dynamic batching on: tune {mine[0]:.1f} s, Model Analyzer (remote mode) {theirs[0]:.1f} s: {mine[0] / theirs[0]:.2f}x (target ≤ 0.30x); "
          f"winners: {mine[1]} / {theirs[1]}")  # fmt: skip


if __name__ == "__main__":
    main()
