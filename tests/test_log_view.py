"""The job log view: spool, follow/pause, search, wrap, timestamps, source filter, save, markers."""

from __future__ import annotations

import random
import threading
from pathlib import Path

from services.jobs.fake import FakeJobPlatform
from services.jobs.protocol import Job, JobState, LogItem, LogMarker
from services.logs.spool import STRIDE, LogSpool, LogViewModel
from tests.conftest import SNAPSHOT_NOW, fake_app
from tests.helpers import SPEC, ScriptedPlatform, open_logs, stamped, wait_until
from tui.app import TritonDeck
from tui.screens.job_logs import JobLogScreen
from tui.screens.prompt import PromptScreen
from widgets.log_pane import LogPane, StreamState


def test_spool_reads_back_every_line_across_blocks(tmp_path: Path) -> None:
    spool = LogSpool(tmp_path)
    lines = [f"line {n} " + "x" * (n % 50) for n in range(STRIDE * 5 + 7)]
    for start in range(0, len(lines), 97):
        spool.append(lines[start : start + 97])
    assert spool.count == len(lines) and spool.widest == max(map(len, lines))
    for index in random.Random(1).sample(range(len(lines)), 300) + [0, len(lines) - 1]:
        assert spool.line(index) == lines[index]


def test_spool_collapses_progress_frames_and_saves_without_markers(tmp_path: Path) -> None:
    spool = LogSpool(tmp_path)
    spool.append([stamped(" 10%\r 55%\r100%"), "plain\rframes\r"])
    spool.mark("reconnected")
    spool.append([stamped("after")])
    assert [spool.line(n) for n in range(3)] == [stamped("100%"), "frames", "\x1ereconnected"]
    target = tmp_path / "saved.log"
    assert spool.save(target) == 3
    assert target.read_text().splitlines() == [stamped("100%"), "frames", stamped("after")]
    assert not list(tmp_path.glob(".saved.log.*")), "no temporary left behind"


def test_spool_reads_consistently_while_a_writer_appends(tmp_path: Path) -> None:
    spool = LogSpool(tmp_path)
    done = threading.Event()

    def write() -> None:
        for start in range(0, 20_000, 50):
            spool.append([f"{n}" for n in range(start, start + 50)])
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    while not done.is_set():
        count = spool.count
        if count:
            assert spool.line(count - 1) == str(count - 1)
    writer.join()
    assert spool.count == 20_000


def test_view_model_filters_by_source_and_hides_times(tmp_path: Path) -> None:
    spool = LogSpool(tmp_path)
    spool.append([stamped("a"), stamped("pulled", "sync"), "no prefix", stamped("b")])
    model = LogViewModel(spool)
    model.set_source("job")
    assert [model.line(row)[0] for row in range(model.count)] == [stamped("a"), stamped("b")]
    spool.append([stamped("c"), stamped("pushed", "sync")])
    model.refresh()
    model.show_time = False
    assert [model.line(row)[0] for row in range(model.count)] == ["[job] a", "[job] b", "[job] c"]
    assert model.find("B", 0) == 1 and model.find("c", 2) == 2 and model.find("zzz", 0) is None


def app_with(platform: FakeJobPlatform) -> TritonDeck:
    app = fake_app()
    app.services.job_platform = platform
    return app


async def test_follow_pauses_on_scroll_counts_new_lines_and_resumes() -> None:
    platform = FakeJobPlatform(SNAPSHOT_NOW)
    job = platform.add(SPEC, JobState.RUNNING, log=[stamped(f"line {n:04d}") for n in range(300)])
    app = app_with(platform)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = await open_logs(app, pilot, job, 300)
        assert pane.following and pane.view.scroll_offset.y == pane.view.end_y > 0
        await pilot.press("pageup")
        assert not pane.following
        for n in range(20):
            platform.append_log(job.id, stamped(f"more {n}"))
        for _ in range(100):
            if pane.received == 320:
                break
            await pilot.pause(0.02)
        assert pane.new_lines == 20 and "20 new lines" in str(pane.query_one("#log-indicator").render())
        assert pane.view.scroll_offset.y < pane.view.end_y, "a paused view does not move"
        await pilot.press("G")
        await pilot.pause()
        assert pane.following and pane.new_lines == 0 and pane.view.scroll_offset.y == pane.view.end_y


async def test_search_highlights_and_jumps_between_matches() -> None:
    platform = FakeJobPlatform(SNAPSHOT_NOW)
    lines = [stamped(f"line {n:04d}" + (" ERROR disk full" if n in (40, 210) else "")) for n in range(300)]
    job = platform.add(SPEC, JobState.RUNNING, log=lines)
    app = app_with(platform)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = await open_logs(app, pilot, job, 300)
        await pilot.press("slash", *"error", "enter")
        await pilot.pause(0.2)
        assert pane.view.needle == "error"
        first = pane.view.current_match
        assert first in (40, 210) and not pane.following
        await pilot.press("n")
        await pilot.pause(0.2)
        assert {first, pane.view.current_match} == {40, 210}
        await pilot.press("N")
        await pilot.pause(0.2)
        assert pane.view.current_match == first
        top = int(pane.view.scroll_offset.y)
        assert top <= pane.view.current_match < top + pane.view.size.height, "the match is on screen"
        strip = pane.view.render_line(pane.view.current_match - top)
        assert any(segment.style and segment.style.bgcolor for segment in strip if "ERROR" in segment.text)


