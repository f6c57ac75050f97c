"""`AITrainingPlatform` against a real HTTP + WebSocket server that follows the API document."""

from __future__ import annotations

import random
import threading
import time

import pytest

from services.cancel import CancelToken
from services.errors import UserError
from services.jobs.ai_training import AITrainingPlatform
from services.jobs.protocol import JobState, LogMarker, is_marker
from services.logs.resume import MatchOverlap, SkipCount, Undecidable
from tests.fake_ai_api import TENANT, TOKEN, FakeAITrainingAPI
from tests.helpers import TUTORIAL_SPEC, Sleeps, platform_for


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def test_the_tutorial_flow(api: FakeAITrainingAPI) -> None:
    platform = platform_for(api)
    job = platform.run(TUTORIAL_SPEC)
    sent = api.jobs[job.id].document["spec"]
    assert sent["defaultHttpPort"] == 8000 and sent["unsecureHttp"] is True and sent["resources"] == {"gpu": 1}
    assert sent["volumes"] == [{"dataStore": {"alias": "GRA", "container": "my-models"}, "mountPath": "/workspace/models", "permission": "RO", "cache": False}]
    assert sent["command"] == ["bash", "-c", "tritonserver --model-repository=/workspace/models"]
    assert job.state is JobState.QUEUED and job.url == f"https://{job.id}.job.gra.ai.cloud.ovh.net"
    for _ in range(3):
        api.advance(job.id)
    running = platform.get(job.id)
    assert running.state is JobState.RUNNING
    assert [change.state for change in running.history] == [JobState.QUEUED, JobState.INITIALIZING, JobState.PENDING, JobState.RUNNING]
    assert running.spec.volumes == TUTORIAL_SPEC.volumes and running.spec.image == TUTORIAL_SPEC.image
    assert [found.id for found in platform.list((JobState.RUNNING,))] == [job.id]
    assert platform.list((JobState.DONE,)) == []
    api.emit(job.id, ["Started HTTPService at 0.0.0.0:8000"])
    assert platform.logs(job.id)[-1].endswith("[job] Started HTTPService at 0.0.0.0:8000")
    platform.stop(job.id)
    assert platform.get(job.id).state is JobState.INTERRUPTING
    with pytest.raises(UserError, match="HTTP 409"):
        platform.delete(job.id)
    platform.delete(job.id, force=True)
    with pytest.raises(UserError, match="not found"):
        platform.get(job.id)
    assert ("PUT", f"/v1/job/{job.id}/kill") in api.requests
    assert ("DELETE", f"/v1/job/{job.id}?force=true") in api.requests


def test_list_reads_every_page(api: FakeAITrainingAPI) -> None:
    platform = platform_for(api)
    ids = {platform.run(TUTORIAL_SPEC).id for _ in range(230)}
    assert {job.id for job in platform.list()} == ids
    assert sum(1 for method, path in api.requests if method == "GET" and path.startswith("/v1/job?")) == 3


def test_registries_show_the_shared_one_first(api: FakeAITrainingAPI) -> None:
    rows = platform_for(api).registries().rows
    assert [(row.kind, row.url, row.id) for row in rows] == [
        ("SHARED", f"registry.gra.ai.cloud.ovh.net/{TENANT}", None),
        ("PRIVATE", "ghcr.io/acme", "reg-1"),
    ]


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_says_where_it_came_from_and_never_shows_it(api: FakeAITrainingAPI, status: int) -> None:
    if status == 401:
        platform = platform_for(api, token="wrong-token-value-123")
    else:
        platform = platform_for(api)
        api.fail("GET", r"/v1/job$", 403, message="forbidden")
    with pytest.raises(UserError) as caught:
        platform.list()
    assert f"HTTP {status}" in str(caught.value) and "env OVHAI_TOKEN" in str(caught.value)
    assert "wrong-token-value-123" not in str(caught.value) and TOKEN not in str(caught.value)


