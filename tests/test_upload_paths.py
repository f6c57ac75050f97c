"""Uploads keep the repository's shape from any source path, through every front end.

The CLI, the upload dialog and Deploy all go through `services.usecases.uploads`; each is
driven here for real (a directory bucket, the CLI's `main`, a Pilot, the pipeline runner)
with absolute, relative, `~` and `./` sources, and must store the same keys.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from textual.widgets import Input

from services.cancel import CancelToken
from services.config import local_profile
from services.errors import UserError
from services.fake_set import fake_services
from services.pipeline.plan import DeployPlan, Step
from services.pipeline.runner import PipelineRunner
from services.pipeline.state import PipelineStore
from services.storage.listing import iter_objects
from services.storage.local import LocalObjectStore
from services.storage.protocol import BucketRef
from services.usecases.uploads import MissingBucket, UploadRequest, plan_bucket_upload
from tests.conftest import settle
from tests.helpers import good_repository, local_store_app, open_upload
from tui.cli import main

KEYS = [
    "densenet_onnx/1/model.onnx",
    "densenet_onnx/config.pbtxt",
    "densenet_onnx/densenet_labels.txt",
    "simple/1/model.py",
    "simple/config.pbtxt",
]
BUCKET = BucketRef("my-models", "LOCAL")


@pytest.fixture
def home_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The repository at ~/work/model_repository, the shell in ~/work."""
    home = tmp_path / "home"
    work = home / "work"
    work.mkdir(parents=True)
    good_repository(work)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TRITON_DECK_HOME", str(tmp_path / "deck"))
    monkeypatch.chdir(work)
    return work / "model_repository"


def typed_sources(repository: Path) -> list[str]:
    absolute = str(repository)
    return [absolute + "/", absolute, "model_repository/", "model_repository", "./model_repository/", "~/work/model_repository/", "~/work/model_repository"]


def keys(store: LocalObjectStore, bucket: BucketRef = BUCKET) -> list[str]:
    return [info.key for info in iter_objects(store, bucket)]


@pytest.mark.parametrize("index", range(7))
def test_the_cli_stores_the_same_keys_from_every_form_of_path(home_repository: Path, index: int) -> None:
    source = typed_sources(home_repository)[index]
    env = {"HOME": str(home_repository.parent.parent)}
    argv = ["bucket", "object", "upload", "--create", "my-models@LOCAL", source, "--remove-prefix", source]
    assert main(argv, env=env, out=io.StringIO()) == 0
    assert keys(LocalObjectStore()) == KEYS


