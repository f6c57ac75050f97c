"""`triton-deck perf`: perf_analyzer's load sweep against a served model.

    triton-deck perf -m simple --shape INPUT0:16 --shape INPUT1:16 --concurrency-range 1:8:2 -f results.csv
    triton-deck perf -m efficientnet_lite0 --images demo/samples -s INCEPTION --request-rate-range 10:40:10 --app ID

Each level prints a line as it completes; then the summary table (client latency and the
server's queue and compute per request). ctrl+c stops the sweep and prints what was
measured so far; no request is left in flight either way.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from services.cancel import CancelToken
from services.config import ProfileKind
from services.errors import UserError
from services.inference.protocol import Scaling
from services.perf.inputs import parse_shapes
from services.perf.report import csv_text, json_document, level_header
from services.perf.sweep import LevelDone, LevelResult, LevelStarted, SweepConfig, SweepEnded, WindowMeasured, parse_range
from services.usecases.perf import Engine, choose_engine, metrics_url, perf_inputs, perf_steps, run_sweep, sequence_plan
from services.usecases.perf_job import client_job_plan, client_job_sweep
from tui.cli.inference import server_client, server_options
from tui.cli.interrupt import interrupt_cancels
from tui.cli.output import warn

if TYPE_CHECKING:
    from tui.cli.context import Context


DEFAULT_CONCURRENCY = "1"  # as perf_analyzer: without a range, one request outstanding


def sweep_config(args: argparse.Namespace) -> SweepConfig:
    if args.concurrency_range is not None and args.request_rate_range is not None:
        raise UserError("give --concurrency-range or --request-rate-range, not both")
    mode = "rate" if args.request_rate_range else "concurrency"
    concurrency = args.concurrency_range or DEFAULT_CONCURRENCY
    levels = parse_range(args.request_rate_range, "--request-rate-range", whole=False) if mode == "rate" else parse_range(concurrency, "--concurrency-range")
    for value, flag, low in ((args.measurement_interval, "--measurement-interval", 50), (args.max_trials, "--max-trials", 3), (args.batch_size, "-b", 1)):
        if value < low:
            raise UserError(f"{flag} {value} is too small: use {low} or more")
    if not 0 < args.stability_percentage <= 100:
        raise UserError(f"--stability-percentage {args.stability_percentage:g}: give a percentage above 0, at most 100")
    if args.latency_threshold is not None and args.latency_threshold <= 0:
        raise UserError(f"--latency-threshold {args.latency_threshold:g}: give milliseconds above 0")
    if args.percentile is not None and not 1 <= args.percentile <= 99:
        raise UserError(f"--percentile {args.percentile}: give 1 to 99")
    return SweepConfig(
        model=args.model_name, levels=levels, mode=mode, version=args.model_version, batch_size=args.batch_size,
        interval_ms=args.measurement_interval, request_count=args.measurement_request_count, stability=args.stability_percentage,
        max_trials=args.max_trials, percentile=args.percentile, warmup_ms=args.warmup, latency_threshold_ms=args.latency_threshold,
    )  # fmt: skip


def level_line(result: LevelResult) -> str:
    stable = "" if result.stable else f"  (not stable after {result.windows} windows)"
    failed = f", {result.failed} failed" if result.failed else ""
    return (
        f"{level_header(result.mode)} {result.level:g}: {result.throughput:.1f} infer/sec, latency avg {result.avg_us:.0f} usec, "
        f"p99 {result.p99_us:.0f} usec{failed}{stable}"
    )


def summary_table(results: list[LevelResult]) -> list[str]:
    head = f"{level_header(results[0].mode):>12} {'infer/sec':>10} {'avg us':>9} {'p50':>9} {'p90':>9} {'p95':>9} {'p99':>9} {'queue':>8} {'compute':>9} {'failed':>7}"
    lines = [head]
    for r in results:
        queue = f"{r.server.queue_us:.0f}" if r.server else "-"
        compute = f"{r.server.compute_input_us + r.server.compute_infer_us + r.server.compute_output_us:.0f}" if r.server else "-"
        lines.append(f"{r.level:>12g} {r.throughput:>10.1f} {r.avg_us:>9.0f} {r.p50_us:>9.0f} {r.p90_us:>9.0f} {r.p95_us:>9.0f} {r.p99_us:>9.0f} {queue:>8} {compute:>9} {r.failed:>7}")
    return lines


def data_file_given(args: argparse.Namespace) -> bool:
    return str(args.input_data) not in ("random", "zero")


def cmd_perf(ctx: Context) -> int:
    args = ctx.args
    config = sweep_config(args)
    analyzer = choose_engine(Engine(args.engine), args.perf_analyzer)
    if args.client_job and (args.images or args.collect_metrics or args.shared_memory != "none" or data_file_given(args)):
        raise UserError("a client job sends random or zero data with perf_analyzer: drop --images, --input-data FILE, --shared-memory and --collect-metrics")
    if analyzer is not None and (args.images or args.collect_metrics or args.shared_memory != "none"):
        what = "read photos" if args.images else "take --collect-metrics or --shared-memory from here"
        raise UserError(f"perf_analyzer does not {what}: use the built-in engine (--engine builtin)")
    client, origin = server_client(ctx)
    shapes = parse_shapes(args.shape or [])
    data_file = None if args.input_data in ("random", "zero") else Path(args.input_data)
    steps = perf_steps(client, config.model, data_file, config.version, config.batch_size) if data_file else []
    inputs = steps[0] if steps else perf_inputs(client, config.model, config.version, config.batch_size, shapes, args.input_data == "zero", args.images or (), Scaling(args.scaling))
    sequence = sequence_plan(client, config.model, config.version, args.sequence_length, args.sequence_id_range)
    engine = f"perf_analyzer at {analyzer}" if analyzer else "built-in generator"
    warn(f"triton-deck: {config.mode} sweep of {config.model} at {', '.join(f'{level:g}' for level in config.levels)} ({origin}, {engine})")
    cancel = CancelToken()
    results: list[LevelResult] = []
    reason: str | None = None
    with interrupt_cancels(cancel):
        try:
            metrics = metrics_url(client, args.metrics_url) if args.collect_metrics else None
            if args.client_job:
                plan = client_job_plan(ctx.profile.kind is ProfileKind.LOCAL, ctx.profile.region, args.perf_analyzer, args.keep)
                warn(f"triton-deck: the sweep runs in a client job ({plan.image}), its CSV kept in {plan.results}")
                events = client_job_sweep(ctx.services.jobs(), ctx.services.storage(), plan, client, config, cancel, sequence)
            else:
                events = run_sweep(client, config, inputs, cancel, analyzer, args.input_data, args.shape or (), steps, metrics, sequence, args.shared_memory == "system", args.streaming)
            for event in events:
                if isinstance(event, LevelStarted):  # a level takes windows until stable: say it is under way
                    warn(f"triton-deck: {level_header(config.mode)} {event.level:g}: measuring ({config.interval_ms} ms windows until {config.stability:g}% stable)…")
                elif isinstance(event, WindowMeasured):
                    warn(f"  pass [{event.trial}] throughput: {event.window.throughput:.1f} infer/sec, avg latency: {event.window.latency_us:.0f} usec")
                elif isinstance(event, LevelDone):
                    results.append(event.result)
                    if args.output != "json":
                        ctx.print(level_line(event.result))
                        ctx.out.flush()
                elif isinstance(event, SweepEnded):
                    reason = event.reason
                    if event.note:
                        warn(f"triton-deck: {event.note}")
        except KeyboardInterrupt:  # a second Ctrl-C: the sweep's threads are joined as its generator closes
            cancel.cancel()
            reason = "interrupted"
    if reason == "cancelled":
        reason = "interrupted"
    if args.file:
        args.file.write_text(csv_text(results, gpu_columns=args.collect_metrics), encoding="utf-8")
    if args.output == "json":
        ctx.print_json(json_document(config.model, results, reason))
    elif results:
        ctx.print()
        for line in summary_table(results):
            ctx.print(line)
    if reason:
        warn(f"triton-deck: the sweep stopped early: {reason}")
        return 1
    return 0


def add_perf_commands(groups: argparse._SubParsersAction, common: argparse.ArgumentParser, output_option: Callable[[argparse.ArgumentParser], None]) -> None:  # type: ignore[type-arg]
    perf = groups.add_parser("perf", parents=[common], help="load sweeps against a served model, like Triton's perf_analyzer")
    perf.add_argument("-m", "--model-name", required=True, help="name of the model")
    perf.add_argument("-x", "--model-version", default="", help="model version (default: the latest)")
    perf.add_argument("-b", "--batch-size", type=int, default=1, help="batch size of each request (default 1)")
    perf.add_argument("--concurrency-range", metavar="START:END[:STEP]", help="requests kept outstanding, e.g. 1:8:2 (default 1, as perf_analyzer)")
    perf.add_argument("--request-rate-range", metavar="START:END[:STEP]", help="requests started per second, e.g. 10:50:10")
    perf.add_argument("--measurement-interval", type=int, default=5000, metavar="MS", help="time window in ms (default 5000)")
    perf.add_argument("--measurement-request-count", type=int, metavar="N", help="count windows of N requests instead of time windows")
    perf.add_argument("--stability-percentage", type=float, default=10.0, help="three windows within this %% are stable (default 10)")
    perf.add_argument("--max-trials", type=int, default=10, help="windows before a level is reported unstable (default 10)")
    perf.add_argument("--percentile", type=int, help="decide stability on this latency percentile (default: the average)")
    perf.add_argument("--latency-threshold", type=float, metavar="MS", help="stop after the first level whose latency is over MS (the --percentile's, else the average)")
    perf.add_argument("--warmup", type=int, default=1000, metavar="MS", help="load before each level's first window, in ms (default 1000)")
    perf.add_argument("--input-data", default="random", metavar="random|zero|FILE.json",
                      help="synthetic tensors (default random), or perf_analyzer's real-data JSON, its steps sent in turn")  # fmt: skip
    perf.add_argument("--shape", action="append", metavar="NAME:D1,D2", help="a variable input's dimensions (the batch excepted)")
    perf.add_argument("--images", type=Path, action="append", metavar="IMAGE_OR_DIR", help="send real photos, preprocessed as classify does")
    perf.add_argument("-s", "--scaling", type=str.upper, choices=[s.value for s in Scaling], default="NONE", help="photo preprocessing (default NONE)")
    perf.add_argument("-f", "--file", type=Path, help="write the results as perf_analyzer's CSV")
    perf.add_argument("--sequence-length", type=int, metavar="N", help="a sequence model's requests per sequence (default 20)")
    perf.add_argument("--sequence-id-range", metavar="START[:END]", help="the sequence ids to use, in turn (default from 1)")
    perf.add_argument("--streaming", action="store_true", help="gRPC: send on ModelStreamInfer streams, one per outstanding request")
    perf.add_argument("--shared-memory", choices=("none", "system"), default="none", help="system: inputs written once to shared memory and registered (a server on this host)")
    perf.add_argument("--collect-metrics", action="store_true", help="per level, what the GPUs did (utilisation, power, memory) from Triton's /metrics")
    perf.add_argument("--metrics-url", metavar="URL", help="Triton's metrics (default: the server's host, port 8002, /metrics)")
    perf.add_argument("--client-job", action="store_true", help="run perf_analyzer in a client job beside the server (the SDK image; a local job on the local profile)")
    perf.add_argument("--keep", action="store_true", help="with --client-job: keep the job afterwards (default: deleted)")
    perf.add_argument("--engine", choices=[engine.value for engine in Engine], default=Engine.BUILTIN.value,
                      help="who sends the load: the built-in generator (default), perf_analyzer, or auto (perf_analyzer where installed)")  # fmt: skip
    perf.add_argument("--perf-analyzer", metavar="PATH", help="the perf_analyzer binary (default: the one on PATH)")
    server_options(perf)
    output_option(perf)
    perf.set_defaults(handler=cmd_perf)

