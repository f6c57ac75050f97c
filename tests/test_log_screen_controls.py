"""The log view's search counter, its only-matching filter, and `t`/`w` kept between visits."""

from __future__ import annotations

from services.config import load_config
from tests.conftest import fake_app
from tests.helpers import open_server_log, wait_until
from tui.screens.job_logs import JobLogScreen
from widgets.log_pane import LogPane


async def test_a_search_counts_its_matches_and_ampersand_shows_only_them() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_server_log(pilot)
        await pilot.press("slash", *"started", "enter")
        await wait_until(pilot, lambda: pane.match)
        assert pane.match == "1/2", "the GRPC and the HTTP service lines"
        await pilot.press("n")
        await wait_until(pilot, lambda: pane.match == "2/2")
        assert pane.match == "2/2"
        await pilot.press("ampersand")
        await pilot.pause()
        rows = pane.view.rows
        assert [rows.line(index)[0].split("] ", 2)[-1] for index in range(rows.count)] == [
            "Started GRPCInferenceService at 0.0.0.0:8001",
            "Started HTTPService at 0.0.0.0:8000",
        ]
        assert "only lines with 'started'" in pane.details
        await pilot.press("escape")  # clears the search and its filter before it leaves
        await pilot.pause()
        assert isinstance(app.screen, JobLogScreen) and pane.view.rows.count == 8 and not pane.match and not pane.details


async def test_ampersand_without_a_search_says_what_to_do() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_server_log(pilot)
        await pilot.press("ampersand")
        await pilot.pause()
        assert pane.view.rows.count == 8
        assert any("search first (/)" in notification.message for notification in app._notifications)


async def test_times_and_wrap_are_kept_for_the_next_log_and_the_next_session() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_server_log(pilot)
        assert pane.view.rows.line(0)[0].startswith("2026-"), "times shown at first"
        await pilot.press("t", "w")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("l")
        await pilot.pause()
        assert isinstance(app.screen, JobLogScreen)
        pane = app.screen.query_one(LogPane)
        await wait_until(pilot, lambda: pane.received == 8)
        assert not pane.view.rows.line(0)[0].startswith("2026-") and pane.view.wrap, "as left in the last log"
        await wait_until(pilot, lambda: load_config().log_wrap)  # written by a worker
        saved = load_config()
        assert (saved.log_times, saved.log_wrap) == (False, True), "and in the config, for the next session"
