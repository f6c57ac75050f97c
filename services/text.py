"""Untrusted text made inert: control characters shown, never obeyed.

Job output, object keys, file names, model names and server or API messages can carry
escape sequences (OSC 52 writes the clipboard, OSC 0 the window title, CSI 2J wipes the
screen). Whatever shows such text on a terminal, the TUI or the CLI on a TTY, shows it
through `visible`: C0 controls and DEL in caret notation (`^[`, `^M`, `^?`), C1 controls
as `\\x9b`. Pipes and files get the bytes unchanged (see `tui.cli.output`).

Invisible format characters join them, shown as `\\u202e`: the bidi embeddings, overrides
and isolates (U+202A-202E, U+2066-2069, the marks U+200E/200F/061C) reorder what follows
them, so `a\\u202etxt.exe` reads as `aexe.txt`; the zero-width ones (U+200B-200D, U+2060,
U+FEFF) and the line and paragraph separators (U+2028/2029) make two different names look
the same or break a row where the terminal sees no newline.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff]")


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return "^" + chr(code + 0x40)
    if code == 0x7F:
        return "^?"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def encodable(text: str) -> str:
    """`text` as it can be written as UTF-8: a name read from undecodable bytes (lone
    surrogates, Python's stand-ins for them) shows those bytes as `\\xff`."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text


def visible(text: str, keep: str = "") -> str:
    """`text` with every control character but those in `keep` (e.g. "\\n\\t") made visible."""
    text = encodable(text)
    if not _CONTROL.search(text):
        return text
    if not keep:
        return _CONTROL.sub(_shown, text)
    return _CONTROL.sub(lambda match: match.group() if match.group() in keep else _shown(match), text)


def has_controls(text: str) -> bool:
    return _CONTROL.search(text) is not None


def without_controls(text: str) -> str:
    """The last line of defence where a cell width is already fixed: Rich counts a control
    character as zero cells, so dropping it keeps the layout and obeys nothing."""
    return _CONTROL.sub("", text)