def test_a_remove_prefix_that_matches_nothing_is_refused_before_anything_is_sent(home_repository: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = LocalObjectStore()
    store.create_bucket(BUCKET)
    argv = ["bucket", "object", "upload", "my-models@LOCAL", "model_repository/", "--remove-prefix", "model_repo/x/"]
    assert main(argv, env={}, out=io.StringIO()) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("triton-deck: --remove-prefix model_repo/x/ matches none of the files under model_repository/")
    assert keys(store) == []


def test_an_absolute_path_without_its_prefix_removed_is_refused_for_a_repository(home_repository: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = LocalObjectStore()
    store.create_bucket(BUCKET)
    assert main(["bucket", "object", "upload", "my-models@LOCAL", f"{home_repository}/"], env={}, out=io.StringIO()) == 1
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "not at its root, so Triton could not load them" in line and f"--remove-prefix {home_repository}/" in line
    assert keys(store) == []


def test_a_missing_bucket_is_refused_and_created_only_with_create(home_repository: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = LocalObjectStore()
    argv = ["bucket", "object", "upload", "nosuch@LOCAL", "model_repository/", "-r", "model_repository/"]
    assert main(argv, env={}, out=io.StringIO()) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "triton-deck: no bucket nosuch@LOCAL: create it with `triton-deck bucket create nosuch@LOCAL`, or upload with --create"
    )
    assert not store.bucket_exists(BucketRef("nosuch", "LOCAL")), "nothing created"
    out = io.StringIO()
    assert main([*argv, "--create"], env={}, out=out) == 0
    assert "created nosuch@LOCAL" in out.getvalue() and keys(store, BucketRef("nosuch", "LOCAL")) == KEYS


def test_the_use_case_names_the_missing_bucket_as_its_own_error(home_repository: Path) -> None:
    with pytest.raises(MissingBucket):
        plan_bucket_upload(LocalObjectStore(), UploadRequest(BUCKET, ("model_repository/",), "model_repository/"))
    with pytest.raises(UserError, match="no such file or directory"):
        plan_bucket_upload(LocalObjectStore(), UploadRequest(BUCKET, ("elsewhere/",), create_bucket=True))


@pytest.mark.parametrize("index", [0, 1, 2, 4, 5])
async def test_the_dialog_stores_the_same_keys_from_every_form_of_path(home_repository: Path, index: int) -> None:
    source = typed_sources(home_repository)[index]
    app, store = local_store_app(home_repository.parent.parent.parent / "buckets")
    async with app.run_test(size=(100, 34)) as pilot:
        screen = await open_upload(pilot)
        screen.query_one("#upload-source", Input).value = source
        screen.query_one("#upload-remove", Input).value = ""
        screen.query_one("#upload-source", Input).focus()
        await pilot.press("tab")  # leaving the source fills the remove prefix, as for a user
        await settle(pilot)
        assert screen.query_one("#upload-remove", Input).value.rstrip("/") == source.rstrip("/")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "uploaded 5, unchanged 0, failed 0" in str(screen.query_one("#upload-status").render())
    assert keys(store) == KEYS


async def test_the_dialog_offers_to_create_a_missing_bucket(home_repository: Path) -> None:
    app, store = local_store_app(home_repository.parent.parent.parent / "buckets")
    async with app.run_test(size=(100, 34)) as pilot:
        screen = await open_upload(pilot)
        store.delete_bucket(BUCKET)  # gone since the panel listed it (another shell, the console)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "does not exist: ctrl+s again creates it" in str(screen.query_one("#upload-status").render())
        assert not store.bucket_exists(BUCKET)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "uploaded 5" in str(screen.query_one("#upload-status").render())
    assert keys(store) == KEYS


@pytest.mark.parametrize("index", [0, 2, 4, 6])
def test_deploy_stores_the_same_keys_from_every_form_of_path(home_repository: Path, index: int) -> None:
    services = fake_services(local_profile())
    store = LocalObjectStore(home_repository.parent.parent.parent / "buckets")
    services.object_store = store
    plan = DeployPlan(repository=typed_sources(home_repository)[index], bucket="my-models@LOCAL", gpu=1)
    cancel = CancelToken()

    def progress(step: Step, _record: object) -> None:
        if step not in (Step.VALIDATE, Step.UPLOAD):
            cancel.cancel()  # the upload is what is tested: stop once it is done

    PipelineRunner(services, PipelineStore("local"), progress, cancel, poll_s=0).run(plan)
    assert keys(store) == KEYS


def test_a_job_or_app_on_a_missing_ro_bucket_is_refused_at_submit(home_repository: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`nosuch@LOCAL` used to be QUEUED and fail later; a RW bucket may be missing (created at sync)."""
    from services.backends import open_job_platform

    volume = ["--volume", "nosuch@LOCAL:/workspace/models:RO"]
    assert main(["job", "run", *volume, "local/tritonserver", "--", "true"], env={}, out=io.StringIO()) == 1
    assert main(["app", "run", *volume, "local/tritonserver", "--", "true"], env={}, out=io.StringIO()) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-2:] == [
        "triton-deck: --volume nosuch@LOCAL:/workspace/models:RO: no bucket nosuch@LOCAL; create it with "
        "`triton-deck bucket create nosuch@LOCAL` or upload into it with `bucket object upload --create nosuch@LOCAL …`"
    ] * 2
    platform = open_job_platform(local_profile(), {})
    assert platform.list(()) == [], "nothing submitted"
    out = io.StringIO()
    assert main(["job", "run", "--volume", "outputs@LOCAL:/workspace/out:RW", "--cpu", "1", "local/tritonserver", "--", "true"], env={}, out=out) == 0
    job_id = out.getvalue().split()[0]
    assert main(["job", "delete", "--force", job_id], env={}, out=io.StringIO()) == 0
