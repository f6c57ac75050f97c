"""`triton-deck tune` (and, later, its screen): the config that serves the most under a
latency budget, searched on the running server, written back only when asked.

Each candidate is loaded into the running server with Triton's repository API and a config
override (no restart, no file written), then swept with `perf`'s generator and scored
(services/perf/tune.py). The config in force is measured again at the end, and loaded back
always: after the last candidate, on a cancel, on an error. A server that is not in explicit
model-control mode cannot take overrides: that is one line before anything changes.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from services.apps.protocol import App
from services.cancel import CancelToken
from services.errors import UserError
from services.inference.protocol import InferenceClient, InputData
from services.perf.sweep import Draining, LevelDone, LevelResult, SweepConfig, WindowMeasured
from services.perf.tune import (
    BruteSearch,
    Candidate,
    CandidateResult,
    CoordinateSearch,
    Dimensions,
    Verdict,
    candidate_config,
    candidates,
    diff,
    pareto_front,
    pbtxt,
    ranked,
    same_fields,
    score,
    spread_percent,
    verdict,
    with_tuned_fields,
)
from services.repository import parse_config
from services.shared_file import write_atomic
from services.storage.protocol import BucketRef, ObjectStore
from services.usecases.perf import perf_inputs, run_sweep
from services.usecases.uploads import UploadRequest, plan_bucket_upload, run_bucket_upload

NOT_EXPLICIT = (
    "the server is not in explicit model-control mode, so it cannot load candidate configs: start tritonserver with "
    "--model-control-mode=explicit --load-model=* (nothing was changed)"
)


@dataclass(frozen=True)
class TuneSettings:
    dimensions: Dimensions
    sweep: SweepConfig  # levels and method; its model is the tuned one
    latency_budget_ms: float | None = None
    objective: str = "throughput"  # or "latency"
    budget_minutes: float | None = None
    local: bool = True  # the local server: instances are CPU ones
    search: str = "brute"  # or "quick": one dimension at a time (CoordinateSearch)


@dataclass(frozen=True)
class TuneStarted:
    candidates: tuple[Candidate, ...]  # the cross product; a quick search measures some of them
    search: str = "brute"


@dataclass(frozen=True)
class CandidateStarted:
    candidate: Candidate
    number: int
    total: int | None  # None: a quick search, whose length depends on what it measures


@dataclass(frozen=True)
class CandidateDone:
    result: CandidateResult


@dataclass(frozen=True)
class TuneEnded:
    results: tuple[CandidateResult, ...]  # ranked, best first
    current: CandidateResult | None  # the config in force, measured again at the end
    verdict: Verdict
    front: tuple[CandidateResult, ...]
    original: Mapping[str, Any]
    winner_config: Mapping[str, Any] | None
    partial: bool = False  # the time budget ended the search early
    reason: str | None = None  # why it stopped early (cancelled), else None


TuneEvent = TuneStarted | CandidateStarted | CandidateDone | TuneEnded


def _load(client: InferenceClient, model: str, config: Mapping[str, Any]) -> None:
    try:
        client.load_model(model, json.dumps(config))
    except UserError as error:
        if "explicit" in error.message.lower() or "not allowed" in error.message.lower() or "polling" in error.message.lower():
            raise UserError(NOT_EXPLICIT) from None
        raise


def measure(
    client: InferenceClient, candidate: Candidate, settings: TuneSettings, inputs: list[InputData], cancel: CancelToken,
    draining: Draining | None = None,
) -> CandidateResult:  # fmt: skip
    """The candidate in force, swept. With `draining`, its last requests may still be in
    flight on return: the caller changes the model meanwhile and waits before measuring again."""
    levels: list[LevelResult] = []
    windows: dict[float, list[float]] = {}
    for event in run_sweep(client, settings.sweep, inputs, cancel, draining=draining):
        if isinstance(event, WindowMeasured):
            windows.setdefault(event.level, []).append(event.window.throughput)
        elif isinstance(event, LevelDone):
            levels.append(event.result)
    spreads = {level: spread_percent(values) for level, values in windows.items()}
    return score(candidate, levels, spreads, settings.latency_budget_ms, settings.objective)


def _refusal(client: InferenceClient, model: str, config: Mapping[str, Any]) -> str | None:
    """Load `config`; why the server refused it, or None. Not being in explicit mode is raised."""
    try:
        _load(client, model, config)
    except UserError as error:
        if error.message == NOT_EXPLICIT:
            raise
        return error.message
    return None


def _current_at_the_end(results: list[CandidateResult], as_found: bool) -> CandidateResult | None:
    """The current config's measurement at the end when the search's last candidate was that
    config, loaded as found (the brute search puts it last): measuring it again would only
    repeat that sweep."""
    last = results[-1] if results else None
    if as_found and last is not None and last.same_as_current and last.refused is None:
        return replace(last, candidate=Candidate(current=True))
    return None


def tune(client: InferenceClient, settings: TuneSettings, cancel: CancelToken) -> Generator[TuneEvent, None, None]:
    """The search, candidate by candidate; the config found is loaded back whatever happens.

    Loads are the search's cost, so none is wasted: the first candidate's load is the proof of
    explicit mode (refused, nothing has changed and nothing is said but the one line), and the
    config found is loaded back once, measured, and not again. Each candidate's load is sent
    while the last one's requests drain (Triton answers them before it changes the model):
    no request of one candidate is in flight when the next is measured."""
    model = settings.sweep.model
    original = client.model_config(model)
    found = candidates(original, settings.dimensions)
    search = CoordinateSearch(original, settings.dimensions, settings.objective) if settings.search == "quick" else BruteSearch(found)
    inputs = perf_inputs(client, model)
    draining = Draining()
    first = search.next()
    in_force: Mapping[str, Any] | None = original  # what the server runs; None: not known (a load failed)
    results: list[CandidateResult] = []
    current: CandidateResult | None = None
    partial, reason = False, None
    try:
        first_refusal = None
        if first is not None:
            config = candidate_config(original, first, settings.dimensions, settings.local)
            first_refusal = _refusal(client, model, config)  # not in explicit mode: raised, nothing was changed
            in_force = None if first_refusal else config
        yield TuneStarted(tuple(found), settings.search)
        started = time.monotonic()
        number, candidate = 0, first
        while candidate is not None:
            if cancel.cancelled:
                reason = "cancelled"
                break
            if settings.budget_minutes is not None and time.monotonic() - started > settings.budget_minutes * 60:
                partial = True
                break
            number += 1
            yield CandidateStarted(candidate, number, search.total)
            config = candidate_config(original, candidate, settings.dimensions, settings.local)
            if number == 1:
                refused = first_refusal
            elif config == in_force:  # already served as it is: a load would change nothing
                refused = None
            else:
                in_force = None
                refused = _refusal(client, model, config)
                in_force = None if refused else config
            if refused:  # a config the server refuses is a result, not the end of the search
                results.append(CandidateResult(replace(candidate), None, 0.0, 0.0, 0.0, refused=refused))
            else:
                draining.wait()
                results.append(replace(measure(client, candidate, settings, inputs, cancel, draining), same_as_current=same_fields(original, config)))
                if cancel.cancelled:
                    results.pop()
                    reason = "cancelled"
                    break
            search.record(results[-1])
            yield CandidateDone(results[-1])
            candidate = search.next()
        if reason is None:
            current = _current_at_the_end(results, in_force == original)
            if current is None:
                in_force = None
                _load(client, model, original)
                in_force = original
                draining.wait()
                current = measure(client, Candidate(current=True), settings, inputs, cancel)
            reason = "cancelled" if cancel.cancelled else None
    finally:
        try:
            if in_force != original:  # always: the server is left as it was found
                _load(client, model, original)
        finally:
            draining.wait()  # and no request of the search is left in flight
    order = ranked(results, settings.objective)
    best = order[0] if order and order[0].feasible else None
    chosen = verdict(best, current, settings.objective) if reason is None else Verdict(None, "cancelled: the current config stays")
    winner = candidate_config(original, chosen.winner.candidate, settings.dimensions, settings.local) if chosen.winner is not None else None
    yield TuneEnded(tuple(order), current, chosen, tuple(pareto_front(results)), original, winner, partial, reason)


@dataclass(frozen=True)
class PlannedWrite:
    """The winner's config.pbtxt, read and changed but not yet written: the diff is shown (and
    confirmed in the TUI) before `write_planned` puts it in a local file or back in its bucket."""

    where: str  # what a person reads: the file's path, or bucket/key
    text: str
    diff: tuple[str, ...]
    bucket: BucketRef | None = None  # None: a local file, at `key`
    key: str = ""


def plan_file_winner(target: Path, winner: Mapping[str, Any], name: str | None = None) -> PlannedWrite:
    """The model's config.pbtxt at `target` (the file or its model directory) with the winner's
    tuned fields (instance groups, batch size, dynamic batching) and nothing else changed."""
    from google.protobuf import text_format

    path = target / "config.pbtxt" if target.is_dir() else target
    if not path.is_file():
        raise UserError(f"--write {target}: no config.pbtxt there: give the model's directory in a local repository")
    base = parse_config(path)
    before = str(text_format.MessageToString(base))
    after = str(text_format.MessageToString(with_tuned_fields(base, winner)))
    return PlannedWrite(name or str(path), after, tuple(diff(before, after, name or str(path))), None, str(path))


def parse_bucket_target(text: str) -> tuple[BucketRef, str]:
    """`NAME@REGION[/PREFIX]`: the bucket a server reads its repository from, and where in it."""
    source, _, prefix = text.strip().partition("/")
    prefix = prefix.strip("/")
    if ".." in prefix.split("/"):
        raise UserError(f"--write-bucket {text}: the prefix may not climb out of the bucket ('..')")
    return BucketRef.parse(source), f"{prefix}/" if prefix else ""


def plan_bucket_winner(store: ObjectStore, target: str, model: str, winner: Mapping[str, Any]) -> PlannedWrite:
    """`<prefix><model>/config.pbtxt` read from the bucket, with the winner's tuned fields."""
    bucket, prefix = parse_bucket_target(target)
    key = f"{prefix}{model}/config.pbtxt"
    info = store.head(bucket, key)
    if info is None:
        raise UserError(f"--write-bucket {target}: no {key} in {bucket}: give the bucket (and /prefix) the server loads {model} from")
    with tempfile.TemporaryDirectory(prefix="triton-deck-tune-") as scratch:
        result = store.download(bucket, [info], Path(scratch), lambda _progress: None, CancelToken(), remove_prefix=prefix)
        if result.failed:
            raise UserError(f"--write-bucket {target}: cannot read {key}: {result.failed[0][1]}")
        planned = plan_file_winner(Path(scratch) / model / "config.pbtxt", winner, name=f"{bucket}/{key}")
    return replace(planned, bucket=bucket, key=key)


