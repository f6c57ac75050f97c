"""`tune`'s searches apart from any server: the quick (coordinate) search finds the best point
of a landscape where the dimensions act apart in fewer loads than the cross product, takes a
step only when it beats the noise, and a bucket target is read as ovhai writes volumes."""

from __future__ import annotations

import pytest

from services.errors import UserError
from services.perf.tune import BruteSearch, Candidate, CandidateResult, CoordinateSearch, Dimensions, beats, candidate_config, candidates
from services.usecases.tune import parse_bucket_target

ORIGINAL = {"name": "m", "max_batch_size": 8, "instance_group": [{"count": 1, "kind": "KIND_CPU"}]}


def walk(search: BruteSearch | CoordinateSearch, throughput: dict[Candidate, float], spread: float = 1.0) -> list[Candidate]:
    """Drive a search as the use case does, scoring each candidate from `throughput`."""
    seen = []
    while (candidate := search.next()) is not None:
        seen.append(candidate)
        search.record(CandidateResult(candidate, 1.0, throughput[candidate], 1000.0, spread))
    return seen


def test_the_quick_search_finds_the_best_of_separable_dimensions_in_fewer_loads() -> None:
    dimensions = Dimensions(instances=(1, 2, 3, 4), max_batch_sizes=(1, 4, 8), dynamic_batching=(False, True))
    grid = candidates(ORIGINAL, dimensions)
    score = {c: 100.0 * {1: 1, 2: 1.8, 3: 2.4, 4: 2.2}[c.instances or 1] * {1: 1, 4: 1.5, 8: 1.7}[c.max_batch_size or 1] * (2 if c.dynamic else 1) for c in grid}
    best = max(grid, key=lambda c: score[c])
    seen = walk(CoordinateSearch(ORIGINAL, dimensions, "throughput"), score)
    assert best in seen and max(seen, key=lambda c: score[c]) == best
    assert len(seen) < len(grid) == len(walk(BruteSearch(grid), score)) and len(set(seen)) == len(seen)
    assert seen[0] == Candidate(1, 8, False, None), "it starts from the config in force: 1 instance, batch 8, no dynamic batching"


def test_the_quick_search_takes_no_step_within_the_noise() -> None:
    """Every candidate within 3 % of the start, spreads of 1 %: the floor (5 %) keeps the start,
    and the search ends after one pass: the start and each neighbour once."""
    dimensions = Dimensions(instances=(1, 2, 3), dynamic_batching=(False, True))
    grid = candidates(ORIGINAL, dimensions)
    score = {c: 100.0 + 3.0 * (c.instances or 0) * (1 if c.dynamic else 0) / 3 for c in grid}
    seen = walk(CoordinateSearch(ORIGINAL, dimensions, "throughput"), score)
    assert seen == [Candidate(1, None, False, None), Candidate(2, None, False, None), Candidate(3, None, False, None), Candidate(1, None, True, 0)]


def test_beats_needs_more_than_the_noise() -> None:
    base = CandidateResult(Candidate(1), 1.0, 100.0, 1000.0, 2.0)
    assert not beats(CandidateResult(Candidate(2), 1.0, 104.9, 1000.0, 1.0), base, "throughput")
    assert beats(CandidateResult(Candidate(2), 1.0, 110.0, 1000.0, 1.0), base, "throughput")
    assert not beats(CandidateResult(Candidate(2), 1.0, 110.0, 1000.0, 9.0), base, "throughput"), "11 % spread: within noise"
    assert beats(CandidateResult(Candidate(2), 1.0, 100.0, 800.0, 1.0), base, "latency")
    assert beats(CandidateResult(Candidate(2), 1.0, 1.0, 1.0, 0.0), None, "throughput")
    assert not beats(CandidateResult(Candidate(2), None, 0.0, 0.0, 0.0), None, "throughput")


@pytest.mark.parametrize(
    ("text", "bucket", "prefix"),
    [("my-models@GRA", "my-models@GRA", ""), ("my-models@gra/models", "my-models@GRA", "models/"), ("b@LOCAL/a/b/", "b@LOCAL", "a/b/")],
)
def test_a_bucket_target_is_name_at_region_and_a_prefix(text: str, bucket: str, prefix: str) -> None:
    ref, found = parse_bucket_target(text)
    assert (str(ref), found) == (bucket, prefix)


@pytest.mark.parametrize(("text", "says"), [("my-models", "needs a region"), ("b@GRA/../x", "may not climb out")])
def test_a_bad_bucket_target_is_one_line(text: str, says: str) -> None:
    with pytest.raises(UserError, match=says):
        parse_bucket_target(text)


def test_the_cross_product_loads_cheaply_and_ends_on_the_config_in_force() -> None:
    """Between candidates that differ only in their instance count Triton adds or removes
    instances (0.15 s) instead of reloading the model (1.4 s): the counts vary innermost, the
    group beside the config in force goes first, and the config in force itself last (the
    search ends with the server as found: no load back, no second sweep of it)."""
    order = candidates(ORIGINAL, Dimensions(instances=(1, 2), max_batch_sizes=(4, 8), dynamic_batching=(True, False)))
    assert [(c.instances, c.max_batch_size, c.dynamic) for c in order] == [
        (2, 8, False), (1, 4, True), (2, 4, True), (1, 4, False), (2, 4, False), (1, 8, True), (2, 8, True), (1, 8, False),
    ]  # fmt: skip


def test_a_candidate_that_changes_nothing_is_the_original_config_to_the_letter() -> None:
    original = {**ORIGINAL, "instance_group": [{"name": "g", "count": 1, "kind": "KIND_CPU", "gpus": []}], "dynamic_batching": {"max_queue_delay_microseconds": 100, "priority_levels": 2}}
    dimensions = Dimensions(instances=(1, 2), max_batch_sizes=(8,), dynamic_batching=(True,), queue_delays_us=(100, 0))
    assert candidate_config(original, Candidate(1, 8, True, 100), dimensions, local=True) == original
    changed = candidate_config(original, Candidate(2, 8, True, 0), dimensions, local=True)
    assert changed["instance_group"] == [{"name": "g", "count": 2, "kind": "KIND_CPU"}]
    assert changed["dynamic_batching"] == {"max_queue_delay_microseconds": 0}
