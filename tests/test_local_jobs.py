"""Local jobs for real: a supervisor process per job, a real tritonserver, states as AI Training."""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from pathlib import Path

import pytest

from services.cancel import CancelToken
from services.jobs.local import LocalJobPlatform
from services.jobs.protocol import JobSpec, JobState, VolumeSpec
from services.storage.local import LocalObjectStore
from services.storage.protocol import BucketRef, UploadOptions
from tests.helpers import DEMO_REPOSITORY, tutorial_spec, upload_demo_repository, wait_for


def test_tutorial_server_job_runs_answers_ready_and_stops(models_bucket: BucketRef) -> None:
    platform = LocalJobPlatform()
    job = platform.run(tutorial_spec())
    assert job.state is JobState.QUEUED
    assert wait_for(platform, job.id, {JobState.RUNNING, JobState.FAILED}) is JobState.RUNNING
    running = platform.get(job.id)
    assert running.url and running.url.startswith("http://127.0.0.1:")
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{running.url}/v2/health/ready", timeout=1) as answer:
                assert answer.status == 200
                break
        except OSError:
            assert time.monotonic() < deadline, platform.logs(job.id)[-5:]
            time.sleep(0.2)
    assert any("[sync]" in line and "synced" in line for line in platform.logs(job.id))
    assert LocalJobPlatform().get(job.id).state is JobState.RUNNING, "another process sees the same job"
    platform.stop(job.id)
    assert wait_for(platform, job.id, {JobState.INTERRUPTED}) is JobState.INTERRUPTED
    states = [change.state for change in platform.get(job.id).history]
    assert states == [JobState.QUEUED, JobState.INITIALIZING, JobState.PENDING, JobState.RUNNING,
                      JobState.INTERRUPTING, JobState.FINALIZING, JobState.INTERRUPTED]  # fmt: skip
    platform.delete(job.id)
    assert platform.list() == []


def test_a_failing_command_is_failed_with_its_reason(models_bucket: BucketRef) -> None:
    platform = LocalJobPlatform()
    job = platform.run(JobSpec(image="local/tools", command=("bash", "-c", "ls /workspace/nothing-here"), gpu=0))
    assert wait_for(platform, job.id, {JobState.DONE, JobState.FAILED}) is JobState.FAILED
    failed = platform.get(job.id)
    assert failed.exit_code not in (None, 0) and failed.info_message and failed.info_message.startswith("exit ")
    assert any("nothing-here" in line for line in platform.logs(job.id))


