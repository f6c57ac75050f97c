"""A one-line strip of panel tabs: the active one highlighted, each clickable.

Lighter than TabbedContent (no underline animation, no per-pane widgets), which
matters because startup is measured against a bare Textual app.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget


class TabStrip(Widget):
    active: reactive[str] = reactive("")

    @dataclass
    class Chosen(Message):
        tab_strip: TabStrip
        name: str

        @property
        def control(self) -> TabStrip:
            return self.tab_strip

    def __init__(self, tabs: Sequence[tuple[str, str]], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._tabs = list(tabs)
        self.active = self._tabs[0][0] if self._tabs else ""

    def _spans(self) -> list[tuple[int, int, str]]:
        spans, x = [], 0
        for name, label in self._tabs:
            width = len(label) + 2
            spans.append((x, x + width, name))
            x += width + 1
        return spans

    def render(self) -> Text:
        text = Text()
        for name, label in self._tabs:
            text.append(f" {label} ", style="reverse bold" if name == self.active else "dim")
            text.append(" ")
        return text

    def on_click(self, event: events.Click) -> None:
        for start, end, name in self._spans():
            if start <= event.x < end:
                self.post_message(self.Chosen(self, name))
                return
