"""A load sweep, perf_analyzer's method, as a stream of typed events.

For each level (a concurrency, or a request rate): a warm-up, then measurement windows
(`interval_ms` long, or until `request_count` requests completed) until the last three are
stable (`stability`), or `max_trials` windows. The level's figures are those of its last
three windows: throughput, average and p50/p90/p95/p99 client latency, failures, and the
server's own breakdown from the model's statistics over the same span.

Concurrency N means N requests always outstanding: N threads, each sending the next request
as soon as its last one answered. A rate R means R requests started per second whatever the
answers, from a pool of threads. Either way every thread is joined before a level ends: when
`sweep` returns, or is cancelled, no request is left in flight (unless the caller took the last
level's requests with a `Draining`, as `tune` does, and waits for them itself).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from services.cancel import CancelToken
from services.errors import UserError
from services.inference.stats import ModelStats
from services.perf.gpu_metrics import GpuFigures, GpuReading, gpu_figures
from services.perf.stability import Window, is_stable
from services.perf.stats import ServerBreakdown, breakdown

Send = Callable[[], None]  # one inference request, on the calling thread's own connection
MAX_RATE_THREADS = 256


@dataclass(frozen=True)
class SweepConfig:
    model: str
    levels: tuple[float, ...]
    mode: str = "concurrency"  # or "rate" (requests per second)
    version: str = ""
    batch_size: int = 1
    interval_ms: int = 5000
    request_count: int | None = None  # count windows instead of time windows
    stability: float = 10.0
    max_trials: int = 10
    percentile: int | None = None  # the latency that decides stability; None: the average
    warmup_ms: int = 1000
    latency_threshold_ms: float | None = None  # stop after the first level over it (perf_analyzer's --latency-threshold)


@dataclass(frozen=True)
class LevelResult:
    level: float
    mode: str
    throughput: float  # inferences per second (requests × batch size)
    avg_us: float
    p50_us: float
    p90_us: float
    p95_us: float
    p99_us: float
    requests: int
    failed: int
    stable: bool
    windows: int
    server: ServerBreakdown | None = None
    gpus: tuple[GpuFigures, ...] = ()  # with --collect-metrics: per GPU; none on a CPU-only server


@dataclass(frozen=True)
class LevelStarted:
    level: float


@dataclass(frozen=True)
class WindowMeasured:
    level: float
    trial: int
    window: Window


@dataclass(frozen=True)
class LevelDone:
    result: LevelResult


@dataclass(frozen=True)
class SweepEnded:
    results: tuple[LevelResult, ...]
    reason: str | None = None  # why it stopped early (cancelled, the server went away), else None
    note: str | None = None  # a stop that is no failure: the latency threshold was passed


PerfEvent = LevelStarted | WindowMeasured | LevelDone | SweepEnded


def parse_range(text: str, flag: str, whole: bool = True) -> tuple[float, ...]:
    """`START[:END[:STEP]]` as perf_analyzer's `--concurrency-range` / `--request-rate-range`."""
    parts = text.split(":")
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        numbers = []
    if not 1 <= len(numbers) <= 3 or any(n <= 0 for n in numbers) or (whole and any(n != int(n) for n in numbers)):
        kind = "whole numbers" if whole else "numbers"
        raise UserError(f"{flag} '{text}' must be START[:END[:STEP]] with {kind} above 0, e.g. 1:8:1")
    start, end, step = (numbers + [numbers[0], 1.0])[:3] if len(numbers) == 1 else (numbers + [1.0])[:3]
    if end < start:
        raise UserError(f"{flag} '{text}': END {end:g} is below START {start:g}")
    count = int(math.floor((end - start) / step + 1e-9)) + 1
    if count > 1000:
        raise UserError(f"{flag} '{text}' makes {count} levels: use a larger STEP")
    return tuple(start + index * step for index in range(count))