async def test_wrap_timestamps_and_source_toggles() -> None:
    platform = FakeJobPlatform(SNAPSHOT_NOW)
    huge = stamped("x" * 100_000)
    job = platform.add(SPEC, JobState.RUNNING, log=[stamped("start"), stamped("synced 3 objects", "sync"), huge, stamped("end")])
    app = app_with(platform)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_logs(app, pilot, job, 4)
        view = pane.view
        assert view.virtual_size.width > 100_000, "no wrap: one row per line, scroll sideways"
        assert view.render_line(0).cell_length == view.size.width
        await pilot.press("w")
        await pilot.pause()
        height, width = view.scrollable_content_region.height, view.scrollable_content_region.width
        assert view.wrap and view.virtual_size.width <= width
        rows = [view.render_line(y).text for y in range(height)]
        assert rows[-1].rstrip().endswith("end"), "following: the last line sits on the last row"
        assert rows[-2].startswith("x") and rows[-3] == "x" * width, "the huge line's end above it, cut into rows"
        await pilot.press("t")
        assert view.rows.line(0) == ("[job] start", False)
        await pilot.press("s")
        await pilot.pause()
        assert [view.rows.line(row)[0] for row in range(view.rows.count)] == ["[job] start", f"[job] {'x' * 100_000}", "[job] end"]
        assert "from job only" in str(pane.query_one("#log-indicator").render())


def scripted_app(items: list[LogItem]) -> tuple[TritonDeck, Job]:
    platform = ScriptedPlatform(items)
    return app_with(platform), platform.add(SPEC, JobState.RUNNING)


async def test_markers_between_lines_and_the_end_of_the_stream() -> None:
    items: list[LogItem] = [stamped("before"), LogMarker.RECONNECTED, stamped("after")]
    app, job = scripted_app(items)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_logs(app, pilot, job, 2)
        await wait_until(pilot, lambda: pane.stream is StreamState.ENDED)
        rows = pane.view.rows
        assert [rows.line(row) for row in range(rows.count)] == [
            (stamped("before"), False),
            ("reconnected", True),
            (stamped("after"), False),
            ("stream ended", True),
        ]
        assert pane.stream is StreamState.ENDED and pane.received == 2


async def test_save_writes_the_log_to_the_chosen_file(tmp_path: Path) -> None:
    platform = FakeJobPlatform(SNAPSHOT_NOW)
    job = platform.add(SPEC, JobState.RUNNING, log=[stamped(f"line {n}") for n in range(50)])
    app = app_with(platform)
    target = tmp_path / "job.log"
    async with app.run_test(size=(80, 24)) as pilot:
        await open_logs(app, pilot, job, 50)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        prompt = app.screen.query_one("#prompt-input")
        assert prompt.value == str(Path.home() / f"{job.name}-{job.short_id}.log"), "proposed in the home directory"  # type: ignore[attr-defined]
        prompt.value = str(target)  # type: ignore[attr-defined]
        await pilot.press("enter")
        for _ in range(50):
            if target.exists():
                break
            await pilot.pause(0.02)
    assert target.read_text().splitlines() == [stamped(f"line {n}") for n in range(50)]


async def test_a_firehose_reaches_the_ui_in_batches() -> None:
    gate = threading.Event()
    platform = ScriptedPlatform([stamped(f"fast {n}") for n in range(50_000)], gate)
    job = platform.add(SPEC, JobState.RUNNING)
    app = app_with(platform)
    batches: list[int] = []
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(JobLogScreen(job))
        await pilot.pause()
        pane = app.screen.query_one(LogPane)
        original = pane.rows_grew

        def counting(lines: int) -> None:
            batches.append(lines)
            original(lines)

        pane.rows_grew = counting  # type: ignore[method-assign]
        for _ in range(300):
            if pane.received >= 50_000:
                break
            await pilot.pause(0.02)
        assert pane.received == 50_000
        assert len(batches) < 1000, "lines are batched, not one UI update per line"
        await pilot.press("G")
        assert pane.view.rows.line(pane.view.rows.count - 1)[0] == stamped("fast 49999")
        gate.set()


async def test_end_resumes_following_and_esc_clears_a_search_before_leaving() -> None:
    platform = FakeJobPlatform(SNAPSHOT_NOW)
    job = platform.add(SPEC, JobState.RUNNING, log=[stamped(f"line {n:04d}" + (" ERROR" if n == 40 else "")) for n in range(300)])
    app = app_with(platform)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = await open_logs(app, pilot, job, 300)
        await pilot.press("pageup")
        assert not pane.following
        await pilot.press("end")
        await pilot.pause()
        assert pane.following, "End resumes FOLLOW, as G does and KEYS.md says"
        await pilot.press("slash", *"error", "enter")
        await pilot.pause(0.2)
        assert pane.view.needle == "error" and pane.view.current_match == 40
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, JobLogScreen), "esc first clears the search"
        assert pane.view.needle == "" and pane.view.current_match is None
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, JobLogScreen), "then leaves"


async def test_a_burst_of_reconnects_is_one_row_and_a_count() -> None:
    items: list[LogItem] = [stamped("before"), *[LogMarker.RECONNECTED] * 5, stamped("after")]
    app, job = scripted_app(items)
    async with app.run_test(size=(120, 24)) as pilot:
        pane = await open_logs(app, pilot, job, 2)
        await wait_until(pilot, lambda: pane.stream is StreamState.ENDED)
        rows = pane.view.rows
        shown = [rows.line(row) for row in range(rows.count)]
        assert shown.count(("reconnected", True)) == 1, shown
        assert pane.note == "reconnected 5 times in 10 s"
        assert "reconnected 5 times in 10 s" in str(pane.query_one("#log-indicator").render())


async def test_one_line_is_one_line() -> None:
    platform = FakeJobPlatform(SNAPSHOT_NOW)
    job = platform.add(SPEC, JobState.DONE, log=[stamped("alone")])
    app = app_with(platform)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_logs(app, pilot, job, 1)
        await pilot.pause()
        assert " 1 line " in str(pane.query_one("#log-indicator").render())
