"""Renderables from untrusted text: control characters shown (see `services.text`), markup never parsed.

A plain `str` handed to a DataTable or a Static is read as Rich markup, so a key named
`[@click=app.quit]x` would become a link and `\\x1b]52;…` would reach the terminal.
Every widget that shows what it did not write goes through `inert`.
"""

from __future__ import annotations

from rich.text import Text

from services.text import visible


def inert(content: str | Text, style: str = "") -> Text:
    if isinstance(content, Text):
        shown = visible(content.plain)
        if shown == content.plain:
            return content
        return Text(shown, style=content.style, no_wrap=content.no_wrap, overflow=content.overflow)
    return Text(visible(content), style=style)
