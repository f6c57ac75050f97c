"""Untrusted text is inert: escape sequences are shown on screen, never sent to the terminal.

The TUI checks render the whole screen as the terminal would receive it (the compositor's
full update) and look for the hostile sequences; the CLI checks run `triton-deck` in a real
process, once on a pseudo-terminal and once into a pipe.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console
from rich.segment import Segment
from textual.strip import Strip

from services.jobs.protocol import JobState
from services.logs.spool import LogSpool, LogViewModel
from services.storage.protocol import BucketRef
from services.text import visible
from tests.conftest import SNAPSHOT_NOW, fake_app, settle
from tests.helpers import SPEC, ScriptedPlatform, open_logs, stamped
from tui import terminal_guard
from tui.app import TritonDeck

CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x07"  # OSC 52: write "rm -rf ~" to the user's clipboard
TITLE = "\x1b]0;pwned\x07"
WIPE = "\x1b[2J\x1b[H"
HOSTILE = f"boot {CLIPBOARD}{TITLE}{WIPE}done \x9b31m"
ROOT = Path(__file__).resolve().parent.parent


def terminal_bytes(app: TritonDeck) -> str:
    """Everything the terminal would receive to draw the current screen."""
    return app.screen._compositor.render_full_update().render_segments(app.console)


def assert_inert(output: str) -> None:
    for sequence in ("\x1b]52", "\x1b]0;", "\x1b[2J", "\x07", "\x9b"):
        assert sequence not in output, f"{sequence!r} reached the terminal"


def test_visible_shows_controls_in_caret_notation() -> None:
    assert visible("a\x1b[2Jb\x7f\x9b\x00") == "a^[[2Jb^?\\x9b^@"
    assert visible("line\tone\nline two\r", keep="\n\t") == "line\tone\nline two^M"
    assert visible("plain ünïcode ✓") == "plain ünïcode ✓"


def test_bidi_and_zero_width_characters_are_shown_as_escapes() -> None:
    """One table for the TUI and the CLI: a name cannot reverse itself or hide a character."""
    assert visible("a\u202etxt.exe") == "a\\u202etxt.exe"
    invisible = "\u061c\u200b\u200c\u200d\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"
    assert visible(invisible) == "".join(f"\\u{ord(char):04x}" for char in invisible)
    assert visible("שלום ✓ 日本") == "שלום ✓ 日本", "right-to-left text itself is not a format character"
    terminal_guard.install()
    rendered = Strip([Segment("x\u202ey\u2066z")]).render(Console(color_system="truecolor", force_terminal=True))
    assert "\u202e" not in rendered and "\u2066" not in rendered and "xyz" in rendered, "the guard drops what slipped past"


def test_the_guard_drops_controls_left_in_any_strip() -> None:
    terminal_guard.install()
    strip = Strip([Segment("ok " + CLIPBOARD + " end")])
    rendered = strip.render(Console(color_system="truecolor", force_terminal=True))
    assert_inert(rendered)
    assert "ok " in rendered and " end" in rendered


def test_a_job_line_cannot_forge_a_stream_marker(tmp_path: Path) -> None:
    spool = LogSpool(tmp_path)
    spool.append(["\x1ereconnected", stamped("real")])
    spool.mark("reconnected")
    model = LogViewModel(spool)
    assert [model.line(row) for row in range(3)] == [("^^reconnected", False), (stamped("real"), False), ("reconnected", True)]
    target = tmp_path / "saved.log"
    assert spool.save(target) == 2
    assert target.read_text() == "\x1ereconnected\n" + stamped("real") + "\n", "saved byte for byte"


async def test_log_view_shows_escape_sequences_and_keeps_progress_frames() -> None:
    platform = ScriptedPlatform([stamped(HOSTILE), stamped(" 10%\r 55%\r100%")])
    job = platform.add(SPEC, JobState.RUNNING)
    app = fake_app()
    app.services.job_platform = platform
    async with app.run_test(size=(120, 30)) as pilot:
        await open_logs(app, pilot, job, 2)
        output = terminal_bytes(app)
        assert_inert(output)
        assert "^[]52;c;cm0gLXJmIH4=^G^[]0;pwned^G^[[2J^[[Hdone \\x9b31m" in output
        assert "100%" in output and "55%" not in output, "carriage-return frames collapse as before"


async def test_bucket_browser_and_toasts_show_hostile_keys_inert() -> None:
    app = fake_app()
    store = app.services.object_store
    bucket = BucketRef("my-models", "LOCAL")
    store.put(bucket, f"evil{TITLE}.txt", b"x")  # type: ignore[attr-defined]
    store.put(bucket, "[@click=app.quit]link[b]bold", b"x")  # type: ignore[attr-defined]
    store.put(bucket, f"[@click=app.quit]folder{WIPE}/inside", b"x")  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        app.notify(f"could not read {CLIPBOARD}[b]key[/b]")
        await pilot.pause()
        output = terminal_bytes(app)
        assert_inert(output)
        assert "evil^[]0;pwned^G.txt" in output
        assert "[@click=app.quit]link[b]bold" in output, "markup in a key is shown, not parsed"
        assert "[@click=app.quit]folder^[[2J^[[H/" in output, "and in the prefix tree"
        toast = list(app._notifications)[-1]
        assert (toast.message, toast.markup) == ("could not read ^[]52;c;cm0gLXJmIH4=^G[b]key[/b]", False), "toasts too"
        assert app.is_running


def cli(argv: list[str], env: dict[str, str]) -> str:
    return subprocess.run([sys.executable, "-m", "tui", *argv], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True).stdout


def cli_job_with_hostile_output(tmp_path: Path) -> tuple[dict[str, str], str]:
    """A finished local job (a real process) whose log holds the hostile line; its id."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home")}
    env |= {name: str(tmp_path / name.lower()) for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")}
    printf = "printf 'boot \\033]52;c;cm0gLXJmIH4=\\007\\033]0;pwned\\007\\033[2J\\033[Hdone\\342\\200\\256txt\\n'"
    job_id = cli(["job", "run", "--cpu", "1", "local/tools", "--", "bash", "-c", printf], env).split()[0]
    deadline = time.monotonic() + 60
    while json.loads(cli(["job", "get", job_id, "-o", "json"], env))["status"]["state"] not in ("DONE", "FAILED"):
        assert time.monotonic() < deadline, "the job never finished"
        time.sleep(0.3)
    return env, job_id


def on_a_terminal(argv: list[str], env: dict[str, str]) -> bytes:
    """What a command prints to a real pseudo-terminal."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(argv, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the far end closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=30)
    os.close(leader)
    return b"".join(chunks)


def test_cli_shows_job_output_inert_on_a_terminal_and_byte_for_byte_in_a_pipe(tmp_path: Path) -> None:
    env, job_id = cli_job_with_hostile_output(tmp_path)
    command = [sys.executable, "-m", "tui", "job", "logs", job_id, "--from", "job"]
    piped = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, check=True).stdout
    assert piped.endswith(b"[job] boot \x1b]52;c;cm0gLXJmIH4=\x07\x1b]0;pwned\x07\x1b[2J\x1b[Hdone\xe2\x80\xaetxt\n"), piped
    shown = on_a_terminal(command, env)
    assert b"\x1b" not in shown and b"\x07" not in shown and b"\xe2\x80\xae" not in shown, shown
    assert b"boot ^[]52;c;cm0gLXJmIH4=^G^[]0;pwned^G^[[2J^[[Hdone\\u202etxt" in shown


def test_a_newline_in_a_key_never_forges_a_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from tui.cli import main

    source = tmp_path / "f"
    source.write_text("x")
    store_env: dict[str, str] = {}
    assert main(["bucket", "create", "rows@LOCAL"], env=store_env, out=io.StringIO()) == 0
    from services.cancel import CancelToken
    from services.storage.local import LocalObjectStore
    from services.storage.protocol import UploadItem, UploadOptions

    forged = "a\n2026-01-01 00:00:00      1.0 KiB forged.txt 0123"
    assert LocalObjectStore().upload(BucketRef("rows", "LOCAL"), [UploadItem(source, forged, 1)], UploadOptions(), lambda _p: None, CancelToken()).ok
    out = io.StringIO()
    assert main(["bucket", "object", "list", "rows@LOCAL"], env=store_env, out=out) == 0
    rows = out.getvalue().splitlines()
    assert len(rows) == 2 and rows[1].split()[4] == "a\\n2026-01-01"


async def test_the_job_detail_shows_api_values_inert() -> None:
    from services.jobs.protocol import JobSpec
    from tui.screens.job_detail import JobDetailScreen

    app = fake_app()
    platform = app.services.job_platform
    assert platform is not None
    job = platform.add(JobSpec(image=f"img{WIPE}", name=f"evil{TITLE}[b]x[/b]", command=("echo", CLIPBOARD)), JobState.RUNNING)  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.push_screen(JobDetailScreen(job, SNAPSHOT_NOW))
        await pilot.pause()
        output = terminal_bytes(app)
        assert_inert(output)
        plain = re.sub(r"\x1b\[[0-9;]*[mHK]", "", output)
        assert "evil]0;pwnedx" not in plain, "no markup parsed, no control character silently dropped"
        assert plain.count("evil^[]0;pwned^G[b]x[/b]") == 3 and plain.count("img^[[2J^[[H") == 2, "title, name row and ovhai line; image row and ovhai line"


def test_cli_shows_keys_and_model_names_inert_on_a_terminal_and_byte_for_byte_in_a_pipe(tmp_path: Path) -> None:
    """A key and a model directory with OSC 52, CSI 2J, a C1 CSI and U+202E: escapes on a pty, the same bytes in a pipe."""
    hostile = "a\u202etxt.exe\x1b]52;c;eA==\x07\x1b[2J\x9b1m"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home")}
    env |= {name: str(tmp_path / name.lower()) for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")}
    upload = tmp_path / "upload"
    upload.mkdir()
    (upload / hostile).write_bytes(b"x")
    cli(["bucket", "create", "evil@LOCAL"], env)
    cli(["bucket", "object", "upload", "--create", "evil@LOCAL", str(upload / hostile), "-r", f"{upload}/"], env)
    model = tmp_path / "repo" / hostile
    (model / "1").mkdir(parents=True)
    (model / "config.pbtxt").write_text('backend: "python"\n')
    raw = hostile.encode()
    for argv in (["bucket", "object", "list", "evil@LOCAL"], ["repo", "validate", str(tmp_path / "repo")]):
        command = [sys.executable, "-m", "tui", *argv]
        piped = subprocess.run(command, env=env, cwd=ROOT, capture_output=True)
        assert raw in piped.stdout + piped.stderr, (argv, piped)
        shown = on_a_terminal(command, env)
        for sequence in (b"\x1b]", b"\x1b[2J", b"\x07", "\u202e".encode(), "\x9b".encode()):
            assert sequence not in shown, (argv, sequence, shown)
        assert b"a\\u202etxt.exe^[]52;c;eA==^G^[[2J\\x9b1m" in shown, (argv, shown)
