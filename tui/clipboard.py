"""Copying a value for the user, honestly.

Textual copies with OSC 52, which the terminal turns into its clipboard, over SSH too. Inside
tmux that only happens when tmux's `set-clipboard` is on (or external); otherwise tmux drops
the sequence and a "copied" toast would be a lie. There the value goes into tmux's own paste
buffer instead (`tmux load-buffer`), and the toast says where it is and how to get the
system clipboard as well.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping

TMUX_TIMEOUT_S = 2.0


def inside_tmux_without_clipboard(env: Mapping[str, str] | None = None) -> bool:
    """True in a tmux whose set-clipboard is off (or cannot be asked)."""
    environment = os.environ if env is None else env
    if not environment.get("TMUX") or shutil.which("tmux") is None:
        return False
    try:
        answer = subprocess.run(["tmux", "show-options", "-gv", "set-clipboard"], capture_output=True, text=True, timeout=TMUX_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return True
    return answer.returncode != 0 or answer.stdout.strip() not in ("on", "external")


def to_tmux_buffer(text: str) -> bool:
    """The text as tmux's newest paste buffer (prefix + ] pastes it); False when tmux refused."""
    try:
        return subprocess.run(["tmux", "load-buffer", "-"], input=text, text=True, capture_output=True, timeout=TMUX_TIMEOUT_S).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
