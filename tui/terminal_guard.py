"""Nothing but our own styles' sequences reaches the terminal, whatever a widget was given.

Widgets show untrusted text through `widgets.inert` (control characters made visible).
This guard covers whatever slips past that: when Textual turns a line of segments into
terminal output, any control character left in a segment's text is dropped. Rich counts
those as zero cells, so the line keeps its width. Textual is pinned exactly
(pyproject.toml), and `tests/test_terminal_injection.py` checks the guard on it.
"""

from __future__ import annotations

from rich.console import Console
from rich.segment import Segment
from textual.strip import Strip

from services.text import has_controls, without_controls

_render = Strip.render


def _inert_render(self: Strip, console: Console) -> str:
    if self._render_cache is None and any(has_controls(text) for text, _style, control in self._segments if not control):
        clean = Strip([Segment(without_controls(text), style, control) if not control else Segment(text, style, control) for text, style, control in self._segments], self._cell_length)
        self._render_cache = _render(clean, console)
    return _render(self, console)


def install() -> None:
    Strip.render = _inert_render  # type: ignore[method-assign]
