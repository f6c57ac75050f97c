"""$PAGER and $EDITOR take the terminal and give it back (stand-in programs on PATH, real
subprocesses; Textual's suspend is a no-op under the headless test driver)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import TextArea

from services.pipeline.state import PipelineStore
from tests.conftest import fake_app
from tests.helpers import open_server_log, press_in_panel
from tui.app import TritonDeck


def program(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


def headless_suspend(app: TritonDeck, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app, "suspend", contextlib.nullcontext)


async def test_v_shows_the_log_as_seen_in_the_users_pager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = tmp_path / "seen.log"
    monkeypatch.setenv("PAGER", program(tmp_path, "pager", f'cp "$1" {seen}'))
    app = fake_app()
    headless_suspend(app, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_server_log(pilot)
        await pilot.press("v")
        await pilot.pause()
    lines = seen.read_text().splitlines()
    assert len(lines) == 8 and lines[-1].endswith("Started HTTPService at 0.0.0.0:8000")


async def test_ctrl_o_edits_the_dockerfile_in_the_users_editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tui.screens.dockerfile_edit import DockerfileEditScreen

    monkeypatch.setenv("EDITOR", program(tmp_path, "editor", 'echo "RUN echo edited" >> "$1"'))
    app = fake_app()
    headless_suspend(app, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await press_in_panel(pilot, "2", "e")
        assert isinstance(app.screen, DockerfileEditScreen)
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert app.screen.query_one(TextArea).text.rstrip().endswith("RUN echo edited"), "back in the dialog, still to keep or drop"
        monkeypatch.setenv("EDITOR", program(tmp_path, "latin1", "printf 'RUN echo caf\\351\\n' > \"$1\""))
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert app.screen.query_one(TextArea).text.rstrip().endswith("RUN echo edited"), "a file that is not UTF-8 changes nothing"
        monkeypatch.setenv("EDITOR", 'code "--wait')
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert isinstance(app.screen, DockerfileEditScreen)
    messages = [n.message for n in app._notifications]
    assert any("the edited Dockerfile is not UTF-8 text" in m for m in messages), messages
    assert any("$EDITOR (code \"--wait) cannot be read as a command" in m and "fix its quoting" in m for m in messages), messages


async def open_deploy(pilot: Pilot[None]) -> None:
    await pilot.press("0")
    await pilot.pause()


async def test_shift_e_edits_the_plan_as_json_and_a_broken_one_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = fake_app()
    headless_suspend(app, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_deploy(pilot)
        monkeypatch.setenv("EDITOR", program(tmp_path, "editor", "sed -i 's/\"topK\": 3/\"topK\": 5/' \"$1\""))
        await pilot.press("E")
        await pilot.pause()
        saved = PipelineStore("local").load()
        assert saved is not None and saved.plan.top_k == 5
        monkeypatch.setenv("EDITOR", program(tmp_path, "breaker", 'echo "{" > "$1"'))
        await pilot.press("E")
        await pilot.pause()
        again = PipelineStore("local").load()
        assert again is not None and again.plan.top_k == 5
        assert any("is not valid JSON" in n.message and "the plan is unchanged" in n.message for n in app._notifications)
        monkeypatch.setenv("EDITOR", "no-such-editor-here")
        await pilot.press("E")
        await pilot.pause()
        assert any("$EDITOR (no-such-editor-here) is not installed" in n.message for n in app._notifications)
    assert os.environ["EDITOR"] == "no-such-editor-here"
