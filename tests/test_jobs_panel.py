"""The jobs panel: the run form, and the whole lifecycle live against the fake AI Training API."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from services.jobs.ai_training import AITrainingPlatform
from services.jobs.protocol import JobState, is_marker
from services.secrets import Secret
from tests.conftest import fake_app
from tests.fake_ai_api import TOKEN, FakeAITrainingAPI
from tests.helpers import TUTORIAL_SPEC, ovh_deck, wait_until
from tui.app import TritonDeck
from tui.screens.job_detail import JobDetailScreen
from tui.screens.job_logs import JobLogScreen
from tui.screens.job_run import JobRunScreen
from widgets.check_box import CheckBox
from widgets.log_pane import LogPane
from widgets.resource_table import ResourceTable


async def open_run_form(pilot: Pilot[None]) -> JobRunScreen:
    """The Jobs panel (3), then its run form (n)."""
    await pilot.press("3")
    await pilot.app.workers.wait_for_complete()
    await pilot.press("n")
    await pilot.pause()
    form = pilot.app.screen
    assert isinstance(form, JobRunScreen)
    return form


async def test_the_job_detail_keeps_the_panels_keys_for_its_job() -> None:
    from tui.screens.confirm import ConfirmScreen

    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await app.workers.wait_for_complete()
        await pilot.press("j", "enter")  # the running server's detail
        await pilot.pause()
        assert isinstance(app.screen, JobDetailScreen)
        await pilot.press("s")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and "00000003" in str(app.screen.query_one("#confirm-question").render())
        await pilot.press("n")
        await pilot.pause()
        await pilot.press("enter", "l")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, JobLogScreen) and app.screen.followed.id.startswith("00000003")


async def test_run_form_prefills_the_tutorial_and_checks_every_field() -> None:
    app = fake_app()
    platform = app.services.job_platform
    assert platform is not None
    before = len(platform.list())
    async with app.run_test(size=(120, 40)) as pilot:
        form = await open_run_form(pilot)
        value = {key: form.query_one(f"#run-{key}", Input).value for key, _label in JobRunScreen.fields}
        assert value["port"] == "8000" and value["gpu"] == "1" and value["command"] == "tritonserver --model-repository=/workspace/models"
        assert value["volume"] == "my-models@LOCAL:/workspace/models:RO"
        assert form.query_one("#run-warning").display, "unsecure-http is on: the warning shows"
        assert "ovhai job run --name triton-server --gpu 1 --default-http-port 8000 --unsecure-http" in str(form.query_one("#run-preview").render())
        form.query_one("#run-gpu", Input).value = "9"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, JobRunScreen) and "--gpu 9: a job takes 1 to 4 GPUs" in str(form.query_one("#run-error").render())
        assert app.screen.focused is form.query_one("#run-gpu")
        form.query_one("#run-gpu", Input).value = "1"
        form.query_one("#run-volume", Input).value = "no-alias:/x"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "must be container@ALIAS" in str(form.query_one("#run-error").render())
        form.query_one("#run-volume", Input).value = "my-models@LOCAL:/workspace/models:RO"
        form.query_one("#run-grpc", CheckBox).value = True
        await pilot.pause()
        assert form.query_one("#run-port", Input).value == "8001"
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not isinstance(app.screen, JobRunScreen)
        selected = app.query_one("#jobs-table", ResourceTable).selected_key
        assert selected is not None and platform.get(selected).spec.default_http_port == 8001, "the cursor follows the job just started"
    jobs = platform.list()
    assert len(jobs) == before + 1
    new = next(job for job in jobs if job.spec.name == "triton-server" and job.spec.default_http_port == 8001)
    assert new.spec.unsecure_http and new.spec.gpu == 1 and str(new.spec.volumes[0]) == "my-models@LOCAL:/workspace/models:RO"


def ovh_app(api: FakeAITrainingAPI) -> TritonDeck:
    return ovh_deck(api, lambda built: setattr(built, "job_platform", AITrainingPlatform(api.base_url, lambda: Secret(TOKEN), "env OVHAI_TOKEN", region="GRA")))


def table_state(app: TritonDeck) -> list[str]:
    table = app.query_one("#jobs-table", ResourceTable)
    return [str(table.get_row_at(row)[3]) for row in range(table.row_count)]


async def test_the_panel_follows_a_job_starting_running_and_stopping_live(api: FakeAITrainingAPI) -> None:
    app = ovh_app(api)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, JobRunScreen)
        assert app.screen.query_one("#run-volume", Input).value == "my-models@GRA:/workspace/models:RO"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: table_state(app) == ["QUEUED"])
        (job_id,) = api.jobs
        assert api.jobs[job_id].document["spec"]["defaultHttpPort"] == 8000
        for state in ("INITIALIZING", "PENDING", "RUNNING"):
            api.advance(job_id)
            await wait_until(pilot, lambda state=state: table_state(app) == [state])
        api.emit(job_id, ["Started HTTPService at 0.0.0.0:8000"])
        await pilot.press("l")
        assert isinstance(app.screen, JobLogScreen)
        pane = app.screen.query_one(LogPane)
        await wait_until(pilot, lambda: pane.received == 1)
        api.drop_plan = [0]  # the next connection is cut: the view resumes and says so
        api.emit(job_id, ["second line"])
        await pilot.press("escape")
        await pilot.press("enter")
        assert isinstance(app.screen, JobDetailScreen)
        await pilot.press("c")
        await pilot.press("escape", "s", "y")
        await wait_until(pilot, lambda: table_state(app) == ["INTERRUPTING"])
        api.advance(job_id)
        api.advance(job_id)
        await wait_until(pilot, lambda: table_state(app) == ["INTERRUPTED"])
        await pilot.press("ctrl+d", "y")
        await wait_until(pilot, lambda: not api.jobs)


async def test_the_log_view_resumes_after_a_drop_with_a_marker(api: FakeAITrainingAPI) -> None:
    app = ovh_app(api)
    platform = AITrainingPlatform(api.base_url, lambda: Secret(TOKEN), "env OVHAI_TOKEN")
    job = platform.run(TUTORIAL_SPEC)
    for _ in range(3):
        api.advance(job.id)
    api.emit(job.id, [f"early {n}" for n in range(30)])
    api.drop_plan = [5]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await wait_until(pilot, lambda: table_state(app) == ["RUNNING"])
        await pilot.press("l")
        pane = app.screen.query_one(LogPane)
        await wait_until(pilot, lambda: pane.received == 30)
        api.emit(job.id, [f"late {n}" for n in range(30)])
        await wait_until(pilot, lambda: pane.received == 60)
        api.finish(job.id)
        await wait_until(pilot, lambda: pane.view.rows.line(pane.view.rows.count - 1) == ("stream ended", True))
        rows = pane.view.rows
        shown = [rows.line(row) for row in range(rows.count)]
        lines = [text for text, marker in shown if not marker]
        assert lines == api.jobs[job.id].lines, "0 lost, 0 repeated"
        assert ("reconnected", True) in shown and shown[-1] == ("stream ended", True)
        assert api.drops == 1 and JobState.DONE.value == api.jobs[job.id].state
        assert not any(is_marker(line) for line in lines)


async def test_a_refused_field_is_marked_and_its_error_scrolled_into_view_at_80x24() -> None:
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_run_form(pilot)
        form.query_one("#run-gpu", Input).value = "9"
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.pause()
        gpu, error = form.query_one("#run-gpu", Input), form.query_one("#run-error")
        assert gpu.has_class("-invalid") and app.focused is gpu
        assert not any(field.has_class("-invalid") for field in form.query(Input) if field is not gpu)
        screen_region = form.region
        assert error.region.height and screen_region.contains_region(error.region), "the message is on screen"
        form.query_one("#run-gpu", Input).value = "1"
        form.query_one("#run-port", Input).value = "0"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert form.query_one("#run-port", Input).has_class("-invalid") and not gpu.has_class("-invalid"), "the mark moves with the error"


async def test_a_stop_says_stopping_at_once() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await pilot.app.workers.wait_for_complete()
        await pilot.press("j", "s", "y")  # the RUNNING server job
        assert any("stopping job" in str(note.message) for note in app._notifications), "before the platform answers"


async def test_a_checkbox_says_its_state_in_its_glyph_not_only_its_colour() -> None:
    from textual.app import App, ComposeResult

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield CheckBox("--unsecure-http", False)

    app = One()
    async with app.run_test() as pilot:
        box = app.query_one(CheckBox)
        assert "▐ ▌" in str(box.render()) and box.BUTTON_INNER == " "
        await pilot.click(CheckBox)
        assert box.value and "▐X▌" in str(box.render())


async def test_a_job_asked_to_stop_says_stopping_until_its_state_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    """AI Training may list a stopped job as RUNNING for seconds: the row says `stopping…` meanwhile."""
    from services.jobs.fake import FakeJobPlatform
    from tests.conftest import settle
    from widgets.resource_table import ResourceTable

    real_stop = FakeJobPlatform.stop
    monkeypatch.setattr(FakeJobPlatform, "stop", lambda self, job_id: None)  # the platform has not moved yet
    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("j", "s", "y")
        await settle(pilot)
        table = app.query_one("#jobs-table", ResourceTable)
        key = table.selected_key
        assert key is not None
        state = str(table.get_cell(key, table.ordered_columns[3].key))
        assert state == "RUNNING stopping…", state
        real_stop(app.services.job_platform, key)  # type: ignore[arg-type]
        await pilot.press("r")
        await settle(pilot)
        assert str(table.get_cell(key, table.ordered_columns[3].key)) == "INTERRUPTING", "the cue goes once the state moves"
