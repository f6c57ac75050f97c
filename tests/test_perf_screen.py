"""The Perf screen runs a real sweep (on the fake server: a millisecond a request), fills its
table level by level, saves perf_analyzer's CSV, stops cleanly; the Inference pane polls the
model's statistics only while it is the pane on screen."""

from __future__ import annotations

import csv
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input

from tests.conftest import fake_app
from tests.helpers import wait_until
from tui.app import TritonDeck
from tui.panels.inference import InferencePanel
from tui.screens.perf import PerfScreen
from tui.screens.prompt import PromptScreen
from widgets.resource_table import ResourceTable


async def open_perf(app: TritonDeck, pilot: Pilot[None]) -> PerfScreen:
    """`P` on the first served model of the Inference pane."""
    await pilot.press("4")
    await pilot.app.workers.wait_for_complete()
    await pilot.press("P")
    screen = app.screen
    assert isinstance(screen, PerfScreen)
    return screen


async def test_a_sweep_from_the_screen_to_a_csv(tmp_path: Path) -> None:
    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_perf(app, pilot)
        screen.query_one("#perf-range", Input).value = "1:2"
        screen.query_one("#perf-interval", Input).value = "100"
        await pilot.press("ctrl+r")
        table = screen.query_one(ResourceTable)
        await wait_until(pilot, lambda: table.row_count == 2 and not screen._sweeping, tries=400)
        assert [str(table.get_row_at(row)[0]) for row in range(2)] == ["1", "2"]
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        target = tmp_path / "sweep.csv"
        app.screen.query_one(Input).value = str(target)
        await pilot.press("enter")
        await wait_until(pilot, target.exists)
        rows = list(csv.reader(target.read_text().splitlines()))
        assert rows[0][:2] == ["Concurrency", "Inferences/Second"] and [row[0] for row in rows[1:]] == ["1", "2"]
        screen.query_one("#perf-range", Input).value = "oops"
        await pilot.press("ctrl+r")
        assert "must be START[:END[:STEP]]" in str(screen.query_one("#perf-status").render())


async def test_escape_stops_a_running_sweep_then_leaves() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_perf(app, pilot)
        screen.query_one("#perf-range", Input).value = "1:50"
        await pilot.press("ctrl+r")
        await pilot.pause(0.2)
        await pilot.press("escape")
        assert not screen._sweeping and "stopped" in str(screen.query_one("#perf-status").render())
        await wait_until(pilot, lambda: not [w for w in screen.workers if w.group == "perf-sweep" and w.is_running], tries=200)
        await pilot.press("escape")
        assert not isinstance(app.screen, PerfScreen)


async def test_statistics_are_polled_only_while_the_pane_is_on_screen() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await pilot.app.workers.wait_for_complete()
        panel = app.query_one(InferencePanel)
        panel._poll_stats()
        await pilot.app.workers.wait_for_complete()
        panel._poll_stats()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert app.query_one("#stats-box").display, "two readings on screen: a sample"
        reads = len(panel._stats.samples())
        await pilot.press("1")
        panel._poll_stats()
        await pilot.press("4", "P")
        panel._poll_stats()  # behind the Perf screen: not polled either
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert len(panel._stats.samples()) == reads