class _Record:
    """Completed requests of a level: (end time, latency s, ok) per sending thread.

    Each thread appends to its own list (no lock on the hot path: a shared lock taken per
    request costs the generator a quarter of its rate at concurrency 4); readers copy."""

    def __init__(self) -> None:
        self._lists: list[list[tuple[float, float, bool]]] = []
        self._local = threading.local()
        self._lock = threading.Lock()
        self.first_error: str | None = None

    def _mine(self) -> list[tuple[float, float, bool]]:
        mine: list[tuple[float, float, bool]] | None = getattr(self._local, "rows", None)
        if mine is None:
            mine = self._local.rows = []
            with self._lock:
                self._lists.append(mine)
        return mine

    def add(self, end: float, latency: float, ok: bool, error: str | None = None) -> None:
        self._mine().append((end, latency, ok))
        if error and self.first_error is None:
            self.first_error = error

    def since(self, start: float, end: float) -> list[tuple[float, float, bool]]:
        with self._lock:
            lists = list(self._lists)
        return [row for rows in lists for row in rows[:] if start <= row[0] < end]

    def count(self) -> int:
        with self._lock:
            return sum(len(rows) for rows in self._lists)


def _timed(send: Send, record: _Record) -> None:
    started = time.perf_counter()
    try:
        send()
    except Exception as error:  # one failed request is a count, not the end of the sweep
        message = error.message if isinstance(error, UserError) else f"{type(error).__name__}: {error}"
        record.add(time.perf_counter(), time.perf_counter() - started, False, message)
        return
    ended = time.perf_counter()
    record.add(ended, ended - started, True)


class _Load:
    """The requests of one level, in threads of their own until `stop`."""

    def __init__(self, config: SweepConfig, level: float, send: Send, record: _Record) -> None:
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pool: ThreadPoolExecutor | None = None
        if config.mode == "rate":
            workers = min(MAX_RATE_THREADS, max(4, math.ceil(level)))
            self._pool = ThreadPoolExecutor(workers, thread_name_prefix="perf-rate")
            self._threads.append(threading.Thread(target=self._pace, args=(level, send, record), daemon=True))
        else:
            self._threads += [threading.Thread(target=self._loop, args=(send, record), daemon=True) for _ in range(int(level))]
        for thread in self._threads:
            thread.start()

    def _loop(self, send: Send, record: _Record) -> None:
        while not self._stop.is_set():
            _timed(send, record)

    def _pace(self, rate: float, send: Send, record: _Record) -> None:
        assert self._pool is not None
        period, due = 1.0 / rate, time.perf_counter()
        while not self._stop.is_set():
            self._pool.submit(_timed, send, record)
            due += period
            self._stop.wait(max(0.0, due - time.perf_counter()))

    def halt(self) -> None:
        """Stop sending; what is in flight still answers."""
        self._stop.set()

    def stop(self) -> None:
        """Stop sending and wait for every request in flight to answer."""
        self.halt()
        for thread in self._threads:
            thread.join()
        if self._pool is not None:
            self._pool.shutdown(wait=True)


class Draining:
    """Loads that stopped sending but whose last requests may still be in flight, waited for
    when the caller must. `tune` changes the model while the last candidate's queue drains
    (Triton starts the new instances meanwhile and answers the old requests first) and
    waits before measuring again: the drain and the load overlap, where one followed the other."""

    def __init__(self) -> None:
        self._loads: list[_Load] = []

    def add(self, load: _Load) -> None:
        load.halt()
        self._loads.append(load)

    def wait(self) -> None:
        """Every request of the loads added is answered; no thread of theirs is left."""
        while self._loads:
            self._loads.pop().stop()


