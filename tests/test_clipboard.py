"""Copy keys say where the value went: the terminal's clipboard (OSC 52), or, inside a tmux
that drops OSC 52, tmux's own paste buffer (a real `tmux` stand-in on PATH records it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.conftest import fake_app, settle
from tui.clipboard import inside_tmux_without_clipboard

SERVER_URL = "https://00000003-7a1e-4c2b-9d3f-000000000003.job.gra.ai.cloud.ovh.net"


def fake_tmux(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clipboard: str) -> Path:
    record = tmp_path / "tmux-buffer"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "tmux"
    script.write_text(f'#!/bin/sh\nif [ "$1" = show-options ]; then echo {clipboard}; exit 0; fi\nif [ "$1" = load-buffer ]; then cat > "{record}"; exit 0; fi\nexit 1\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")
    return record


async def copy_server_url(pilot: Pilot[None]) -> None:
    await pilot.press("3")
    await settle(pilot)
    await pilot.press("j", "enter", "c")
    await settle(pilot)


def toasts(pilot: Pilot[None]) -> list[str]:
    return [notification.message for notification in pilot.app._notifications]


async def test_outside_tmux_the_url_goes_to_the_terminals_clipboard() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await copy_server_url(pilot)
        assert app.clipboard == SERVER_URL
        assert "copied the job's url to the clipboard" in toasts(pilot)


async def test_in_a_tmux_that_drops_osc52_the_url_goes_to_its_buffer_and_the_toast_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = fake_tmux(tmp_path, monkeypatch, "off")
    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await copy_server_url(pilot)
        assert record.read_text() == SERVER_URL
        assert any("into tmux's paste buffer" in toast and "set-clipboard on" in toast for toast in toasts(pilot))


def test_a_tmux_with_set_clipboard_on_takes_osc52(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_tmux(tmp_path, monkeypatch, "on")
    assert not inside_tmux_without_clipboard()
    monkeypatch.delenv("TMUX")
    assert not inside_tmux_without_clipboard()
