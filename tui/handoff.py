"""Handing the terminal to the user's own $PAGER or $EDITOR, as lazygit does, and taking it
back: the log in `less` with its search and marks, the Dockerfile or the deploy plan in the
editor the user lives in.

The app is suspended while the program runs (the screen is restored after), the program
gets a temporary file of ours (0600, in a directory of ours, removed after) and the user's
environment, since it is their tool. What a pager is given is the text as the log view shows
it, control characters made visible, so even `PAGER=cat` cannot be driven by a log line.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from textual.app import App, SuspendNotSupported

DEFAULTS = {"PAGER": "less", "EDITOR": "vi"}


@contextmanager
def scratch_file(name: str, text: str) -> Iterator[Path]:
    """`text` in a fresh private file called `name`, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="triton-deck-") as folder:
        path = Path(folder) / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o600)
        yield path


def read_back(path: Path, what: str) -> tuple[str | None, str | None]:
    """What the editor saved, or None and one line when it is not UTF-8 text (the original stays)."""
    try:
        return path.read_text(encoding="utf-8"), None
    except UnicodeDecodeError:
        return None, f"the edited {what} is not UTF-8 text: it was not taken (save it as UTF-8)"


def hand_over(app: App[object], variable: str, path: Path) -> str | None:
    """Run $`variable` (PAGER or EDITOR) on `path` with the terminal; None when it ran and
    exited 0, else one line saying what went wrong and the fix."""
    command = os.environ.get(variable) or DEFAULTS[variable]
    try:
        words = shlex.split(command)
    except ValueError as error:  # an unclosed quote: the shell would refuse it too
        return f"${variable} ({command}) cannot be read as a command ({error}): fix its quoting"
    if not words or shutil.which(words[0]) is None:
        return f"${variable} ({command}) is not installed: set {variable} to a program you have"
    try:
        with app.suspend():
            code = subprocess.run([*words, str(path)], check=False).returncode
    except SuspendNotSupported:
        return f"this terminal cannot be handed to ${variable} (no suspend here): use the app's own view"
    return None if code == 0 else f"{command} exited with status {code}: nothing was taken from it"
