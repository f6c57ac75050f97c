"""The tutorial's inference steps on the local profile, as a new user runs them: a server job
serving the demo repository answers `health`, `classify` prints image_client's format, and
the classifier runs as a client job whose log holds the answer."""

from __future__ import annotations

import io
import time

import pytest

from services.cancel import CancelToken
from services.jobs.local import LocalJobPlatform
from services.jobs.protocol import JobSpec, JobState, VolumeSpec
from services.storage.local import LocalObjectStore
from services.storage.planning import plan_upload
from services.storage.protocol import BucketRef, UploadOptions
from tests.test_local_jobs import DEMO_REPOSITORY, tutorial_spec, wait_for
from tui.cli import main

SAMPLES = DEMO_REPOSITORY.parent / "samples"
COFFEE_TOP3 = ["    10.768552 (967) = espresso", "    7.385727 (968) = tea cup", "    6.528270 (504) = coffee mug"]


def cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), env={}, out=out), out.getvalue()


def upload(store: LocalObjectStore, bucket: BucketRef, source: str) -> None:
    store.create_bucket(bucket)
    assert store.upload(bucket, plan_upload([source], source), UploadOptions(), lambda _p: None, CancelToken()).ok


def test_a_server_job_answers_health_classify_and_a_client_job(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(DEMO_REPOSITORY.parent)
    store = LocalObjectStore()
    upload(store, BucketRef("my-models", "LOCAL"), "model_repository/")
    upload(store, BucketRef("my-images", "LOCAL"), "samples/")
    platform = LocalJobPlatform()
    server = platform.run(tutorial_spec())
    try:
        assert wait_for(platform, server.id, {JobState.RUNNING, JobState.FAILED}) is JobState.RUNNING
        deadline = time.monotonic() + 90
        while (answer := cli("health"))[0] != 0:  # RUNNING comes before Triton is ready, as on AI Training
            assert time.monotonic() < deadline, capsys.readouterr().err
            time.sleep(0.5)
        url = platform.get(server.id).url
        assert answer[1].startswith(f"endpoint    {url} (job {server.id})\nlive        yes\nready       yes")
        assert "efficientnet_lite0  1        READY" in answer[1]

        code, out = cli("classify", "-m", "efficientnet_lite0", "-c", "3", "-s", "INCEPTION", "--job", server.id, "samples/coffee.png")
        assert (code, out.splitlines()) == (0, ["Request 0, batch size 1", "Image 'samples/coffee.png':", *COFFEE_TOP3])

        assert url is not None
        client = platform.run(JobSpec(
            image="local/tritonserver-sdk", cpu=1, gpu=0,
            command=("triton-deck", "classify", "-u", url, "-m", "efficientnet_lite0", "-c", "3", "-s", "INCEPTION", "/workspace/images/coffee.png"),
            volumes=(VolumeSpec("my-images", "LOCAL", "/workspace/images", "RO"),),
        ))  # fmt: skip
        assert wait_for(platform, client.id, {JobState.DONE, JobState.FAILED}) is JobState.DONE, platform.logs(client.id)
        code, logs = cli("job", "logs", client.id, "--from", "job")
        lines = [line.split("[job] ", 1)[1] for line in logs.splitlines()]
        assert lines[0] == "Request 0, batch size 1" and lines[1].endswith("/workspace/images/coffee.png':") and lines[2:] == COFFEE_TOP3
        platform.delete(client.id)
    finally:
        platform.delete(server.id, force=True)
