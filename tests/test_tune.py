"""`triton-deck tune` against a real local tritonserver in explicit model-control mode: the
config that is best by construction is found, a model whose config makes no difference is
told to keep it, the server is always left as found (after a search, a cancel, a time
budget), a server not in explicit mode is one line with nothing changed, and `--write`
writes only the tuned fields into a config.pbtxt the server loads."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

from services.cancel import CancelToken
from services.inference.protocol import Endpoint, Transport
from services.inference.triton import TritonInferenceClient
from services.perf.sweep import SweepConfig
from services.perf.tune import Dimensions
from services.repository import validate_repository
from services.triton.runtime import TritonServer, prepare_runtime
from services.usecases.tune import NOT_EXPLICIT, CandidateStarted, TuneEnded, TuneSettings, tune
from tests.helpers import DEMO, config_of, http_status
from tui.cli import main

QUICK = ["--measurement-interval", "400", "--warmup", "200", "--stability-percentage", "50", "--max-trials", "4"]


def settings(model: str, dimensions: Dimensions, levels: tuple[float, ...], budget_minutes: float | None = None) -> TuneSettings:
    sweep = SweepConfig(model, levels, interval_ms=400, warmup_ms=200, stability=50.0, max_trials=4)
    return TuneSettings(dimensions, sweep, None, "throughput", budget_minutes, True)


def client(server: TritonServer) -> TritonInferenceClient:
    return TritonInferenceClient(Endpoint(f"127.0.0.1:{server.ports.http}", Transport.HTTP))


@pytest.mark.parametrize("search", ["brute", "quick"])
def test_the_config_best_by_construction_wins_and_the_server_is_left_as_found(
    explicit: TritonServer, search: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """20 ms a batch of up to 4, 8 requests outstanding: 1 instance without batching 50/s,
    2 instances 100/s, 1 batching 200/s, 2 batching 400/s. The quick search walks there from
    the config in force (1 instance, no batching) one dimension at a time."""
    before = config_of(explicit, "sleeper")
    code = main(["tune", "-u", f"127.0.0.1:{explicit.ports.http}", "-m", "sleeper", "--instances", "1,2", "--dynamic-batching", "off,on",
                 "--concurrency-range", "8", *QUICK, "--search", search, "-o", "json"])  # fmt: skip
    document = json.loads(capsys.readouterr().out)
    assert code == 0 and document["winner"] == "instances=2 dynamic_batching=on(delay 0 µs)", document
    assert [entry["config"] for entry in document["candidates"]][0] == document["winner"]
    assert document["verdict"].startswith("use instances=2") and any("count: 2" in line for line in document["diff"] if line.startswith("+"))
    changed = [line for line in document["diff"] if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))]
    assert changed and all(word in " ".join(changed) for word in ("count", "dynamic_batching")), changed
    assert config_of(explicit, "sleeper") == before, "the original config is back in force"


def test_a_config_that_makes_no_difference_is_kept_not_replaced_by_noise(explicit: TritonServer) -> None:
    """The config in force, as a candidate, measured apart from its own second measurement: on
    a loaded machine the two differed by 21 %. Whatever the figures, the verdict keeps it."""
    before = config_of(explicit, "simple")
    count = int(before["instance_group"][0]["count"])  # type: ignore[index]
    events = list(tune(client(explicit), settings("simple", Dimensions(instances=(count,), dynamic_batching=(False,)), (1.0,)), CancelToken()))
    ended = events[-1]
    assert isinstance(ended, TuneEnded) and ended.verdict.winner is None and ended.verdict.line.startswith("keep the current config: the best candidate is within noise")
    assert ended.current is not None and ended.current.feasible
    assert config_of(explicit, "simple") == before


def test_cancel_and_the_time_budget_leave_the_server_as_found(explicit: TritonServer) -> None:
    before = config_of(explicit, "sleeper")
    threads_before = threading.active_count()
    cancel = CancelToken()
    seen = []
    for event in tune(client(explicit), settings("sleeper", Dimensions(instances=(1, 2, 3)), (2.0,)), cancel):
        seen.append(event)
        if isinstance(event, CandidateStarted) and event.number == 2:
            threading.Timer(0.5, cancel.cancel).start()
    ended = seen[-1]
    assert isinstance(ended, TuneEnded) and ended.reason == "cancelled" and ended.verdict.winner is None
    assert config_of(explicit, "sleeper") == before
    deadline = time.monotonic() + 5  # the cancel's timer thread ends; no sweep thread is left behind
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= threads_before, [thread.name for thread in threading.enumerate()]
    budget = list(tune(client(explicit), settings("sleeper", Dimensions(instances=(1, 2, 3)), (2.0,), budget_minutes=0.01), CancelToken()))
    ended = budget[-1]
    assert isinstance(ended, TuneEnded) and ended.partial and 1 <= len(ended.results) < 3
    assert config_of(explicit, "sleeper") == before


def test_a_server_not_in_explicit_mode_is_one_line_and_nothing_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(DEMO / "model_repository" / "simple", tmp_path / "models" / "simple", ignore=shutil.ignore_patterns("__pycache__"))
    with TritonServer(prepare_runtime(tmp_path / "cache"), tmp_path / "models", tmp_path / "server.log").running() as plain:
        before = config_of(plain, "simple")
        assert main(["tune", "-u", f"127.0.0.1:{plain.ports.http}", "-m", "simple", "--instances", "1,2", *QUICK]) == 1
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert NOT_EXPLICIT in error and "Traceback" not in error
        assert config_of(plain, "simple") == before


def test_write_puts_only_the_tuned_fields_into_a_config_the_server_loads(explicit: TritonServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model_dir = explicit.repository / "sleeper"
    original = (model_dir / "config.pbtxt").read_text()
    try:
        assert main(["tune", "-u", f"127.0.0.1:{explicit.ports.http}", "-m", "sleeper", "--instances", "1,2", "--dynamic-batching", "on",
                     "--concurrency-range", "8", *QUICK, "--write", str(model_dir)]) == 0  # fmt: skip
        out = capsys.readouterr().out
        written = out.split(f"--- {model_dir / 'config.pbtxt'} (current)")[1].split("wrote the winner's tuned fields")[0]  # the file's diff, printed before the write
        changed = [line for line in written.splitlines() if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))]
        assert changed and all(any(field in line for field in ("count", "kind", "instance_group", "dynamic_batching", "}", "{")) for line in changed), changed
        assert validate_repository(explicit.repository).ok
        client(explicit).load_model("sleeper")  # the file itself, no override
        assert config_of(explicit, "sleeper")["instance_group"][0]["count"] == 2  # type: ignore[index]
        assert "dynamic_batching" in config_of(explicit, "sleeper")
    finally:
        (model_dir / "config.pbtxt").write_text(original)
        client(explicit).load_model("sleeper")


def test_a_local_job_started_in_explicit_mode_is_tuned_through_its_id(models_bucket: object, capsys: pytest.CaptureFixture[str]) -> None:
    """The job's own `--model-control-mode=explicit --load-model=*` reach the local server, so
    `tune --job ID` loads candidates into it; an app with several replicas is refused."""
    from dataclasses import replace

    from services.jobs.local import LocalJobPlatform
    from services.jobs.protocol import JobState
    from tests.helpers import tutorial_spec, wait_for

    jobs = LocalJobPlatform()
    spec = tutorial_spec()
    job = jobs.run(replace(spec, command=("tritonserver", "--model-repository=/workspace/models", "--model-control-mode=explicit", "--load-model=*")))
    try:
        assert wait_for(jobs, job.id, {JobState.RUNNING, JobState.FAILED}) is JobState.RUNNING
        url = jobs.get(job.id).url
        deadline = time.monotonic() + 60
        while http_status(f"{url}/v2/health/ready") != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        code = main(["--profile", "local", "tune", "--job", job.id, "-m", "simple", "--instances", "1,2", "--concurrency-range", "1", *QUICK, "-o", "json"])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        document = json.loads(captured.out)
        assert code == 0 and len(document["candidates"]) == 2 and document["current"] is not None
    finally:
        jobs.delete(job.id, force=True)


def test_write_bucket_shows_the_diff_then_replaces_only_the_tuned_fields_in_the_bucket(explicit: TritonServer, capsys: pytest.CaptureFixture[str]) -> None:
    """The server reads its repository from my-models@LOCAL/models/: the winner goes into that
    bucket's sleeper/config.pbtxt through the upload use case, the diff printed before."""
    from services.repository import parse_config
    from services.storage.local import LocalObjectStore
    from services.storage.planning import plan_upload
    from services.storage.protocol import BucketRef, UploadOptions

    store, bucket = LocalObjectStore(), BucketRef("my-models", "LOCAL")
    store.create_bucket(bucket)
    items = plan_upload([str(explicit.repository / "sleeper") + "/"], remove_prefix=str(explicit.repository) + "/", add_prefix="models/")
    assert store.upload(bucket, items, UploadOptions(), lambda _p: None, CancelToken()).ok
    code = main(["--profile", "local", "tune", "-u", f"127.0.0.1:{explicit.ports.http}", "-m", "sleeper", "--instances", "2", "--dynamic-batching", "on",
                 "--concurrency-range", "8", *QUICK, "--write-bucket", "my-models@LOCAL/models"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    diff, _, written = out.partition("wrote the winner's tuned fields to my-models@LOCAL/models/sleeper/config.pbtxt")
    assert written and "+++ my-models@LOCAL/models/sleeper/config.pbtxt (tuned)" in diff
    with tempfile.TemporaryDirectory() as scratch:
        info = store.head(bucket, "models/sleeper/config.pbtxt")
        assert info is not None and store.download(bucket, [info], Path(scratch), lambda _p: None, CancelToken(), remove_prefix="models/").ok
        config = parse_config(Path(scratch) / "sleeper" / "config.pbtxt")
    assert config.instance_group[0].count == 2 and config.HasField("dynamic_batching")
    assert (config.name, config.backend, config.max_batch_size, [i.name for i in config.input]) == ("sleeper", "python", 4, ["X"])
    assert main(["--profile", "local", "tune", "-u", f"127.0.0.1:{explicit.ports.http}", "-m", "sleeper", "--instances", "2",
                 "--concurrency-range", "8", *QUICK, "--write-bucket", "my-models@LOCAL/elsewhere"]) == 1  # fmt: skip
    assert "no elsewhere/sleeper/config.pbtxt in my-models@LOCAL" in capsys.readouterr().err


def test_sigint_mid_search_restores_the_config_and_exits(explicit: TritonServer) -> None:
    """A real Ctrl-C to `triton-deck tune` in its own process, while its second candidate is measured."""
    import os
    import signal
    import subprocess
    import sys

    before = config_of(explicit, "sleeper")
    argv = [sys.executable, "-m", "tui.cli", "tune", "-u", f"127.0.0.1:{explicit.ports.http}", "-m", "sleeper", "--instances", "1,2,3",
            "--concurrency-range", "2", *QUICK]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}, cwd=DEMO.parent)
    assert process.stderr is not None
    lines = []
    for line in process.stderr:
        lines.append(line)
        if "[2/3]" in line:
            break
    assert lines and "[2/3]" in lines[-1], lines
    time.sleep(0.5)  # into the second candidate's sweep
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1, err
    assert "cancelled: the current config stays" in out and "Traceback" not in err
    assert config_of(explicit, "sleeper") == before
