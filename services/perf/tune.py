"""`tune`'s search, apart from any server: the candidate configs, a candidate's score from its
sweep, the verdict against the current config, the Pareto front and the winner's diff.

A candidate is the model's config in force with some fields changed: `instance_group` count,
`max_batch_size` (only for a model that batches), `dynamic_batching` on or off with its queue
delay and preferred sizes. Its score is the objective at the best level whose p99 meets the
budget. Noise is part of the answer: each score carries its spread (half the range of the
level's last three windows), and a winner whose gain over the current config is within the
two spreads is not a winner: the verdict then says to keep the current config.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.errors import UserError
from services.perf.sweep import LevelResult

TUNED_FIELDS = ("instance_group", "max_batch_size", "dynamic_batching")
# Run to run, the same config on the same box moves by a few percent (4 % seen, in Model
# Analyzer's own "config_1 is 4 % better"): a gain is only called one above this, whatever
# the windows' own spread says.
NOISE_FLOOR_PERCENT = 5.0


@dataclass(frozen=True)
class Dimensions:
    """What varies; an empty tuple keeps the config's own value."""

    instances: tuple[int, ...] = (1, 2, 3, 4, 5)
    max_batch_sizes: tuple[int, ...] = ()
    dynamic_batching: tuple[bool, ...] = (True,)
    queue_delays_us: tuple[int, ...] = (0,)
    preferred_batch_sizes: tuple[int, ...] = ()


def parse_numbers(text: str | None, flag: str) -> tuple[int, ...]:
    """`1,2,4` as typed after a flag or in the Tune form; empty: none given."""
    if not text or not text.strip():
        return ()
    try:
        values = tuple(int(word) for word in text.split(","))
    except ValueError:
        values = ()
    if not values or any(value < 0 for value in values):
        raise UserError(f"{flag} '{text}' must be whole numbers separated by commas, e.g. 1,2,4")
    return values


def parse_switches(text: str, flag: str = "--dynamic-batching") -> tuple[bool, ...]:
    words = [word.strip().lower() for word in text.split(",")]
    if not words or any(word not in ("on", "off") for word in words):
        raise UserError(f"{flag} '{text}' must be on, off or on,off")
    return tuple(word == "on" for word in words)


def parse_dimensions(instances: str | None, max_batch_sizes: str | None, dynamic: str, delays: str | None, preferred: str | None) -> Dimensions:
    """The search's dimensions from their text (CLI flags, the Tune form), checked; the
    defaults are Model Analyzer's brute search: 1 to 5 instances, dynamic batching on."""
    dimensions = Dimensions(
        instances=parse_numbers(instances, "--instances") or (1, 2, 3, 4, 5), max_batch_sizes=parse_numbers(max_batch_sizes, "--max-batch-size"),
        dynamic_batching=parse_switches(dynamic), queue_delays_us=parse_numbers(delays, "--max-queue-delay-us") or (0,),
        preferred_batch_sizes=parse_numbers(preferred, "--preferred-batch-size"),
    )  # fmt: skip
    if any(count < 1 for count in dimensions.instances) or any(size < 1 for size in dimensions.max_batch_sizes):
        raise UserError("--instances and --max-batch-size take numbers from 1")
    return dimensions


@dataclass(frozen=True)
class Candidate:
    """One config to try: the changed fields, and a name people read."""

    instances: int | None = None
    max_batch_size: int | None = None
    dynamic: bool | None = None
    queue_delay_us: int | None = None
    current: bool = False  # the config in force, as found

    @property
    def label(self) -> str:
        """`instances=2 max_batch_size=8 dynamic_batching=on(delay 0 µs)`: the fields as config.pbtxt names them."""
        return self._describe(("instances={}", "max_batch_size={}", "dynamic_batching=on(delay {} µs)", "dynamic_batching=off"), " ")

    @property
    def short_label(self) -> str:
        """`2 inst · batch 8 · dyn 0µs`: the same in a table column's width."""
        return self._describe(("{} inst", "batch {}", "dyn {}µs", "no dyn"), " · ")

    def _describe(self, forms: tuple[str, str, str, str], joiner: str) -> str:
        if self.current:
            return "current config"
        parts = [form.format(value) for form, value in ((forms[0], self.instances), (forms[1], self.max_batch_size)) if value is not None]
        if self.dynamic is not None:
            parts.append(forms[2].format(self.queue_delay_us or 0) if self.dynamic else forms[3])
        return joiner.join(parts) or "as found"


