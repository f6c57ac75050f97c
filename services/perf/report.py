"""A sweep's results as files: perf_analyzer's CSV (its column names, microseconds, so
existing spreadsheets and plots keep working) and a JSON document.

triton-deck times each request whole, so it does not split the client's own send and
receive out: `Client Send` and `Client Recv` are 0 and `Network+Server Send/Recv` is the
rest of the average latency once the server's queue and compute are taken off.
"""

from __future__ import annotations

import csv
import io
import shlex
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from services.json_keys import camel_keys
from services.perf.gpu_metrics import csv_cells
from services.perf.sweep import LevelResult

CSV_COLUMNS = (
    "Inferences/Second", "Client Send", "Network+Server Send/Recv", "Server Queue", "Server Compute Input",
    "Server Compute Infer", "Server Compute Output", "Client Recv", "p50 latency", "p90 latency", "p95 latency", "p99 latency",
)  # fmt: skip


GPU_COLUMNS = ("Avg GPU Utilization", "Avg GPU Power Usage", "Max GPU Memory Usage", "Total GPU Memory")


def level_header(mode: str) -> str:
    return "Request Rate" if mode == "rate" else "Concurrency"


def csv_text(results: Sequence[LevelResult], gpu_columns: bool = False) -> str:
    """perf_analyzer's CSV; `gpu_columns` (with --collect-metrics) adds its four GPU columns."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((level_header(results[0].mode if results else "concurrency"), *CSV_COLUMNS, *(GPU_COLUMNS if gpu_columns else ())))
    for result in results:
        server = result.server
        queue, infer_in, infer, infer_out = (server.queue_us, server.compute_input_us, server.compute_infer_us, server.compute_output_us) if server else (0.0, 0.0, 0.0, 0.0)
        network = max(0.0, result.avg_us - (queue + infer_in + infer + infer_out))
        level = int(result.level) if result.level == int(result.level) else result.level
        row = (level, round(result.throughput, 1), 0, round(network), round(queue), round(infer_in), round(infer), round(infer_out), 0,
               round(result.p50_us), round(result.p90_us), round(result.p95_us), round(result.p99_us))  # fmt: skip
        writer.writerow((*row, *csv_cells(result.gpus)) if gpu_columns else row)
    return out.getvalue()


def json_document(model: str, results: Sequence[LevelResult], reason: str | None) -> dict[str, Any]:
    return {"model": model, "stoppedEarly": reason, "levels": [camel_keys(asdict(result)) for result in results]}


def perf_command_line(model: str, levels: str, mode: str = "concurrency", protocol: str = "http", target: str = "") -> str:
    """The `triton-deck perf ...` a Perf screen run amounts to (its `c`)."""
    flag = "--request-rate-range" if mode == "rate" else "--concurrency-range"
    words = ["triton-deck", "perf", "-m", model, flag, levels, "-i", protocol]
    return shlex.join(words) + (f" {target}" if target else "")