def write_planned(store: ObjectStore | None, planned: PlannedWrite, cancel: CancelToken) -> None:
    """A local file replaced atomically; an object sent through the upload use case, whole."""
    if planned.bucket is None:
        write_atomic(Path(planned.key), planned.text, mode=0o644)
        return
    assert store is not None
    with tempfile.TemporaryDirectory(prefix="triton-deck-tune-") as scratch:
        path = Path(scratch) / "config.pbtxt"
        path.write_text(planned.text, encoding="utf-8")
        request = UploadRequest(planned.bucket, (str(path),), remove_prefix=f"{scratch}/", add_prefix=planned.key.removesuffix("config.pbtxt"))
        done = run_bucket_upload(store, plan_bucket_upload(store, request), lambda _progress: None, cancel)
    if done.result.failed:
        raise UserError(f"cannot write {planned.key} to {planned.bucket}: {done.result.failed[0][1]}")


def check_tunable_app(app: App) -> None:
    """An app tuned through its endpoint must have one replica: behind the balancer each
    candidate would reach one replica at a time, and the others would serve the old config."""
    if app.desired > 1:
        raise UserError(
            f"app {app.short_id} runs {app.desired} replicas behind its balancer: each candidate would reach one of them at a time. "
            f"Scale it to 1 while tuning (`triton-deck app scale {app.short_id} --replicas 1`)"
        )


def winner_diff(original: Mapping[str, Any], winner: Mapping[str, Any]) -> list[str]:
    """The winner against the config in force, as config.pbtxt text: only the tuned fields differ."""
    return diff(pbtxt(original), pbtxt(winner))