def test_quota_not_found_and_conflict_are_one_clear_line_each(api: FakeAITrainingAPI) -> None:
    platform = platform_for(api)
    api.fail("POST", r"/v1/job$", 402, message="GPU quota exceeded")
    with pytest.raises(UserError, match=r"billing or quota reasons \(HTTP 402\): GPU quota exceeded"):
        platform.run(TUTORIAL_SPEC)
    with pytest.raises(UserError, match=r"job nope: not found \(HTTP 404\)"):
        platform.get("nope")
    job = platform.run(TUTORIAL_SPEC)
    api.finish(job.id)
    with pytest.raises(UserError, match=r"conflict .*HTTP 409.*already DONE"):
        platform.stop(job.id)
    for message in ("402", "404", "409"):
        assert "\n" not in message


def test_rate_limits_honour_retry_after(api: FakeAITrainingAPI, sleeps: Sleeps) -> None:
    platform = platform_for(api, sleeps)
    api.fail("GET", r"/v1/job$", 429, times=2, headers={"Retry-After": "3"})
    assert platform.list() == []
    assert sleeps == [3.0, 3.0]
    api.fail("GET", r"/v1/job$", 429, times=10, headers={"Retry-After": "7"})
    with pytest.raises(UserError, match=r"rate-limiting requests \(HTTP 429, listing jobs\): wait 7 s"):
        platform.list()


def test_server_errors_are_retried_only_for_idempotent_calls(api: FakeAITrainingAPI, sleeps: Sleeps) -> None:
    platform = platform_for(api, sleeps)
    api.fail("GET", r"/v1/job$", 503, times=2)
    assert platform.list() == []
    assert len(sleeps) == 2
    api.fail("POST", r"/v1/job$", 502, times=1)
    with pytest.raises(UserError, match=r"failed on starting the job \(HTTP 502\)"):
        platform.run(TUTORIAL_SPEC)
    assert not api.jobs, "a POST that failed must not be sent twice"


def test_timeouts_are_retried_then_reported(api: FakeAITrainingAPI) -> None:
    platform = platform_for(api, timeout_s=0.2, retries=1)
    api.fail("GET", r"/v1/job$", 500, times=1, delay_s=0.6)
    assert platform.list() == []
    api.fail("GET", r"/v1/job$", 500, times=2, delay_s=0.6)
    with pytest.raises(UserError, match=r"did not answer in 0.2 s \(listing jobs\)"):
        platform.list()


def test_unreachable_api_is_one_line(api: FakeAITrainingAPI) -> None:
    api.stop()
    platform = platform_for(api, retries=0)
    with pytest.raises(UserError, match=r"cannot reach AI Training at http://127.0.0.1"):
        platform.list()


def test_logs_with_tail(api: FakeAITrainingAPI) -> None:
    platform = platform_for(api)
    job = platform.run(TUTORIAL_SPEC)
    api.emit(job.id, [f"line {n}" for n in range(10)])
    assert [line.rsplit(" ", 1)[1] for line in platform.logs(job.id, tail=3)] == ["7", "8", "9"]


def _follow(platform: AITrainingPlatform, job_id: str, cancel: CancelToken | None = None) -> list[object]:
    return list(platform.follow_logs(job_id, cancel or CancelToken()))


def test_follow_streams_everything_then_ends_with_the_job(api: FakeAITrainingAPI) -> None:
    platform = platform_for(api)
    job = platform.run(TUTORIAL_SPEC)
    api.emit(job.id, ["first", "second"])
    threading.Timer(0.3, lambda: (api.emit(job.id, ["third"]), api.finish(job.id))).start()
    received = _follow(platform, job.id)
    assert received == api.jobs[job.id].lines and len(received) == 3


def _run_producer(
    api: FakeAITrainingAPI, job_id: str, total: int, batch: int, pause: float, drops: int = 0
) -> threading.Thread:
    """Emit `total` lines, and keep going until `drops` connections were cut (a drop needs
    fresh lines, so a slow machine must not end the job before the drop plan is used up)."""

    def produce() -> None:
        start, deadline = 0, time.monotonic() + 120
        while start < total or (api.drops < drops and time.monotonic() < deadline):
            api.emit(job_id, [f"line {n:06d}" for n in range(start, start + batch if start >= total else min(total, start + batch))])
            start += batch
            threading.Event().wait(pause)
        api.finish(job_id)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    return thread


