"""perf_analyzer as the sweep's engine: the real binary run with the same method, its output
read into the same events as the built-in generator's.

Where NVIDIA's C++ perf_analyzer is installed (on PATH, or given), a user may want its
figures rather than ours: `perf --engine perf_analyzer` runs it with the sweep's own flags,
turns each level it prints ("Request concurrency: N" and its Client/Server blocks) into
`LevelStarted` and `LevelDone` as they come, and takes the final figures from its CSV (`-f`),
which it writes sorted by throughput; they are put back in level order. A level it could not
stabilise ("Failed to obtain stable measurement ...") is reported unstable, as ours are.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from services.cancel import CancelToken
from services.errors import UserError
from services.inference.endpoint import Address
from services.inference.protocol import SequencePlan
from services.perf.stats import ServerBreakdown
from services.perf.sweep import LevelDone, LevelResult, LevelStarted, PerfEvent, SweepConfig, SweepEnded, over_threshold

BINARY = "perf_analyzer"
INSTALL_HINT = (
    "perf_analyzer is not installed: it ships in tritonclient 2.34.0's wheel with libcudart from nvidia-cuda-runtime-cu12 "
    "(README, section 'perf_analyzer'); put it on PATH or give --perf-analyzer PATH"
)
LEVEL = re.compile(r"^Request (?:concurrency|Rate): ([\d.]+)")
UNSTABLE = re.compile(r"Failed to obtain stable measurement within (\d+) measurement windows for (?:concurrency|request rate) ([\d.]+)")
CLIENT_FIGURES = {
    "Request count": "requests", "Throughput": "throughput", "Avg latency": "avg_us",
    "p50 latency": "p50_us", "p90 latency": "p90_us", "p95 latency": "p95_us", "p99 latency": "p99_us",
}  # fmt: skip
SERVER_PARTS = re.compile(r"queue (\d+) usec \+ compute input (\d+) usec \+ compute infer (\d+) usec \+ compute output (\d+) usec")


def find_binary(given: str | None = None) -> Path | None:
    """`given` when it is an executable, else perf_analyzer on PATH, else None."""
    if given:
        path = Path(given).expanduser()
        return path if path.is_file() and os.access(path, os.X_OK) else None
    found = shutil.which(BINARY)
    return Path(found) if found else None


def command(
    binary: Path, address: Address, config: SweepConfig, csv_file: Path, input_data: str = "random", shapes: Sequence[str] = (),
    headers: Sequence[str] = (), sequence: SequencePlan | None = None, streaming: bool = False,
) -> list[str]:  # fmt: skip
    """perf_analyzer's own flags for the sweep `config` against `address`."""
    low, high = config.levels[0], config.levels[-1]
    step = config.levels[1] - config.levels[0] if len(config.levels) > 1 else 1
    span = f"{low:g}:{high:g}:{step:g}"
    words = [str(binary), "-m", config.model, "-u", address.target, "-i", address.transport.value, "-b", str(config.batch_size),
             "--concurrency-range" if config.mode == "concurrency" else "--request-rate-range", span,
             "--stability-percentage", f"{config.stability:g}", "--max-trials", str(config.max_trials), "--input-data", input_data, "-f", str(csv_file)]  # fmt: skip
    if config.version:
        words += ["-x", config.version]
    if config.request_count:
        words += ["--measurement-mode", "count_windows", "--measurement-request-count", str(config.request_count)]
    else:
        words += ["--measurement-interval", str(config.interval_ms)]
    if config.percentile:
        words += ["--percentile", str(config.percentile)]
    if config.latency_threshold_ms is not None:
        words += ["--latency-threshold", f"{config.latency_threshold_ms:g}"]
    if address.tls:
        words += ["--ssl-https-verify-peer", "1"] if address.transport.value == "http" else ["--ssl-grpc-use-ssl"]
    if streaming:
        words += ["--streaming"]
    if sequence is not None:
        span = f"{sequence.first_id}" + (f":{sequence.last_id}" if sequence.last_id is not None else "")
        words += ["--sequence-length", str(sequence.length), "--sequence-length-variation", "0", "--sequence-id-range", span]
    for shape in shapes:
        words += ["--shape", shape]
    for header in headers:
        words += ["-H", header]
    return words


@dataclass
class _Level:
    level: float
    figures: dict[str, float] = field(default_factory=dict)
    server: ServerBreakdown | None = None

    def result(self, mode: str) -> LevelResult:
        got = self.figures
        return LevelResult(
            level=self.level, mode=mode, throughput=got.get("throughput", 0.0), avg_us=got.get("avg_us", 0.0), p50_us=got.get("p50_us", 0.0),
            p90_us=got.get("p90_us", 0.0), p95_us=got.get("p95_us", 0.0), p99_us=got.get("p99_us", 0.0),
            requests=int(got.get("requests", 0)), failed=0, stable=True, windows=0, server=self.server,
        )  # fmt: skip