def test_a_killed_supervisor_shows_as_failed(models_bucket: BucketRef) -> None:
    platform = LocalJobPlatform()
    job = platform.run(JobSpec(image="local/tools", command=("sleep", "300.0417"), gpu=0))  # a duration no other process has
    assert wait_for(platform, job.id, {JobState.RUNNING}) is JobState.RUNNING
    pid = int((platform.root / job.id / "supervisor.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    assert wait_for(platform, job.id, {JobState.FAILED}, timeout=10) is JobState.FAILED
    assert "supervisor process died" in (platform.get(job.id).info_message or "")
    deadline = time.monotonic() + 5
    while os.system("pgrep -f 'sleep [3]00.0417' > /dev/null") == 0:
        assert time.monotonic() < deadline, "the job's process died with its supervisor"
        time.sleep(0.1)


def test_follow_reads_every_line_once_until_the_job_ends(models_bucket: BucketRef) -> None:
    platform = LocalJobPlatform()
    job = platform.run(JobSpec(image="local/tools", command=("bash", "-c", "for n in 1 2 3 4 5; do echo line $n; sleep 0.2; done"), gpu=0))
    lines = list(platform.follow_logs(job.id, CancelToken()))
    assert [line.split(" [job] ")[1] for line in lines if " [job] line" in line] == [f"line {n}" for n in range(1, 6)]
    assert platform.get(job.id).state is JobState.DONE


def test_volume_strings_parse_like_ovhai() -> None:
    from services.errors import UserError
    from services.jobs.protocol import parse_volume

    assert parse_volume("my-models@GRA:/workspace/models:RO") == VolumeSpec("my-models", "GRA", "/workspace/models", "RO")
    assert parse_volume("data@gra/train:/workspace/data:rw:cache") == VolumeSpec("data", "gra", "/workspace/data", "RW", "train", True), "aliases as typed"
    assert parse_volume("my-bucket@s3gra:/workspace/data").alias == "s3gra"
    assert str(parse_volume("my-models@LOCAL:/workspace/models")) == "my-models@LOCAL:/workspace/models:RO"
    for bad in ("my-models@GRA", "my-models:/workspace", "m@GRA:/w:XX"):
        with pytest.raises(UserError):
            parse_volume(bad)


def test_the_tutorial_through_the_cli_from_two_shells(models_bucket: BucketRef, capsys: pytest.CaptureFixture[str]) -> None:
    import io
    import json

    from tui.cli import main

    def cli(*argv: str) -> str:
        out = io.StringIO()
        assert main(list(argv), env={}, out=out) == 0, capsys.readouterr().err
        return out.getvalue()

    job_id, state = cli(
        "job", "run", "--default-http-port", "8000", "--gpu", "1", "--unsecure-http",
        "--volume", "my-models@LOCAL:/workspace/models:RO", "local/tritonserver",
        "--", "bash", "-c", "tritonserver --model-repository=/workspace/models",
    ).split()  # fmt: skip
    assert state == "QUEUED"
    assert "unsecure-http makes the job's URL reachable" in capsys.readouterr().err
    deadline = time.monotonic() + 90
    while json.loads(cli("job", "get", job_id, "-o", "json"))["status"]["state"] != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert job_id in cli("job", "list")
    cli("job", "stop", job_id)
    followed = cli("job", "logs", job_id, "-f")  # returns once the job has ended
    assert "[sync] synced" in followed
    assert json.loads(cli("job", "get", job_id, "-o", "json"))["status"]["state"] == "INTERRUPTED"
    cli("job", "delete", job_id)
    assert cli("job", "list", "-o", "json").strip() == "[]"


def test_a_broken_model_fails_the_job_with_tritons_reason(models_bucket: BucketRef, tmp_path: Path) -> None:
    store = LocalObjectStore()
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('model refuses to load')\n")
    from services.storage.protocol import UploadItem

    store.upload(models_bucket, [UploadItem(broken, "simple/1/model.py", broken.stat().st_size)], UploadOptions(), lambda _p: None, CancelToken())
    platform = LocalJobPlatform()
    job = platform.run(tutorial_spec())
    assert wait_for(platform, job.id, {JobState.FAILED, JobState.DONE, JobState.INTERRUPTED}) is JobState.FAILED
    message = platform.get(job.id).info_message or ""
    assert "model refuses to load" in message and "\n" not in message
    platform.delete(job.id)


def test_the_demo_classifier_as_a_job_and_two_jobs_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np
    import tritonclient.http as httpclient

    from tests.helpers import imagenet_normalized

    upload_demo_repository(monkeypatch)
    platform = LocalJobPlatform()
    jobs = [platform.run(tutorial_spec()) for _ in range(2)]
    try:
        for job in jobs:
            assert wait_for(platform, job.id, {JobState.RUNNING, JobState.FAILED}) is JobState.RUNNING
        urls = [platform.get(job.id).url for job in jobs]
        assert urls[0] != urls[1]
        client = httpclient.InferenceServerClient(urls[0].removeprefix("http://"))
        deadline = time.monotonic() + 60
        while True:  # RUNNING means the process started, as on AI Training; readiness comes after
            try:
                if client.is_model_ready("efficientnet_lite0"):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, platform.logs(jobs[0].id)[-5:]
            time.sleep(0.3)
        batch = imagenet_normalized(DEMO_REPOSITORY.parent / "samples" / "coffee.png")[None].astype(np.float32)
        tensor = httpclient.InferInput("input", list(batch.shape), "FP32")
        tensor.set_data_from_numpy(batch)
        answer = client.infer("efficientnet_lite0", [tensor], outputs=[httpclient.InferRequestedOutput("logits", class_count=3)])
        client.close()
        expected = ["10.410741:967:espresso", "8.048911:968:tea cup", "6.919769:504:coffee mug"]
        assert [v.decode() for v in answer.as_numpy("logits")[0]] == expected
        import tritonclient.grpc as grpcclient

        address = platform.get(jobs[0].id).grpc_address
        assert address and address.startswith("127.0.0.1:")
        grpc = grpcclient.InferenceServerClient(address)
        tensor = grpcclient.InferInput("input", list(batch.shape), "FP32")
        tensor.set_data_from_numpy(batch)
        answer = grpc.infer("efficientnet_lite0", [tensor], outputs=[grpcclient.InferRequestedOutput("logits", class_count=3)])
        grpc.close()
        assert [v.decode() for v in answer.as_numpy("logits")[0]] == expected
    finally:
        for job in jobs:
            platform.delete(job.id, force=True)
    assert platform.list() == []
    deadline = time.monotonic() + 10
    for job in jobs:  # each server's (and supervisor's) command line names its job's directory
        while os.system(f"pgrep -f '{platform.root}/[{job.id[0]}]{job.id[1:]}' > /dev/null") == 0:
            assert time.monotonic() < deadline, "no server or supervisor left"
            time.sleep(0.1)


def test_rw_volumes_sync_back_when_the_job_ends(models_bucket: BucketRef) -> None:
    store = LocalObjectStore()
    results = BucketRef("my-results", "LOCAL")
    store.create_bucket(results)
    platform = LocalJobPlatform()
    spec = JobSpec(
        image="local/tools", gpu=0,
        command=("bash", "-c", "mkdir -p /workspace/out/run1 && echo top-3 > /workspace/out/run1/result.txt && ls /workspace/models"),
        volumes=(VolumeSpec("my-models", "LOCAL", "/workspace/models", "RO"), VolumeSpec("my-results", "LOCAL", "/workspace/out", "RW")),
    )  # fmt: skip
    job = platform.run(spec)
    assert wait_for(platform, job.id, {JobState.DONE, JobState.FAILED}) is JobState.DONE
    assert any(line.endswith("[job] simple") for line in platform.logs(job.id)), "the RO volume was there"
    info = store.head(results, "run1/result.txt")
    assert info is not None and info.size == len("top-3\n")
    assert store.head(models_bucket, "run1/result.txt") is None, "RO volumes are never synced back"


async def test_jobs_panel_on_the_real_local_platform() -> None:
    from services.backends import open_services
    from services.config import Config
    from tui.app import make_app
    from tui.screens.job_logs import JobLogScreen
    from tui.settings import AppSettings
    from widgets.log_pane import LogPane
    from widgets.resource_table import ResourceTable

    platform = LocalJobPlatform()
    job = platform.run(JobSpec(image="local/tools", gpu=0, command=("bash", "-c", "echo hello from the job; sleep 300")))
    assert wait_for(platform, job.id, {JobState.RUNNING}) is JobState.RUNNING
    app = make_app("local", Config(), open_services, AppSettings(poll=False), env={})
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("3")
            await app.workers.wait_for_complete()
            await pilot.pause()
            table = app.query_one("#jobs-table", ResourceTable)
            assert table.row_count == 1 and str(table.get_row_at(0)[3]) == "RUNNING"
            await pilot.press("l")
            pane = app.screen.query_one(LogPane)

            def shown() -> list[str]:
                return [pane.view.rows.line(row)[0] for row in range(pane.view.rows.count)]

            for _ in range(50):
                if any("hello from the job" in line for line in shown()):
                    break
                await pilot.pause(0.1)
            assert isinstance(app.screen, JobLogScreen) and any("hello from the job" in line for line in shown())
            await pilot.press("escape", "s", "y")
            await app.workers.wait_for_complete()
        assert wait_for(platform, job.id, {JobState.INTERRUPTED}) is JobState.INTERRUPTED
    finally:
        platform.delete(job.id, force=True)


def test_env_vars_reach_the_job_and_home_is_the_workspace() -> None:
    platform = LocalJobPlatform()
    spec = JobSpec(image="local/tools", gpu=0, command=("bash", "-c", 'echo "$GREETING from $HOME"'), env=(("GREETING", "bonjour"),))
    job = platform.run(spec)
    assert wait_for(platform, job.id, {JobState.DONE, JobState.FAILED}) is JobState.DONE
    workspace = platform.root / job.id / "workspace"
    assert any(line.endswith(f"[job] bonjour from {workspace}") for line in platform.logs(job.id))


async def test_run_form_starts_a_real_tritonserver_that_the_panel_follows_and_stops(models_bucket: BucketRef) -> None:
    from services.backends import open_services
    from services.config import Config
    from tui.app import make_app
    from tui.screens.job_logs import JobLogScreen
    from tui.screens.job_run import JobRunScreen
    from tui.settings import AppSettings
    from widgets.log_pane import LogPane
    from widgets.resource_table import ResourceTable

    platform = LocalJobPlatform()
    app = make_app("local", Config(), open_services, AppSettings(poll_fast_s=0.3, poll_slow_s=1.0), env={})

    def states() -> list[str]:
        table = app.query_one("#jobs-table", ResourceTable)
        return [str(table.get_row_at(row)[3]) for row in range(table.row_count)]

    async def until(pilot, condition, seconds: float = 90) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + seconds
        while not condition() and time.monotonic() < deadline:
            await pilot.pause(0.1)
        assert condition()

    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("3")
            await pilot.press("n")
            await pilot.pause()
            assert isinstance(app.screen, JobRunScreen)
            await pilot.press("ctrl+s")
            await until(pilot, lambda: states() == ["RUNNING"])
            await pilot.press("l")
            assert isinstance(app.screen, JobLogScreen)
            pane = app.screen.query_one(LogPane)

            def shown() -> str:
                return "\n".join(pane.view.rows.line(row)[0] for row in range(pane.view.rows.count))

            await until(pilot, lambda: "Started HTTPService" in shown())
            assert "[sync] synced" in shown()
            await pilot.press("escape", "s", "y")
            await until(pilot, lambda: states() == ["INTERRUPTED"])
            await pilot.press("ctrl+d", "y")
            await until(pilot, lambda: states() == [], 10)
    finally:
        for job in platform.list():
            platform.delete(job.id, force=True)
