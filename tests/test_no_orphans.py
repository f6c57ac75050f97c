"""A job triton-deck started is never forgotten: starting over stops it (asked first in the TUI),
and `demo` deletes only what it started itself."""

from __future__ import annotations

import io

import pytest

from services.backends import open_services
from services.cancel import CancelToken
from services.config import local_profile
from services.errors import UserError
from services.fake_set import fake_services
from services.jobs.fake import FakeJobPlatform
from services.jobs.local import LocalJobPlatform
from services.jobs.protocol import JobState
from services.pipeline.plan import Step, demo_plan
from services.pipeline.runner import PipelineRunner
from services.pipeline.state import PipelineStore
from tests.conftest import settle
from tests.helpers import TickingPlatform, deploy_app, open_and_run
from tui.cli import main
from tui.screens.confirm import ConfirmScreen
from tui.screens.deploy import DeployScreen


def quiet_runner(services: object, store: PipelineStore) -> PipelineRunner:
    return PipelineRunner(services, store, lambda _step, _record: None, CancelToken(), poll_s=0)  # type: ignore[arg-type]


def test_starting_over_stops_or_refuses_never_forgets() -> None:
    services = fake_services(local_profile())
    assert isinstance(services.job_platform, FakeJobPlatform)
    platform = services.job_platform = TickingPlatform(services.job_platform)
    store, plan = PipelineStore("local"), demo_plan(local_profile())
    first = quiet_runner(services, store).run(plan)
    assert first.failed_step is None
    server = str(first.steps[Step.SERVE].result.job)
    assert platform.get(server).state is JobState.RUNNING
    with pytest.raises(UserError, match=rf"the last run's job {server[:8]} \(RUNNING\) is still going: stop it first"):
        quiet_runner(services, store).run(plan, resume=False)
    assert platform.get(server).state is JobState.RUNNING, "refused: nothing changed"
    again = quiet_runner(services, store)
    fresh = again.run(plan, resume=False, stop_leftovers=True)
    assert [job.id for job in again.stopped] == [server]
    assert platform.get(server).state in (JobState.INTERRUPTING, JobState.FINALIZING, JobState.INTERRUPTED)
    assert fresh.failed_step is None and fresh.steps[Step.SERVE].result.job != server


async def test_start_over_on_the_deploy_screen_asks_before_stopping_the_last_job() -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_and_run(pilot)
        server = str(PipelineStore("local").load().steps[Step.SERVE].result.job)  # type: ignore[union-attr]
        platform = app.services.job_platform
        assert platform is not None and platform.get(server).state is JobState.RUNNING
        await pilot.press("f")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, DeployScreen) and platform.get(server).state is JobState.RUNNING
        assert PipelineStore("local").load().steps[Step.SERVE].result.job == server  # type: ignore[union-attr]
        await pilot.press("f")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert platform.get(server).state is not JobState.RUNNING
        assert PipelineStore("local").load().steps[Step.SERVE].result.job != server  # type: ignore[union-attr]


def test_demo_keeps_the_server_job_another_front_end_started(capsys: pytest.CaptureFixture[str]) -> None:
    """The TUI started the server job; a `demo` in another shell resumes with it and leaves it be."""
    services = open_services(local_profile(), {})
    store, plan = PipelineStore("local"), demo_plan(local_profile())
    tui_run = PipelineRunner(services, store, lambda _step, _record: None, CancelToken())
    partial = tui_run.run(plan)
    server = str(partial.steps[Step.SERVE].result.job)
    try:
        code = main(["demo"], env={}, out=io.StringIO())
        err = capsys.readouterr().err
        assert code == 0, err
        assert f"kept job {server}: an earlier run started it" in err
        assert LocalJobPlatform().get(server).state is JobState.RUNNING
    finally:
        for job in LocalJobPlatform().list():
            LocalJobPlatform().delete(job.id, force=True)