def test_one_hundred_drops_lose_and_repeat_nothing(api: FakeAITrainingAPI) -> None:
    platform = platform_for(api)
    job = platform.run(TUTORIAL_SPEC)
    chooser = random.Random(5)
    api.drop_plan = [chooser.randint(0, 60) for _ in range(100)]
    producer = _run_producer(api, job.id, total=12_000, batch=20, pause=0.01, drops=100)
    received = _follow(platform, job.id)
    producer.join()
    lines = [item for item in received if not is_marker(item)]
    expected = api.jobs[job.id].lines
    assert len(expected) >= 12_000
    assert len(lines) == len(set(lines)) == len(expected), "duplicated or lost lines"
    assert lines == expected
    assert api.drops == 100 and api.ws_connections >= 101
    assert received.count(LogMarker.RECONNECTED) >= 100


def test_a_gap_longer_than_the_resume_window_is_filled_by_count(api: FakeAITrainingAPI) -> None:
    platform = platform_for(api, resume_window=5)
    job = platform.run(TUTORIAL_SPEC)
    api.drop_plan = [3, 3, 3]
    producer = _run_producer(api, job.id, total=400, batch=50, pause=0.02)
    lines = [item for item in _follow(platform, job.id) if not is_marker(item)]
    producer.join()
    assert lines == api.jobs[job.id].lines


def test_repeated_identical_lines_survive_drops(api: FakeAITrainingAPI) -> None:
    platform = platform_for(api, resume_window=20)
    job = platform.run(TUTORIAL_SPEC)
    api.drop_plan = [7, 11, 5, 9]

    def produce() -> None:
        for _ in range(30):
            api.emit(job.id, ["tick", "tick", "tock"])
            threading.Event().wait(0.01)
        api.finish(job.id)

    threading.Thread(target=produce, daemon=True).start()
    lines = [item for item in _follow(platform, job.id) if not is_marker(item)]
    assert lines == api.jobs[job.id].lines and len(lines) == 90


def test_a_silent_stream_sends_only_keepalives_which_are_never_shown(api: FakeAITrainingAPI) -> None:
    api.keepalive_s = 0.05
    platform = platform_for(api)
    job = platform.run(TUTORIAL_SPEC)
    threading.Timer(1.0, lambda: (api.emit(job.id, ["after the silence"]), api.finish(job.id))).start()
    received = _follow(platform, job.id)
    assert len(received) == 1 and str(received[0]).endswith("[job] after the silence")


def test_a_slow_stream_is_followed_line_by_line(api: FakeAITrainingAPI) -> None:
    api.frame_delay_s = 0.02
    platform = platform_for(api)
    job = platform.run(TUTORIAL_SPEC)
    api.emit(job.id, [f"slow {n}" for n in range(20)])
    api.finish(job.id)
    assert _follow(platform, job.id) == api.jobs[job.id].lines


def test_cancel_stops_following_promptly(api: FakeAITrainingAPI) -> None:
    platform = platform_for(api)
    job = platform.run(TUTORIAL_SPEC)
    cancel = CancelToken()
    threading.Timer(0.3, cancel.cancel).start()
    assert _follow(platform, job.id, cancel) == []


def test_follow_with_a_refused_token_is_one_clear_line(api: FakeAITrainingAPI) -> None:
    job = platform_for(api).run(TUTORIAL_SPEC)
    with pytest.raises(UserError, match="refused the token from env OVHAI_TOKEN"):
        _follow(platform_for(api, token="not-the-token-999"), job.id)


def test_overlap_matching_rules() -> None:
    overlap = MatchOverlap(["a", "b", "c"])
    assert sum((overlap.feed(line) for line in ["b", "c", "d", "e"]), []) == ["d", "e"]
    assert MatchOverlap([]).feed("x") == ["x"]
    disjoint = MatchOverlap(["a", "b"])
    with pytest.raises(Undecidable) as caught:
        disjoint.feed("z")
    assert not caught.value.ambiguous
    ambiguous = MatchOverlap(["a", "b", "a", "b"])
    with pytest.raises(Undecidable) as caught:
        for line in ["a", "b", "a", "b", "c"]:
            ambiguous.feed(line)
    assert caught.value.ambiguous
    counter = SkipCount(2)
    assert sum((counter.feed(line) for line in "abcd"), []) == ["c", "d"]
