"""Following a long, busy job log through a connection that keeps breaking: the shapes of
issue 15's measurement (3,000 lines already written, 50 new lines a second, a cut every 7
frames counting the replayed ones, or every 500), checked for correctness and for the
client's restraint: the timings themselves are `bench/log_follow.py`'s to report."""

from __future__ import annotations

import threading

import pytest

from services.cancel import CancelToken
from services.jobs.ai_training import AITrainingPlatform
from services.jobs.protocol import is_marker
from services.secrets import Secret
from tests.fake_ai_api import TOKEN, FakeAITrainingAPI
from tests.helpers import TUTORIAL_SPEC


def busy_job(api: FakeAITrainingAPI, platform: AITrainingPlatform, seconds: float) -> tuple[str, threading.Thread]:
    job = platform.run(TUTORIAL_SPEC)
    for _ in range(3):
        api.advance(job.id)
    api.emit(job.id, [f"history {n:05d}" for n in range(3000)])

    def write() -> None:
        for tick in range(int(seconds * 10)):
            api.emit(job.id, [f"live {tick:04d}.{n}" for n in range(5)])  # 50 lines a second
            threading.Event().wait(0.1)
        api.finish(job.id)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    return job.id, writer


@pytest.mark.parametrize("cut", [7, 500])
def test_a_cut_every_n_frames_loses_and_repeats_nothing_and_does_not_hammer_the_api(api: FakeAITrainingAPI, cut: int) -> None:
    api.cut_every_frames = cut
    platform = AITrainingPlatform(api.base_url, lambda: Secret(TOKEN), "env OVHAI_TOKEN", backoff_s=0.05)
    job_id, writer = busy_job(api, platform, seconds=4)
    received = list(platform.follow_logs(job_id, CancelToken()))
    writer.join()
    lines = [item for item in received if not is_marker(item)]
    assert lines == api.jobs[job_id].lines and len(lines) == 3200, "0 lost, 0 repeated"
    assert api.drops >= 1
    # The old client reconnected every 10 ms and replayed from line 0 once far behind: hundreds
    # of connections. Now a connection that brings nothing backs off, then the plain log is polled.
    assert api.ws_connections <= 25, api.ws_connections
    if cut == 7:
        assert api.plain_log_reads >= 2, "the socket kept failing: the plain endpoint was polled"


def test_timed_cuts_resume_with_only_the_gap(api: FakeAITrainingAPI) -> None:
    api.cut_every_s = 0.5
    platform = AITrainingPlatform(api.base_url, lambda: Secret(TOKEN), "env OVHAI_TOKEN", backoff_s=0.05)
    job_id, writer = busy_job(api, platform, seconds=3)
    lines = [item for item in platform.follow_logs(job_id, CancelToken()) if not is_marker(item)]
    writer.join()
    assert lines == api.jobs[job_id].lines
    full_replays = [query for method, query in api.requests if method == "GET" and query.endswith("/log")]
    assert len(full_replays) <= 2, "resumes ask for the gap's tail, not the whole log again"


def test_the_stream_and_the_plain_log_split_any_bytes_by_the_local_rule(api: FakeAITrainingAPI) -> None:
    """Latin-1, separators that `str.splitlines` would split on, CRLF and a 70 kB line, through
    cuts every 3 frames: the socket and the plain endpoint cut lines alike, so the fill-ins line up."""
    api.cut_every_frames = 3
    platform = AITrainingPlatform(api.base_url, lambda: Secret(TOKEN), "env OVHAI_TOKEN", backoff_s=0.05)
    job = platform.run(TUTORIAL_SPEC)
    for _ in range(3):
        api.advance(job.id)
    texts = ["caf\udce9 in Latin-1", "a\x1cb\u2028c\x85d\x0be", "windows\r", "x" * 70_000] + [f"after {n}" for n in range(8)]
    api.emit(job.id, texts)
    api.finish(job.id)
    lines = [item for item in platform.follow_logs(job.id, CancelToken()) if not is_marker(item)]
    stamped = api.jobs[job.id].lines
    long_line = stamped[3].encode()
    assert lines == [
        stamped[0].replace("\udce9", "\ufffd"), stamped[1], stamped[2].removesuffix("\r"),
        long_line[:65536].decode(), long_line[65536:].decode(), *stamped[4:],
    ], "every line once, in order, the 70 kB one cut at 64 KiB as local logs are"
    assert api.drops >= 1
