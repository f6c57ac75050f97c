"""The deploy pipeline on the local profile, for real: `triton-deck demo` end to end, resuming
after a kill at each step, failures named by step, and `deploy --plan`."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.backends import open_services
from services.cancel import CancelToken
from services.config import local_profile
from services.jobs.local import LocalJobPlatform
from services.jobs.protocol import JobState
from services.pipeline.plan import DeployPlan, Step, demo_plan
from services.pipeline.runner import PipelineRunner
from services.pipeline.state import PipelineStore, StepRecord, StepStatus
from services.storage.local import LocalObjectStore
from services.storage.protocol import BucketRef
from tests.helpers import good_repository
from tui.cli import main

RAN = {Step.VALIDATE, Step.UPLOAD, Step.SERVE, Step.READY, Step.CLASSIFY}
COFFEE_TOP3 = ["    10.768552 (967) = espresso", "    7.385727 (968) = tea cup", "    6.528270 (504) = coffee mug"]


def cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), env={}, out=out), out.getvalue()


def server_jobs() -> list[str]:
    return [job.id for job in LocalJobPlatform().list() if job.spec.name == "triton-deck-deploy"]


def test_demo_runs_the_tutorial_end_to_end_and_cleans_up(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = cli("demo", "--client-job")
    err = capsys.readouterr().err
    assert code == 0, err
    lines = out.splitlines()
    assert [line[:26] for line in lines[:8]] == [
        "[ok] validate repository  ", "[ok] upload to bucket     ", "[--] build image          ", "[--] push image           ",
        "[ok] run server job       ", "[ok] wait until ready     ", "[ok] classify the images  ", "[ok] client job           ",
    ]  # fmt: skip
    assert "6 sent, 0 unchanged, to my-models@LOCAL" in lines[1] and "no image to build" in lines[2]
    coffee = lines.index(f"Image '{Path(__file__).resolve().parent.parent / 'demo' / 'samples' / 'coffee.png'}':")
    assert lines[coffee + 1 : coffee + 4] == COFFEE_TOP3
    assert LocalJobPlatform().list() == [] and err.count("deleted job") == 2
    assert not PipelineStore("local").path.exists(), "a finished demo leaves no progress to resume"


def test_demo_as_a_two_replica_app_answers_the_same_and_cleans_up(capsys: pytest.CaptureFixture[str]) -> None:
    """`demo --app`: the tutorial's question answered on the local profile, replicas and all."""
    from services.apps.local import LocalAppPlatform

    code, out = cli("demo", "--app", "--keep")
    err = capsys.readouterr().err
    assert code == 0, err
    lines = out.splitlines()
    assert lines[4].startswith("[ok] run server job") and "RUNNING 2/2 replicas at http://127.0.0.1:" in lines[4], lines[4]
    coffee = lines.index(f"Image '{Path(__file__).resolve().parent.parent / 'demo' / 'samples' / 'coffee.png'}':")
    assert lines[coffee + 1 : coffee + 4] == COFFEE_TOP3
    (app,) = LocalAppPlatform().list()
    assert app.available_replicas == 2 and app.spec.probe is not None and app.spec.probe.path == "/v2/health/ready"
    assert LocalJobPlatform().list() == [], "no job: the app served"
    code, out = cli("demo", "--app", "--fresh")  # starting over stops the app the last run left up, then cleans up
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"stopped app {app.id}" in err and "deleted app" in err
    assert [(left.id, left.state.value) for left in LocalAppPlatform().list()] == [(app.id, "STOPPED")], "stopped, as a job is: kept, not running"
    LocalAppPlatform().delete(app.id)


@pytest.mark.parametrize("killed_at", sorted(RAN, key=list(Step).index))
def test_a_run_killed_at_any_step_resumes_without_redoing_finished_ones(killed_at: Step) -> None:
    services = open_services(local_profile(), {})
    plan = demo_plan(local_profile())
    seen: list[tuple[Step, StepRecord]] = []

    def killing(step: Step, record: StepRecord) -> None:
        """As abrupt as a kill: the state on disk is what the last change saved. An upload dies
        with 3 of its 6 files sent, a job step once its job exists, the others as they start."""
        seen.append((step, record))
        if step is not killed_at or record.status is not StepStatus.RUNNING:
            return
        if step is Step.UPLOAD:
            if record.detail[0].isdigit() and int(record.detail.split("/")[0]) >= 3:
                raise KeyboardInterrupt
        elif step not in (Step.SERVE, Step.READY) or record.detail != "starting…":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        PipelineRunner(services, PipelineStore("local"), killing, CancelToken(), poll_s=0.1).run(plan)
    saved = PipelineStore("local").load()
    assert saved is not None and saved.steps[killed_at].status is StepStatus.RUNNING
    jobs_before = server_jobs()

    resumed: list[tuple[Step, StepRecord]] = []
    state = PipelineRunner(services, PipelineStore("local"), lambda step, record: resumed.append((step, record)), CancelToken(), poll_s=0.1).run(plan)
    try:
        assert state.finished, {step: record.detail for step, record in state.steps.items()}
        reported = {step: record.detail for step, record in resumed if record.status is StepStatus.DONE}
        order = list(Step)
        for step in RAN:
            from_last_run = reported[step].endswith("(from the last run)")
            assert from_last_run == (order.index(step) < order.index(killed_at)), (step, reported[step])
        if killed_at is Step.UPLOAD:  # killed mid-upload: the rerun sends only what is missing
            sent, unchanged = (int(part.split()[0]) for part in reported[Step.UPLOAD].split(",")[:2])
            assert sent + unchanged == 6 and unchanged >= 1, reported[Step.UPLOAD]
        if killed_at in (Step.READY, Step.CLASSIFY):
            assert server_jobs() == jobs_before, "the RUNNING server job is reused, not started again"
        assert len([job for job in LocalJobPlatform().list() if job.state is JobState.RUNNING]) == 1
        answers = state.steps[Step.CLASSIFY].result.answers
        assert [a.classes[0][2] for a in answers] == ["Egyptian Mau", "espresso", "drilling rig"]
    finally:
        for job in LocalJobPlatform().list():
            LocalJobPlatform().delete(job.id, force=True)


