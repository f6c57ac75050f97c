"""`triton-deck tune`: the config that serves the most under a latency budget, found on the
running server (services/usecases/tune.py), shown as a ranked table, the verdict and the
winner's config.pbtxt diff; `--write` puts the winner's tuned fields into a local repository."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from services.cancel import CancelToken
from services.config import ProfileKind
from services.errors import UserError
from services.perf.sweep import SweepConfig, parse_range
from services.perf.tune import CandidateResult, parse_dimensions
from services.usecases.apps import resolve_app
from services.usecases.tune import (
    CandidateDone,
    CandidateStarted,
    TuneEnded,
    TuneSettings,
    TuneStarted,
    check_tunable_app,
    plan_bucket_winner,
    plan_file_winner,
    tune,
    winner_diff,
    write_planned,
)
from tui.cli.inference import server_client, server_options
from tui.cli.interrupt import interrupt_cancels
from tui.cli.output import warn

if TYPE_CHECKING:
    from tui.cli.context import Context


def settings(ctx: Context) -> TuneSettings:
    args = ctx.args
    dimensions = parse_dimensions(args.instances, args.max_batch_size, args.dynamic_batching, args.max_queue_delay_us, args.preferred_batch_size)
    if args.budget_minutes is not None and args.budget_minutes <= 0:
        raise UserError(f"--budget-minutes {args.budget_minutes:g}: give minutes above 0")
    levels = parse_range(args.concurrency_range, "--concurrency-range")
    sweep = SweepConfig(args.model_name, levels, interval_ms=args.measurement_interval, stability=args.stability_percentage, max_trials=args.max_trials, warmup_ms=args.warmup)
    local = ctx.profile.kind is ProfileKind.LOCAL
    if args.write and args.write_bucket:
        raise UserError("--write and --write-bucket: give one (a local model directory, or the bucket the server loads from)")
    return TuneSettings(dimensions, sweep, args.latency_budget_ms, args.objective, args.budget_minutes, local, args.search)


def result_line(rank: int, result: CandidateResult, front: bool) -> str:
    if not result.feasible:
        why = f"refused: {result.refused}" if result.refused else "no level met the budget"
        return f"{rank:>4}  {result.candidate.label:<52} {'-':>5} {'-':>10} {'':>7} {'-':>9} {'':>6}  {why}"
    share = f"{100 * result.queue_share:.0f}%" if result.queue_share is not None else "-"
    return (f"{rank:>4}  {result.candidate.label:<52} {result.level:>5g} {result.throughput:>10.1f} ±{result.spread_percent:>4.1f}% "
            f"{result.p99_us / 1000:>8.2f}ms {share:>6}{'  *' if front else ''}")  # fmt: skip


def cmd_tune(ctx: Context) -> int:
    tuning = settings(ctx)
    if ctx.args.app:
        check_tunable_app(resolve_app(ctx.services.apps(), ctx.args.app))
    client, origin = server_client(ctx)
    cancel = CancelToken()
    ended: TuneEnded | None = None
    with interrupt_cancels(cancel), contextlib.closing(tune(client, tuning, cancel)) as events:
        try:
            for event in events:
                if isinstance(event, TuneStarted):
                    count = f"{len(event.candidates)} candidate(s)" if event.search == "brute" else f"a quick search over {len(event.candidates)} candidate(s)"
                    warn(f"triton-deck: tuning {tuning.sweep.model} ({origin}): {count}, each loaded into the running server and swept")
                elif isinstance(event, CandidateStarted):
                    warn(f"triton-deck: [{event.number}/{event.total or '?'}] {event.candidate.label}…")
                elif isinstance(event, CandidateDone) and event.result.feasible:
                    warn(f"  {event.result.throughput:.1f} infer/sec at {event.result.level:g}, p99 {event.result.p99_us / 1000:.2f} ms, ±{event.result.spread_percent:.1f} %")
                elif isinstance(event, TuneEnded):
                    ended = event
        except KeyboardInterrupt:  # a second Ctrl-C: closing the search loads the config found back
            cancel.cancel()
    if ended is None:
        warn("triton-deck: the search stopped before any result; the config found is back in force")
        return 1
    if ctx.args.output == "json":
        ctx.print_json(_document(ended))
    else:
        _print(ctx, ended)
    if (ctx.args.write or ctx.args.write_bucket) and ended.winner_config is not None:
        store = ctx.services.storage() if ctx.args.write_bucket else None
        if store is not None:
            planned = plan_bucket_winner(store, ctx.args.write_bucket, tuning.sweep.model, ended.winner_config)
        else:
            planned = plan_file_winner(Path(ctx.args.write).expanduser(), ended.winner_config)
        for line in planned.diff:  # the change first, then the write
            ctx.print(line)
        write_planned(store, planned, CancelToken())
        ctx.print(f"wrote the winner's tuned fields to {planned.where}: the server takes them at its next load of {tuning.sweep.model}")
    return 1 if ended.reason else 0


def _print(ctx: Context, ended: TuneEnded) -> None:
    ctx.print(f"{'RANK':>4}  {'CONFIG':<52} {'LEVEL':>5} {'INFER/SEC':>10} {'NOISE':>7} {'P99':>10} {'QUEUE':>6}  (* on the throughput/p99 front)")
    front = {id(result) for result in ended.front}
    for rank, result in enumerate(ended.results, start=1):
        ctx.print(result_line(rank, result, id(result) in front))
    if ended.current is not None and ended.current.feasible:
        ctx.print(result_line(0, ended.current, False).replace("   0  ", "  now ", 1))
    ctx.print()
    ctx.print(("partial (the time budget ended the search): " if ended.partial else "") + ended.verdict.line)
    if ended.winner_config is not None:
        for line in winner_diff(ended.original, ended.winner_config):
            ctx.print(line)


def _document(ended: TuneEnded) -> dict[str, object]:
    def entry(result: CandidateResult) -> dict[str, object]:
        return {"config": result.candidate.label, "level": result.level, "throughput": result.throughput, "p99Us": result.p99_us, "spreadPercent": result.spread_percent}

    return {
        "verdict": ended.verdict.line, "winner": ended.verdict.winner.candidate.label if ended.verdict.winner else None, "partial": ended.partial,
        "stoppedEarly": ended.reason, "candidates": [entry(result) for result in ended.results],
        "current": entry(ended.current) if ended.current else None, "front": [result.candidate.label for result in ended.front],
        "diff": winner_diff(ended.original, ended.winner_config) if ended.winner_config else [],
    }  # fmt: skip


def add_tune_commands(groups: argparse._SubParsersAction, common: argparse.ArgumentParser, output_option: Callable[[argparse.ArgumentParser], None]) -> None:  # type: ignore[type-arg]
    tune_parser = groups.add_parser("tune", parents=[common], help="find the config that serves the most under a latency budget, on the running server")
    tune_parser.add_argument("-m", "--model-name", required=True, help="name of the model")
    tune_parser.add_argument("--latency-budget-ms", type=float, help="the p99 a level must meet to count (default: none)")
    tune_parser.add_argument("--objective", choices=("throughput", "latency"), default="throughput", help="what the best is (default throughput)")
    tune_parser.add_argument("--instances", metavar="N,N", help="instance counts to try (default 1,2,3,4,5)")
    tune_parser.add_argument("--max-batch-size", metavar="N,N", help="max_batch_size values to try (a batching model; default: its own)")
    tune_parser.add_argument("--dynamic-batching", default="on", metavar="on,off", help="dynamic batching on, off or both (default on)")
    tune_parser.add_argument("--max-queue-delay-us", metavar="N,N", help="dynamic batching queue delays to try (default 0)")
    tune_parser.add_argument("--preferred-batch-size", metavar="N,N", help="dynamic batching's preferred sizes")
    tune_parser.add_argument("--concurrency-range", default="1:4", metavar="START:END[:STEP]", help="the levels each candidate is swept at (default 1:4)")
    tune_parser.add_argument("--measurement-interval", type=int, default=1000, metavar="MS", help="window in ms (default 1000)")
    tune_parser.add_argument("--stability-percentage", type=float, default=10.0, help="three windows within this %% are stable (default 10)")
    tune_parser.add_argument("--max-trials", type=int, default=10, help="windows before a level is reported unstable (default 10)")
    tune_parser.add_argument("--warmup", type=int, default=500, metavar="MS", help="load before each level's first window (default 500)")
    tune_parser.add_argument("--budget-minutes", type=float, help="stop after this long and report the best so far, marked partial")
    tune_parser.add_argument("--search", choices=("brute", "quick"), default="brute", help="every candidate (brute), or one dimension at a time from the best so far (quick)")
    tune_parser.add_argument("--write", metavar="PATH", help="write the winner's tuned fields into this model directory's config.pbtxt")
    tune_parser.add_argument("--write-bucket", metavar="NAME@REGION[/PREFIX]", help="write them into MODEL/config.pbtxt in the bucket the server loads from")
    server_options(tune_parser)
    output_option(tune_parser)
    tune_parser.set_defaults(handler=cmd_tune)