@dataclass(frozen=True)
class CandidateResult:
    candidate: Candidate
    level: float | None  # the best level meeting the budget; None: none did
    throughput: float
    p99_us: float
    spread_percent: float
    queue_share: float | None = None  # of the server's time per request, at that level
    levels: tuple[LevelResult, ...] = field(default=(), compare=False)

    same_as_current: bool = False  # its tuned fields are those in force: any gain it shows is noise
    refused: str | None = None  # the server would not load it: why

    @property
    def feasible(self) -> bool:
        return self.level is not None


def tuned_fields(config: Mapping[str, Any]) -> tuple[int, int, bool, int | None]:
    """What `tune` varies, as `config` has it: the instance count, max_batch_size, dynamic
    batching on, and its queue delay (None when it is off, as a candidate says it)."""
    groups = config.get("instance_group") or [{}]
    batching = config.get("dynamic_batching")
    delay = int(batching.get("max_queue_delay_microseconds", 0) or 0) if batching is not None else None
    return sum(int(group.get("count", 1) or 1) for group in groups), int(config.get("max_batch_size", 0) or 0), batching is not None, delay


def candidates(original: Mapping[str, Any], dimensions: Dimensions) -> list[Candidate]:
    """The cross product of the dimensions (brute search), for this model."""
    batching = int(original.get("max_batch_size", 0) or 0) > 0
    sizes: Sequence[int | None] = dimensions.max_batch_sizes if batching and dimensions.max_batch_sizes else [None]
    if not batching and dimensions.max_batch_sizes:
        raise UserError("the model does not batch (max_batch_size 0): --max-batch-size changes its inputs' shapes; leave it out")
    switches: Sequence[bool | None] = dimensions.dynamic_batching if batching else [None]
    found = []
    # Instance counts vary innermost: between two candidates that differ only in their count,
    # Triton adds or removes instances and keeps the others (0.15 s against 1.4 s for a full
    # reload of a python model here), so the cross product in this order loads far faster.
    # The group beside the config in force (same batching, other counts) goes first, so the
    # search's first load changes counts only; the config in force itself goes last, so the
    # search ends with the server as it was found, that candidate's measurement being the
    # current config's at the end (no load back, no sweep again). Counts only grow within a
    # group: removing instances waits for their stubs to end (2.4 s here against 0.1 s).
    for size, dynamic in itertools.product(sizes, switches):
        delays: Sequence[int | None] = dimensions.queue_delays_us if dynamic else [None]
        counts: Sequence[int | None] = sorted(dimensions.instances) or [None]
        for delay, instances in itertools.product(delays, counts):
            found.append(Candidate(instances, size, dynamic, delay))
    in_force = tuned_fields(original)

    def rank(candidate: Candidate) -> int:
        own = (candidate.instances, candidate.max_batch_size, candidate.dynamic, candidate.queue_delay_us)
        same = [mine is None or mine == theirs for mine, theirs in zip(own, in_force, strict=True)]
        return 2 if all(same) else 0 if all(same[1:]) else 1

    return sorted(found, key=rank)


def _order(value: tuple[object, ...]) -> tuple[int, ...]:
    return tuple(-1 if part is None else int(part) for part in value)  # type: ignore[call-overload]


class BruteSearch:
    """Every candidate of the cross product, in order (Model Analyzer's brute search)."""

    def __init__(self, found: Sequence[Candidate]) -> None:
        self._queue = list(found)
        self.total: int | None = len(found)

    def next(self) -> Candidate | None:
        return self._queue.pop(0) if self._queue else None

    def record(self, result: CandidateResult) -> None:
        """Brute force does not look at results."""