def test_a_killed_cli_resumes_with_the_same_server_job(tmp_path: Path) -> None:
    """A real SIGKILL of `triton-deck demo` while it waits for readiness; the rerun picks up the job."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "tui.cli", "demo"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    store = PipelineStore("local")
    deadline = time.monotonic() + 90
    while True:
        saved = store.load()
        if saved is not None and saved.steps[Step.SERVE].status is StepStatus.DONE:
            break
        assert process.poll() is None and time.monotonic() < deadline, process.stdout.read() if process.stdout else ""
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    job = saved.steps[Step.SERVE].result.job
    code, out = cli("demo", "--keep")
    try:
        assert code == 0
        assert f"job {job[:8]} RUNNING" in out and "(from the last run)" in out.splitlines()[4]
        assert [j.id for j in LocalJobPlatform().list()] == [job]
    finally:
        LocalJobPlatform().delete(job, force=True)


def test_failures_name_the_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = good_repository(tmp_path)
    (broken / "simple" / "config.pbtxt").write_text("max_batch: 8\n")
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"repository": str(broken), "bucket": "my-models@LOCAL"}))
    assert cli("deploy", "--plan", str(plan))[0] == 1
    assert capsys.readouterr().err.startswith("triton-deck: step 'validate repository' failed: model_repository/simple/config.pbtxt:1:1: error: syntax")
    assert not LocalObjectStore().bucket_exists(BucketRef("my-models", "LOCAL")), "nothing uploaded after a failed validation"

    plan.write_text(json.dumps({"repository": str(Path(__file__).resolve().parent.parent / "demo" / "model_repository"), "bucket": "my-models@LOCAL", "model": "densenet_onnx"}))
    code, out = cli("deploy", "--plan", str(plan))
    try:
        assert code == 1
        assert capsys.readouterr().err.strip() == (
            "triton-deck: step 'wait until ready' failed: model 'densenet_onnx' is not in the served repository (it has: efficientnet_lite0, simple): fix the plan's model"
        )
    finally:
        for job in LocalJobPlatform().list():
            LocalJobPlatform().delete(job.id, force=True)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "is not valid JSON"),
        ('{"repository": "x"}', "field 'bucket' is required"),
        ('{"repository": "x", "bucket": "b@LOCAL", "gpus": 1}', "unknown field 'gpus'"),
        ('{"repository": "x", "bucket": "b@LOCAL", "top_k": "3"}', "field 'topK' must be int, not str"),
        ('{"repository": "x", "bucket": "b"}', "bucket 'b' needs a region"),
        ('{"repository": "/nonexistent", "bucket": "b@LOCAL"}', "repository /nonexistent is not a directory"),
    ],
)
def test_a_bad_plan_is_one_line_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(content)
    assert cli("deploy", "--plan", str(plan))[0] == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_deploy_example_prints_a_plan_that_reads_back() -> None:
    code, out = cli("deploy", "--example")
    assert code == 0 and DeployPlan.from_json(json.loads(out)) == demo_plan(local_profile())


def test_a_repository_without_an_image_classifier_ends_green_with_one_inference(tmp_path: Path) -> None:
    """A user's own repository: its last step is one inference with the model's own shapes."""
    import shutil

    repository = tmp_path / "mine"
    shutil.copytree(Path(__file__).resolve().parent.parent / "demo" / "model_repository" / "simple", repository / "simple", ignore=shutil.ignore_patterns("__pycache__"))
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"repository": str(repository), "bucket": "mine@LOCAL", "model": "simple", "gpu": 0}))
    try:
        code, out = cli("deploy", "--plan", str(plan))
        assert code == 0, out
        lines = out.splitlines()
        assert [line[:4] for line in lines[:7]] == ["[ok]", "[ok]", "[--]", "[--]", "[ok]", "[ok]", "[ok]"], out
        assert lines[6].startswith("[ok] one inference with the model's own shapes")
        assert lines[6].endswith("simple answered in " + lines[6].split("answered in ")[1].split(" ms")[0] + " ms: OUTPUT0 INT32 [1, 16], OUTPUT1 INT32 [1, 16]")
    finally:
        for job in LocalJobPlatform().list():
            LocalJobPlatform().delete(job.id, force=True)
