"""A virtual log view: renders only the rows on screen, from any `LogRows` source.

Nothing here holds the log. Each frame asks the source for the few rows it shows, so a
five-million-line log costs what a fifty-line one does, and a 100,000-character line is
sliced to the viewport before any styling (no wrap) or cut into exactly the rows shown
(wrap). Wrapped mode scrolls by log line: `scroll_y` is the line at the top.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

_MATCH = Style(reverse=True, bold=True)
_CURRENT_MATCH = Style(bgcolor="yellow", color="black", bold=True)
_MARKER = Style(dim=True, italic=True)
_PREFIX = Style(dim=True)


class LogRows(Protocol):
    """What the view reads: a count, the widest row and each row's text (and whether it is a marker)."""

    @property
    def count(self) -> int: ...

    @property
    def widest(self) -> int: ...

    def line(self, row: int) -> tuple[str, bool]: ...


class _NoRows:
    count = 0
    widest = 0

    def line(self, row: int) -> tuple[str, bool]:
        raise IndexError(row)


class LogView(ScrollView, can_focus=True):


    @dataclass
    class EndRequested(Message):
        """`End` on the view: its owner goes back to following (as `G` does), not only to the bottom."""

        log_view: LogView

        @property
        def control(self) -> LogView:
            return self.log_view

    def action_scroll_end(self) -> None:
        self.post_message(self.EndRequested(self))
    wrap: reactive[bool] = reactive(False)
    needle: reactive[str] = reactive("")  # not `query`: that is every widget's DOM query
    current_match: reactive[int | None] = reactive(None)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._rows: LogRows = _NoRows()
        self._layout_key: tuple[int, int, int, int] | None = None
        self._layout: list[tuple[int, int]] = []  # (row, first character) per screen row, wrapped mode
        self._version = 0

    # -- data --------------------------------------------------------------------------------

    @property
    def rows(self) -> LogRows:
        return self._rows

    def set_rows(self, rows: LogRows) -> None:
        self._rows = rows
        self.rows_changed()

    def rows_changed(self) -> None:
        """The source grew or changed how it shows rows: resize, and redraw what is visible."""
        self._version += 1
        height = max(1, self.scrollable_content_region.height)
        if self.wrap:
            self.virtual_size = Size(1, self._rows.count + height)  # never wider than the view: no sideways scroll
        else:
            self.virtual_size = Size(self._rows.widest + 1, self._rows.count)
        self.refresh()

    @property
    def end_y(self) -> int:
        """The scroll position that shows the last row at the bottom."""
        count = self._rows.count
        height = self.scrollable_content_region.height
        if not self.wrap:
            return max(0, count - height)
        width = max(1, self.scrollable_content_region.width)
        used, row = 0, count - 1
        while row >= 0:
            used += self._row_height(row, width)
            if used > height:
                return row + 1 if row + 1 < count else row
            row -= 1
        return 0

    def scroll_to_end(self) -> None:
        self.scroll_to(x=0 if self.wrap else None, y=self.end_y, animate=False, immediate=True)

    def show_row(self, row: int) -> None:
        """Scroll so `row` is on screen, a third of the way down."""
        self.scroll_to(y=max(0, row - self.scrollable_content_region.height // 3), animate=False, immediate=True)

    def watch_wrap(self) -> None:
        self.rows_changed()

    # -- rendering ---------------------------------------------------------------------------

    def _row_height(self, row: int, width: int) -> int:
        """Screen rows `row` takes when wrapped at `width`."""
        text, _marker = self._rows.line(row)
        return max(1, -(-len(text) // width))

    def _wrapped_layout(self, width: int, height: int) -> list[tuple[int, int]]:
        """(row, first character) for each screen row. At the end the layout is built from
        the bottom up, so the last line sits on the last row even below a huge wrapped line."""
        top = int(self.scroll_offset.y)
        key = (top, width, height, self._version)
        if key == self._layout_key:
            return self._layout
        layout: list[tuple[int, int]] = []
        if top >= self.end_y:
            row = self._rows.count - 1
            while len(layout) < height and row >= 0:
                chunks = self._row_height(row, width)
                keep = min(chunks, height - len(layout))
                layout[:0] = [(row, chunk * width) for chunk in range(chunks - keep, chunks)]
                row -= 1
        else:
            row = top
            while len(layout) < height and row < self._rows.count:
                chunks = self._row_height(row, width)
                layout += [(row, chunk * width) for chunk in range(min(chunks, height - len(layout)))]
                row += 1
        self._layout, self._layout_key = layout, key
        return layout

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        style = self.rich_style
        if self.wrap:
            layout = self._wrapped_layout(width, self.scrollable_content_region.height)
            if y >= len(layout):
                return Strip.blank(width, style)
            row, start = layout[y]
        else:
            row, start = int(self.scroll_offset.y) + y, int(self.scroll_offset.x)
        if row >= self._rows.count:
            return Strip.blank(width, style)
        text, marker = self._rows.line(row)
        piece = self._styled(text, marker, row, start, width)
        segments = list(piece.render(self.app.console))
        return Strip(segments, piece.cell_len).crop_extend(0, width, style).apply_style(style) if segments else Strip.blank(width, style)

    def _styled(self, text: str, marker: bool, row: int, start: int, width: int) -> Text:
        if marker:
            return Text(f"── {text} ──", style=_MARKER, no_wrap=True)
        piece = Text(text[start : start + width], no_wrap=True)
        if start == 0 and text.startswith(("2", "[")):  # dim the `time [source]` prefix
            prefix_end = text.find("] ")
            if 0 < prefix_end < 40:
                piece.stylize(_PREFIX, 0, min(width, prefix_end + 1))
        if self.needle:
            self._highlight(piece, text, start, width, _CURRENT_MATCH if row == self.current_match else _MATCH)
        return piece

    def _highlight(self, piece: Text, text: str, start: int, width: int, style: Style) -> None:
        """Mark every match overlapping the visible slice; the search looks just past its edges."""
        needle = self.needle.casefold()
        margin = len(needle)
        window_start = max(0, start - margin)
        window = text[window_start : start + width + margin].casefold()
        found = window.find(needle)
        while found >= 0:
            begin = window_start + found - start
            piece.stylize(style, max(0, begin), max(0, min(width, begin + len(needle))))
            found = window.find(needle, found + 1)