def parse_output(lines: Iterator[str], config: SweepConfig) -> Iterator[PerfEvent]:
    """perf_analyzer's printed levels as events, each `LevelDone` once its block is whole.
    Unstable levels are reported; the last event is not `SweepEnded` (the caller adds it)."""
    current: _Level | None = None
    for raw in lines:
        line = raw.strip()
        started = LEVEL.match(line)
        unstable = UNSTABLE.search(line)
        if (started or unstable or line.startswith("Inferences/Second vs.")) and current is not None:
            yield LevelDone(current.result(config.mode))
            current = None
        if started:
            current = _Level(float(started.group(1)))
            yield LevelStarted(current.level)
        elif unstable:
            level = float(unstable.group(2))
            yield LevelDone(LevelResult(level, config.mode, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, False, int(unstable.group(1))))
        elif current is not None:
            name, _, value = line.partition(":")
            key = CLIENT_FIGURES.get(name.strip())
            number = re.match(r"\s*([\d.]+)", value)
            if key is not None and number and key not in current.figures:
                current.figures[key] = float(number.group(1))
            parts = SERVER_PARTS.search(line)
            if parts:
                queue, infer_in, infer, infer_out = (float(part) for part in parts.groups())
                current.server = ServerBreakdown(int(current.figures.get("requests", 0)), 0, queue, infer_in, infer, infer_out)
    if current is not None:
        yield LevelDone(current.result(config.mode))


def read_csv(path: Path, mode: str) -> dict[float, dict[str, float]]:
    """perf_analyzer's CSV rows by level (it writes them sorted by throughput)."""
    rows: dict[float, dict[str, float]] = {}
    with path.open(newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            level = float(row["Request Rate" if mode == "rate" else "Concurrency"])
            rows[level] = {name: float(value) for name, value in row.items() if value not in (None, "")}
    return rows


def with_csv(result: LevelResult, row: dict[str, float] | None) -> LevelResult:
    """The CSV's figures where it has them (its throughput and percentiles are the final ones)."""
    if row is None:
        return result
    return replace(
        result, throughput=row.get("Inferences/Second", result.throughput), p50_us=row.get("p50 latency", result.p50_us),
        p90_us=row.get("p90 latency", result.p90_us), p95_us=row.get("p95 latency", result.p95_us), p99_us=row.get("p99 latency", result.p99_us),
    )  # fmt: skip


def analyzer_sweep(
    binary: Path, address: Address, config: SweepConfig, cancel: CancelToken, input_data: str = "random", shapes: Sequence[str] = (),
    headers: Sequence[str] = (), sequence: SequencePlan | None = None, streaming: bool = False,
) -> Iterator[PerfEvent]:  # fmt: skip
    """The sweep `config` run by perf_analyzer, its CSV in a scratch directory of its own."""
    with tempfile.TemporaryDirectory(prefix="triton-deck-pa-") as scratch:
        words = command(binary, address, config, Path(scratch) / "results.csv", input_data, shapes, headers, sequence, streaming)
        yield from run(words, config, cancel)


def run(words: list[str], config: SweepConfig, cancel: CancelToken) -> Iterator[PerfEvent]:
    """Run perf_analyzer (`words` from `command`, its `-f` file included), its levels as they
    come; ends with `SweepEnded`, its results in level order, or the one-line reason it failed.
    A cancel interrupts it (SIGINT, as a Ctrl-C would) and nothing of it is left running."""
    csv_file = Path(words[words.index("-f") + 1])
    try:
        process = subprocess.Popen(words, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True)
    except OSError as error:
        raise UserError(f"perf_analyzer cannot start: {error.strerror}") from None
    watcher = threading.Thread(target=_watch, args=(process, cancel), daemon=True)
    watcher.start()
    results: list[LevelResult] = []
    errors: list[str] = []
    assert process.stdout is not None

    def lines() -> Iterator[str]:
        assert process.stdout is not None
        for line in process.stdout:
            if line.lower().startswith("error"):
                errors.append(line.strip())
            yield line

    try:
        for event in parse_output(lines(), config):
            if isinstance(event, LevelDone):
                results.append(event.result)
            yield event
    finally:
        _interrupt(process)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # deaf to SIGINT: it goes anyway
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        watcher.join()
    if cancel.cancelled:
        yield SweepEnded(tuple(results), "cancelled")
        return
    rows = read_csv(csv_file, config.mode) if csv_file.exists() else {}
    final = tuple(sorted((with_csv(result, rows.get(result.level)) for result in results), key=lambda result: result.level))
    over = over_threshold(config, final[-1]) if final else None
    if process.returncode != 0:
        yield SweepEnded(final, f"perf_analyzer: {errors[0] if errors else f'exited with status {process.returncode}'}")
        return
    yield SweepEnded(final, note=over)


def _watch(process: subprocess.Popen[str], cancel: CancelToken) -> None:
    while process.poll() is None:
        if cancel.wait(0.2):
            _interrupt(process)
            return


def _interrupt(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGINT)  # perf_analyzer ends its level and exits on SIGINT
        except ProcessLookupError:
            pass