class CoordinateSearch:
    """`--search quick`: from the config in force (or the first value of each dimension), one
    dimension at a time is varied around the best point so far; a move is taken only when it
    beats that point by more than the noise, and the search ends after a pass over every
    dimension that moved nothing. Far fewer loads than the cross product when the dimensions
    act apart, as instances and batching mostly do."""

    def __init__(self, original: Mapping[str, Any], dimensions: Dimensions, objective: str) -> None:
        found = candidates(original, dimensions)
        self.total: int | None = None  # not known ahead: it depends on what is measured
        self._objective = objective
        self._axes: list[list[tuple[object, ...]]] = [
            sorted({(c.instances,) for c in found}, key=_order), sorted({(c.max_batch_size,) for c in found}, key=_order),
            sorted({(c.dynamic, c.queue_delay_us) for c in found}, key=_order),
        ]  # fmt: skip
        self._point = [self._start(axis, values, original) for axis, values in enumerate(self._axes)]
        self._results: dict[Candidate, CandidateResult] = {}
        self._walk = self._steps()

    @staticmethod
    def _start(axis: int, values: list[tuple[object, ...]], original: Mapping[str, Any]) -> tuple[object, ...]:
        count, size, dynamic, delay = tuned_fields(original)
        in_force: tuple[object, ...] = ((count,), (size,), (dynamic, delay))[axis]
        return in_force if in_force in values else values[0]

    @staticmethod
    def _candidate(point: Sequence[tuple[object, ...]]) -> Candidate:
        (instances,), (size,), (dynamic, delay) = point
        return Candidate(instances, size, dynamic, delay)  # type: ignore[arg-type]

    def _steps(self) -> Iterator[Candidate]:
        best = self._candidate(self._point)
        yield best
        moved = True
        while moved:
            moved = False
            for axis, values in enumerate(self._axes):
                for value in values:
                    point = list(self._point)
                    point[axis] = value
                    candidate = self._candidate(point)
                    if candidate in self._results or candidate == best:
                        continue
                    yield candidate
                    result = self._results.get(candidate)
                    if result is not None and beats(result, self._results.get(best), self._objective):
                        best, self._point, moved = candidate, point, True

    def next(self) -> Candidate | None:
        return next(self._walk, None)

    def record(self, result: CandidateResult) -> None:
        self._results[result.candidate] = result


def candidate_config(original: Mapping[str, Any], candidate: Candidate, dimensions: Dimensions, local: bool) -> dict[str, Any]:
    """The config to load for `candidate`: the original with only the fields it changes
    changed, so a candidate that changes nothing is the original to the letter (its load
    is then no change at all) and the diff shows only what a winner changes."""
    config = copy.deepcopy(dict(original))
    if candidate.current:
        return config
    count, _, _, delay = tuned_fields(original)
    group = dict((config.get("instance_group") or [{}])[0])  # its name and other fields kept
    kind = "KIND_CPU" if local else group.get("kind", "KIND_AUTO")  # the local server has no GPU: its instances are CPU ones
    if candidate.instances is not None and (candidate.instances != count or kind != group.get("kind", "KIND_AUTO")):
        group.update(count=candidate.instances, kind=kind)
        if kind == "KIND_CPU":
            group.pop("gpus", None)
        config["instance_group"] = [group]
    if candidate.max_batch_size is not None:
        config["max_batch_size"] = candidate.max_batch_size
    if candidate.dynamic is False:
        config.pop("dynamic_batching", None)
    elif candidate.dynamic:
        batching: dict[str, Any] = {"max_queue_delay_microseconds": candidate.queue_delay_us or 0}
        if dimensions.preferred_batch_sizes:
            batching["preferred_batch_size"] = list(dimensions.preferred_batch_sizes)
        kept = config.get("dynamic_batching") or {}
        unchanged = delay == batching["max_queue_delay_microseconds"] and not dimensions.preferred_batch_sizes
        config["dynamic_batching"] = kept if unchanged and "dynamic_batching" in config else batching
    return config


def same_fields(original: Mapping[str, Any], config: Mapping[str, Any]) -> bool:
    """Whether `config` tunes nothing: its instance count, batch size and batching are the original's."""
    return tuned_fields(original) == tuned_fields(config)


def spread_percent(window_throughputs: Sequence[float]) -> float:
    """Half the range of the level's last three windows, in % of their mean."""
    last = list(window_throughputs)[-3:]
    mean = sum(last) / len(last) if last else 0.0
    return 100.0 * (max(last) - min(last)) / 2 / mean if mean > 0 else 0.0


def score(candidate: Candidate, levels: Sequence[LevelResult], spreads: Mapping[float, float], budget_ms: float | None, objective: str) -> CandidateResult:
    """The candidate at its best level within the budget: most throughput, or lowest p99."""
    within = [level for level in levels if level.failed == 0 and level.requests > 0 and (budget_ms is None or level.p99_us <= budget_ms * 1000)]
    if not within:
        return CandidateResult(candidate, None, 0.0, 0.0, 0.0, levels=tuple(levels))
    best = max(within, key=lambda level: level.throughput) if objective == "throughput" else min(within, key=lambda level: level.p99_us)
    server = best.server
    share = server.queue_us / server.server_us if server is not None and server.server_us > 0 else None
    return CandidateResult(candidate, best.level, best.throughput, best.p99_us, spreads.get(best.level, 0.0), share, tuple(levels))