def _percentile(sorted_values: Sequence[float], percent: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, math.ceil(percent / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def _window(rows: list[tuple[float, float, bool]], seconds: float, config: SweepConfig) -> Window:
    latencies = sorted(latency * 1e6 for _end, latency, ok in rows if ok)
    ok = len(latencies)
    decisive = _percentile(latencies, config.percentile) if config.percentile else (sum(latencies) / ok if ok else 0.0)
    return Window(ok * config.batch_size / seconds if seconds > 0 else 0.0, decisive, ok, len(rows) - ok)


def _result(config: SweepConfig, level: float, rows: list[tuple[float, float, bool]], seconds: float, stable: bool, windows: int, server: ServerBreakdown | None) -> LevelResult:
    latencies = sorted(latency * 1e6 for _end, latency, ok in rows if ok)
    ok = len(latencies)
    return LevelResult(
        level=level, mode=config.mode, throughput=ok * config.batch_size / seconds if seconds > 0 else 0.0,
        avg_us=sum(latencies) / ok if ok else 0.0, p50_us=_percentile(latencies, 50), p90_us=_percentile(latencies, 90),
        p95_us=_percentile(latencies, 95), p99_us=_percentile(latencies, 99), requests=ok, failed=len(rows) - ok,
        stable=stable, windows=windows, server=server,
    )  # fmt: skip


def sweep(
    config: SweepConfig, send: Send, stats: Callable[[], ModelStats] | None, cancel: CancelToken, metrics: Callable[[], GpuReading] | None = None,
    draining: Draining | None = None,
) -> Iterator[PerfEvent]:  # fmt: skip
    """Every level in turn; ends with `SweepEnded` (also when cancelled or the server is gone).
    `metrics` (with --collect-metrics) is read at every window's end. With `draining`, the
    last level's requests still in flight are left to it (stopped, not waited for); otherwise,
    and on any early end, every request has answered when the sweep ends."""
    results: list[LevelResult] = []
    for number, level in enumerate(config.levels, start=1):
        yield LevelStarted(level)
        record = _Record()
        load = _Load(config, level, send, record)
        measured = False
        try:
            reason, result = yield from _measure(config, level, record, stats, cancel, metrics)
            measured = reason is None and number == len(config.levels)
        finally:
            if draining is not None and measured:
                draining.add(load)
            else:
                load.stop()
        if result is not None:
            results.append(result)
            yield LevelDone(result)
        if reason is not None:
            yield SweepEnded(tuple(results), reason)
            return
        over = over_threshold(config, result)
        if over is not None:
            yield SweepEnded(tuple(results), note=over)
            return
    yield SweepEnded(tuple(results))


def over_threshold(config: SweepConfig, result: LevelResult | None) -> str | None:
    """Why the sweep stops after `result`, when its latency passed `--latency-threshold`."""
    if config.latency_threshold_ms is None or result is None:
        return None
    decisive = {50: result.p50_us, 90: result.p90_us, 95: result.p95_us, 99: result.p99_us}.get(config.percentile or 0, result.avg_us)
    if decisive <= config.latency_threshold_ms * 1000:
        return None
    what = f"p{config.percentile}" if config.percentile in (50, 90, 95, 99) else "average"
    return f"stopped at {result.level:g}: its {what} latency {decisive / 1000:.2f} ms is over the {config.latency_threshold_ms:g} ms threshold"


def _measure(
    config: SweepConfig, level: float, record: _Record, stats: Callable[[], ModelStats] | None, cancel: CancelToken,
    metrics: Callable[[], GpuReading] | None = None,
) -> Generator[WindowMeasured, None, tuple[str | None, LevelResult | None]]:  # fmt: skip
    """Windows until stable; returns (why the sweep must stop or None, the level's result or None)."""
    if cancel.wait(config.warmup_ms / 1000):
        return "cancelled", None
    boundaries = [time.perf_counter()]
    readings: list[ModelStats | None] = [_read(stats)]
    windows: list[Window] = []
    gpu_readings: list[GpuReading] = []
    for trial in range(1, config.max_trials + 1):
        start = boundaries[-1]
        if config.request_count:
            target = record.count() + config.request_count
            while record.count() < target and not cancel.wait(0.01):
                pass
        elif cancel.wait(config.interval_ms / 1000):
            pass
        if cancel.cancelled:
            return "cancelled", None
        end = time.perf_counter()
        boundaries.append(end)
        readings.append(_read(stats))
        if metrics is not None:
            gpu_readings.append(_read_metrics(metrics))
        rows = record.since(start, end)
        window = _window(rows, end - start, config)
        windows.append(window)
        yield WindowMeasured(level, trial, window)
        if rows and window.requests == 0:  # every request failed: the server is gone or refuses
            return f"every request failed at {level:g}: {record.first_error or 'no answer'}", None
        if is_stable(windows, config.stability):
            break
    span = min(3, len(windows))
    first, last = boundaries[-span - 1], boundaries[-1]
    before, after = readings[-span - 1], readings[-1]
    server = breakdown(before, after) if before is not None and after is not None else None
    result = _result(config, level, record.since(first, last), last - first, is_stable(windows, config.stability), len(windows), server)
    return None, replace(result, gpus=gpu_figures(gpu_readings[-span:])) if gpu_readings else result


def _read_metrics(metrics: Callable[[], GpuReading]) -> GpuReading:
    try:
        return metrics()
    except UserError:
        return {}  # a metrics endpoint that does not answer leaves the GPU figures out


def _read(stats: Callable[[], ModelStats] | None) -> ModelStats | None:
    if stats is None:
        return None
    try:
        return stats()
    except UserError:
        return None  # the breakdown is left out; the client figures still stand
