"""The tutorial's inference steps on the local profile, as a new user runs them: a server job
serving the demo repository answers `health`, `classify` prints image_client's format, and
the classifier runs as a client job whose log holds the answer."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from services.backends import open_services
from services.cancel import CancelToken
from services.config import Config
from services.jobs.local import LocalJobPlatform
from services.jobs.protocol import JobSpec, JobState, VolumeSpec
from services.storage.local import LocalObjectStore
from services.storage.planning import plan_upload
from services.storage.protocol import BucketRef, UploadOptions
from tests.conftest import plain_text
from tests.helpers import DEMO_REPOSITORY, tutorial_spec, wait_for
from tui.app import make_app
from tui.cli import main
from tui.settings import AppSettings
from widgets.classification_card import ClassificationCard

SAMPLES = DEMO_REPOSITORY.parent / "samples"
COFFEE_TOP3 = ["    10.768552 (967) = espresso", "    7.385727 (968) = tea cup", "    6.528270 (504) = coffee mug"]


def cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), env={}, out=out), out.getvalue()


async def the_pane_shows_the_coffee_top3(photo: Path) -> None:
    """The app on the real local profile: the pane finds the job, reads the model, classifies."""
    app = make_app("local", Config(), open_services, AppSettings(poll=False), env={})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("o")
        await pilot.pause()
        app.screen.query_one("#pick-path", Input).value = str(photo)
        app.screen.query_one("#pick-path", Input).focus()
        await pilot.press("enter", "c")
        await app.workers.wait_for_complete()
        await pilot.pause()
        (card,) = app.query(ClassificationCard)
        assert card.query(".thumbnail"), "the photo's thumbnail is drawn"
        answer = plain_text(card.query_one(".answer", Static))
        assert "coffee.png" in answer
        for line in COFFEE_TOP3:  # "    10.768552 (967) = espresso" → "10.768552 (967) espresso" on the card
            assert line.strip().replace(" = ", " ") in answer, answer


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
        asyncio.run(the_pane_shows_the_coffee_top3(SAMPLES / "coffee.png"))
    finally:
        platform.delete(server.id, force=True)
