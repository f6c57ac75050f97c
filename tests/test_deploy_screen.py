"""The deploy screen: driven by Pilot on fakes through success and each failure, the plan form,
leaving and resuming, and once on the real local profile to top-3 results on screen."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from services.backends import ServiceSet, open_services
from services.config import Config, Profile
from services.fake_set import fake_services
from services.images.fake import FakeImageBuilder
from services.images.protocol import BuildFailed, BuildStep
from services.pipeline.plan import STEP_TITLES, Step, demo_plan
from services.pipeline.state import PipelineState, PipelineStore, StepStatus
from tests.conftest import SNAPSHOT_NOW, deck_config, plain_text, settle
from tests.helpers import FullBucketStore, deploy_app, good_repository, open_and_run
from tui.app import make_app
from tui.screens.deploy import DeployScreen
from tui.settings import AppSettings
from widgets.step_view import StepView


def step_text(pilot: Pilot[None], step: Step) -> str:
    return plain_text(pilot.app.screen.query_one(f"#step-{step.value}", StepView))


def status_text(pilot: Pilot[None]) -> str:
    return plain_text(pilot.app.screen.query_one("#deploy-status", Static)).strip()


async def test_a_run_on_fakes_reaches_the_top3() -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_and_run(pilot)
        assert status_text(pilot).startswith("done: every step finished")
        assert step_text(pilot, Step.VALIDATE).startswith("✓ validate repository")
        assert "6 sent, 0 unchanged, to my-models@LOCAL" in step_text(pilot, Step.UPLOAD)
        assert "no image to build" in step_text(pilot, Step.BUILD) and step_text(pilot, Step.BUILD).startswith("–")
        assert "RUNNING at https://" in step_text(pilot, Step.SERVE)
        classify = step_text(pilot, Step.CLASSIFY)
        assert "2 answered, 1 failed" in classify and "espresso" in classify and "Egyptian Mau" in classify
        saved = PipelineStore("local").load()
        assert saved is not None and saved.finished


@pytest.mark.parametrize(
    ("change", "fail_runs", "failed_at", "reason"),
    [
        ("repository", False, Step.VALIDATE, "error"),
        ("bucket", False, Step.UPLOAD, "6 file(s) did not upload, first efficientnet_lite0/1/model.onnx: QuotaExceeded: the container is full"),
        (None, True, Step.SERVE, "is FAILED: Job failed: image pull back-off"),
        ("model", False, Step.READY, "model 'nope' is not in the served repository"),
        ("images", False, Step.CLASSIFY, "no images in"),
    ],
)
async def test_each_failure_stops_at_its_step_with_the_reason(tmp_path: Path, change: str | None, fail_runs: bool, failed_at: Step, reason: str) -> None:
    plan = demo_plan(Profile(name="local"))
    if change == "repository":
        broken = good_repository(tmp_path)
        (broken / "simple" / "config.pbtxt").write_text("max_batch: 8\n")
        plan = plan.with_changes(repository=str(broken))
    elif change == "model":
        plan = plan.with_changes(model="nope")
    elif change == "images":
        (tmp_path / "empty").mkdir()
        plan = plan.with_changes(images=str(tmp_path / "empty"))
    PipelineStore("local").save(PipelineState(plan))
    app = deploy_app(fail_runs, full_bucket=change == "bucket")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_and_run(pilot)
        text = step_text(pilot, failed_at)
        assert text.startswith("✗") and reason in text, text
        assert status_text(pilot).startswith(f"failed at {STEP_TITLES[failed_at]}: ")
        later = list(Step)[list(Step).index(failed_at) + 1 :]
        assert all(step_text(pilot, step)[0] in "○–" for step in later), "nothing after the failure ran"


async def test_the_plan_form_checks_fields_and_keeps_a_good_plan() -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("0")
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#plan-top_k", Input).value = "many"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen.query_one("#plan-top_k", Input).has_focus, "the bad field is focused, the form stays"
        app.screen.query_one("#plan-top_k", Input).value = "1"
        app.screen.query_one("#plan-bucket", Input).value = "other-models@LOCAL"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, DeployScreen)
        saved = PipelineStore("local").load()
        assert saved is not None and (saved.plan.top_k, saved.plan.bucket) == (1, "other-models@LOCAL")
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "to other-models@LOCAL" in step_text(pilot, Step.UPLOAD)
        assert step_text(pilot, Step.CLASSIFY).count("(967)") == 1 and "(968)" not in step_text(pilot, Step.CLASSIFY)


async def test_enter_on_a_step_opens_its_panel_and_a_saved_run_is_offered_to_resume() -> None:
    state = PipelineState(demo_plan(Profile(name="local")))
    state.steps[Step.VALIDATE].status = StepStatus.DONE
    state.steps[Step.UPLOAD].status = StepStatus.RUNNING
    PipelineStore("local").save(state)
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("0")
        await pilot.pause()
        assert status_text(pilot).startswith("a saved run: r resumes it")
        await pilot.press("down", "down", "down", "down", "enter")  # the run server job step
        await pilot.pause()
        assert not isinstance(app.screen, DeployScreen) and app.active_panel == "jobs"


async def test_the_real_local_profile_runs_the_demo_to_top3_on_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    app = make_app("local", Config(), open_services, AppSettings(poll=False), env={})
    async with app.run_test(size=(120, 40)) as pilot:
        await open_and_run(pilot)
        try:
            assert status_text(pilot).startswith("done"), status_text(pilot)
            classify = step_text(pilot, Step.CLASSIFY)
            assert "3 answered, 0 failed" in classify
            for expected in ("10.768552", "(967)", "espresso", "Egyptian Mau", "drilling rig"):
                assert expected in classify
        finally:
            saved = PipelineStore("local").load()
            assert saved is not None
            platform = app.services.job_platform
            assert platform is not None
            platform.delete(str(saved.steps[Step.SERVE].result.job), force=True)


class FailingBuilder(FakeImageBuilder):
    def build(self, context, tag, platform, dockerfile, cancel):  # type: ignore[no-untyped-def]
        yield BuildStep(1, 5, "FROM nvcr.io/nvidia/tritonserver:23.03-py3")
        yield BuildFailed("pull access denied for nvcr.io/nvidia/tritonserver: unauthorized", 1)


async def test_on_an_ovhcloud_profile_a_failed_build_stops_before_the_push() -> None:
    def services(profile: Profile) -> ServiceSet:
        base = fake_services(profile)
        base.image_builder = FailingBuilder()
        return base

    plan = demo_plan(Profile(name="gra", region="GRA")).with_changes(build_image=True, server_image="registry.gra.ai.cloud.ovh.net/0123456789abcdef/tritonserver:23.03-py3")
    PipelineStore("gra").save(PipelineState(plan))
    app = make_app("gra", deck_config(), services, AppSettings(now=lambda: SNAPSHOT_NOW, poll=False), env={})
    async with app.run_test(size=(120, 40)) as pilot:
        await open_and_run(pilot)
        assert step_text(pilot, Step.BUILD).startswith("✗ build image")
        assert "step 1 failed: pull access denied for nvcr.io/nvidia/tritonserver: unauthorized" in step_text(pilot, Step.BUILD)
        assert step_text(pilot, Step.PUSH).startswith("○") and step_text(pilot, Step.UPLOAD).startswith("✓")
        assert status_text(pilot).startswith("failed at build image: ")


async def test_start_over_asks_before_it_throws_away_the_steps_already_run() -> None:
    from tui.screens.confirm import ConfirmScreen

    app = deploy_app(full_bucket=True)  # validate done, upload failed: no job to stop, still work to lose
    async with app.run_test(size=(120, 40)) as pilot:
        await open_and_run(pilot)
        assert status_text(pilot).startswith("failed at upload")
        await pilot.press("f")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert plain_text(app.screen.query_one("#confirm-question", Static)).strip() == "Start over? The 2 steps already run will run again."
        await pilot.press("n")
        await settle(pilot)
        store = app.services.object_store
        assert isinstance(store, FullBucketStore) and store.uploads == 1
        assert isinstance(app.screen, DeployScreen) and step_text(pilot, Step.VALIDATE).startswith("✓"), "kept, nothing ran"
        await pilot.press("f")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert store.uploads == 2 and status_text(pilot).startswith("failed at upload"), "ran again from the start"


async def test_commands_show_whole_and_y_copies_the_highlighted_one() -> None:
    """At 80 columns the `ovhai job run` line wraps under itself instead of ending in `…`."""
    from services.pipeline.commands import equivalent_command
    from tests.conftest import fake_app
    from widgets.step_view import StepView

    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("0")
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        import io

        from rich.console import Console

        serve = app.screen.query_one("#step-serve", StepView)
        console = Console(width=serve.content_region.width, record=True, file=io.StringIO())  # as wide as on screen
        console.print(serve.content)
        rendered = console.export_text()
        command = equivalent_command(demo_plan(app.services.profile), Step.SERVE, app.services.backend)
        assert command in " ".join(rendered.replace("$ ", "").split()) and "…" not in rendered
        serve.focus()
        await pilot.press("y")
        await settle(pilot)
        assert app.clipboard == command