def ranked(results: Sequence[CandidateResult], objective: str) -> list[CandidateResult]:
    feasible = [result for result in results if result.feasible]
    key = (lambda r: -r.throughput) if objective == "throughput" else (lambda r: r.p99_us)
    return sorted(feasible, key=key) + [result for result in results if not result.feasible]


def pareto_front(results: Sequence[CandidateResult]) -> list[CandidateResult]:
    """The candidates no other beats on both throughput (higher) and p99 (lower)."""
    feasible = [result for result in results if result.feasible]
    return [
        result for result in feasible
        if not any(other.throughput >= result.throughput and other.p99_us <= result.p99_us and (other.throughput, other.p99_us) != (result.throughput, result.p99_us) for other in feasible)
    ]  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    winner: CandidateResult | None  # None: keep the current config
    line: str


def gain_percent(result: CandidateResult, base: CandidateResult, objective: str) -> float:
    """How much better `result` is than `base` on the objective, in % (negative: worse)."""
    if objective == "throughput":
        return 100.0 * (result.throughput - base.throughput) / base.throughput if base.throughput else 0.0
    return 100.0 * (base.p99_us - result.p99_us) / base.p99_us if base.p99_us else 0.0


def noise_percent(a: CandidateResult, b: CandidateResult) -> float:
    """The gain two scores must differ by to be told apart: their spreads, at least the floor."""
    return max(NOISE_FLOOR_PERCENT, a.spread_percent + b.spread_percent)


def beats(result: CandidateResult, base: CandidateResult | None, objective: str) -> bool:
    """Better by more than the noise (a feasible result beats an infeasible one or none)."""
    if not result.feasible:
        return False
    if base is None or not base.feasible:
        return True
    return gain_percent(result, base, objective) > noise_percent(result, base)


def verdict(best: CandidateResult | None, current: CandidateResult | None, objective: str) -> Verdict:
    """Use the best candidate only when it beats the current config by more than their spreads."""
    if best is None:
        return Verdict(None, "no candidate met the latency budget: keep the current config, or loosen --latency-budget-ms")
    if current is None or not current.feasible:
        return Verdict(best, f"use {best.candidate.label}: the current config does not meet the budget")
    gain, noise = gain_percent(best, current, objective), noise_percent(best, current)
    if best.candidate.current or best.same_as_current or gain <= noise:
        return Verdict(None, f"keep the current config: the best candidate is within noise ({gain:+.1f} % ± {noise:.1f} %)")
    return Verdict(best, f"use {best.candidate.label}: {gain:+.1f} % ± {noise:.1f} % over the current config")


def pbtxt(config: Mapping[str, Any]) -> str:
    """A config as config.pbtxt's text (protobuf text format)."""
    from google.protobuf import json_format, text_format
    from tritonclient.grpc import model_config_pb2

    message = json_format.ParseDict(json.loads(json.dumps(config)), model_config_pb2.ModelConfig(), ignore_unknown_fields=True)
    return str(text_format.MessageToString(message))


def with_tuned_fields(base: Any, winner: Mapping[str, Any]) -> Any:
    """`base` (a parsed config.pbtxt) with only the tuned fields taken from `winner`'s config."""
    from google.protobuf import json_format
    from tritonclient.grpc import model_config_pb2

    tuned = model_config_pb2.ModelConfig()
    tuned.CopyFrom(base)
    chosen = json_format.ParseDict({key: winner[key] for key in TUNED_FIELDS if key in winner}, model_config_pb2.ModelConfig(), ignore_unknown_fields=True)
    if chosen.instance_group:  # the file's own group (its name, its other fields) with the winner's count and kind
        group = model_config_pb2.ModelInstanceGroup()
        if base.instance_group:
            group.CopyFrom(base.instance_group[0])
        group.count, group.kind = chosen.instance_group[0].count, chosen.instance_group[0].kind
        if group.kind == model_config_pb2.ModelInstanceGroup.KIND_CPU:
            group.ClearField("gpus")
        tuned.ClearField("instance_group")
        tuned.instance_group.append(group)
    tuned.max_batch_size = chosen.max_batch_size
    tuned.ClearField("dynamic_batching")
    if chosen.HasField("dynamic_batching"):
        tuned.dynamic_batching.CopyFrom(chosen.dynamic_batching)
    return tuned


def diff(before: str, after: str, name: str = "config.pbtxt") -> list[str]:
    return list(difflib.unified_diff(before.splitlines(), after.splitlines(), f"{name} (current)", f"{name} (tuned)", lineterm=""))
