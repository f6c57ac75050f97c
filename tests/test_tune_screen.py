"""The Tune screen end to end against a real local tritonserver in explicit mode (the
constructed `sleeper` of tests/test_tune.py): a search typed into the form finds the config
best by construction and leaves the server as found; `x` cancels mid-search with the config
back and no sweep thread left; leaving with `esc` keeps the search running, and reopening the
screen resumes it; `w` writes the winner into a local model directory after a confirmation."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from services.config import Config
from services.inference.protocol import Endpoint, Transport
from services.triton.runtime import TritonServer
from tests.conftest import settle
from tests.helpers import config_of
from tui import screens
from tui.app import TritonDeck, make_app
from tui.screens.tune import TuneScreen
from tui.settings import AppSettings

pytestmark = pytest.mark.usefixtures("quick_sweeps")


@pytest.fixture
def quick_sweeps(monkeypatch: pytest.MonkeyPatch) -> None:
    """A level is stable within 50 % after a 200 ms warm-up, at most 4 windows: seconds a candidate."""
    monkeypatch.setattr(screens.tune, "STABILITY_PERCENT", 50.0)
    monkeypatch.setattr(screens.tune, "MAX_TRIALS", 4)
    monkeypatch.setattr(screens.tune, "WARMUP_MS", 200)


@pytest.fixture
def sleeper(explicit: TritonServer) -> Iterator[TritonServer]:
    before = config_of(explicit, "sleeper")
    yield explicit
    assert config_of(explicit, "sleeper") == before, "the server is left as it was found"


def deck() -> TritonDeck:
    return make_app("local", Config(), settings=AppSettings(poll=False), env={})


async def open_tune(pilot: Pilot[None], server: TritonServer, running_until: str = "", **fields: str) -> TuneScreen:
    """The Tune screen on `server`'s sleeper with the form's `fields` typed; with `running_until`
    ("[2/3]"), its search started and run until the status says so."""
    screen = TuneScreen(Endpoint(f"127.0.0.1:{server.ports.http}", Transport.HTTP), "sleeper", True)
    await pilot.app.push_screen(screen)
    await pilot.pause()  # not `settle`: that would wait for a running search to end
    for name, value in fields.items():
        screen.query_one(f"#tune-{name}", Input).value = value
    if running_until:
        await pilot.press("ctrl+r")
        await until(pilot, lambda: running_until in status(screen))
    return screen


async def until(pilot: Pilot[None], condition: object, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        await asyncio.sleep(0.1)
    await pilot.pause()  # not `settle`: that waits for every worker, the search's too
    assert condition(), f"timed out; the status says: {status(pilot.app.screen) if isinstance(pilot.app.screen, TuneScreen) else pilot.app.screen}"  # type: ignore[operator]


def status(screen: TuneScreen) -> str:
    return str(screen.query_one("#tune-status").content)


async def test_a_search_from_the_form_finds_the_constructed_best_and_writes_it(sleeper: TritonServer, tmp_path: Path) -> None:
    model_dir = tmp_path / "sleeper"
    model_dir.mkdir()
    (model_dir / "config.pbtxt").write_text((sleeper.repository / "sleeper" / "config.pbtxt").read_text())
    app = deck()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_tune(pilot, sleeper, instances="1,2", dynamic="off,on", range="8", window="400")
        await pilot.press("ctrl+r")
        await until(pilot, lambda: screen._ended is not None)
        ended = screen._ended
        assert ended is not None and ended.verdict.winner is not None, status(screen)
        assert ended.verdict.winner.candidate.label == "instances=2 dynamic_batching=on(delay 0 µs)"
        assert status(screen).startswith("use instances=2") and "w writes it" in status(screen)
        await pilot.press("w")
        await settle(pilot)
        pilot.app.screen.query_one(Input).value = str(model_dir)
        await pilot.press("enter")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ConfirmScreen", 10)
        assert "count: 2" in str(pilot.app.screen.query_one("#confirm-detail").content)
        assert "count: 2" not in (model_dir / "config.pbtxt").read_text(), "nothing written before the yes"
        await pilot.press("y")
        await until(pilot, lambda: "count: 2" in (model_dir / "config.pbtxt").read_text(), 10)
        assert "dynamic_batching" in (model_dir / "config.pbtxt").read_text()


async def test_cancel_restores_the_config_and_leaves_no_sweep_thread(sleeper: TritonServer) -> None:
    threads_before = {thread.name for thread in threading.enumerate()}
    app = deck()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_tune(pilot, sleeper, "[2/3]", instances="1,2,3", range="4", window="400")
        await pilot.press("x")
        assert "being loaded back" in status(screen)
        await until(pilot, lambda: screen._ended is not None)
        assert screen._ended is not None and screen._ended.reason == "cancelled"
        assert config_of(sleeper, "sleeper")["instance_group"][0]["count"] == 1  # type: ignore[index]
    def sweeping() -> list[str]:  # asyncio's executor keeps its idle worker threads: not a sweep's
        return [thread.name for thread in threading.enumerate() if thread.name not in threads_before and not thread.name.startswith("asyncio_")]

    deadline = time.monotonic() + 10
    while sweeping() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not sweeping()


async def test_leaving_keeps_the_search_and_reopening_resumes_it(sleeper: TritonServer) -> None:
    app = deck()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tune(pilot, sleeper, "[2/2]", instances="1,2", range="4", window="400")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(pilot.app.screen, TuneScreen) and app.tune_runs.running()
        reopened = await open_tune(pilot, sleeper)
        assert reopened.query_one("#tune-table").row_count >= 1 and "resumed" in status(reopened)  # type: ignore[attr-defined]
        await until(pilot, lambda: reopened._ended is not None)
        assert reopened._ended is not None and len(reopened._ended.results) == 2 and not app.tune_runs.running()


async def test_t_in_a_job_detail_asks_the_model_and_opens_tune_on_the_job_s_address() -> None:
    """On fakes: `t` on the running job's detail, the model typed, the Tune screen on its URL;
    on an app with two replicas, one line says to scale it to one first."""
    from tests.conftest import fake_app
    from tui.screens.prompt import PromptScreen

    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("3", "j", "enter")
        await settle(pilot)
        job_url = app.services.jobs().list()[1].url
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, PromptScreen)
        app.screen.query_one(Input).value = "simple"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TuneScreen), app.screen
        assert (app.screen._model, app.screen._endpoint.url) == ("simple", job_url)
        await pilot.press("escape", "escape")
        await pilot.press("5", "j", "j", "enter")  # the app with two replicas
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        app.screen.query_one(Input).value = "simple"
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, TuneScreen)
        assert any("runs 2 replicas behind its balancer" in str(toast.message) for toast in app._notifications)
