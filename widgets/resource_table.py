"""A row-cursor DataTable for resources (buckets, objects, jobs, models), with a filter.

It keeps every row it was given and shows those matching the filter, so filtering never
refetches. Rows carry a key; the table keeps the cursor on the same key across refreshes,
which is what makes a polled list usable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from widgets.inert import inert

Cell = str | Text


@dataclass(frozen=True)
class Row:
    key: str
    cells: tuple[Cell, ...]

    def matches(self, needle: str) -> bool:
        return not needle or any(needle in str(cell).lower() for cell in self.cells)


class ResourceTable(DataTable[Cell]):
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
    ]

    def __init__(self, columns: Sequence[str], *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self._columns = tuple(columns)
        self._rows: list[Row] = []
        self._filter = ""

    def on_mount(self) -> None:
        # Text labels: a str label goes through Rich markup and loads its emoji table (10 ms of startup).
        self.add_columns(*map(Text, self._columns))

    def set_columns(self, columns: Sequence[str]) -> None:
        if tuple(columns) == self._columns:
            return
        self._columns = tuple(columns)
        self.clear(columns=True)
        self.add_columns(*map(Text, self._columns))

    def set_rows(self, rows: Sequence[Row]) -> None:
        self._rows = list(rows)
        self._render_rows()

    def append_rows(self, rows: Sequence[Row]) -> None:
        """Add rows at the end without redrawing the rest: paging in a huge listing."""
        self._rows.extend(rows)
        for row in rows:
            if row.matches(self._filter):
                self.add_row(*map(inert, row.cells), key=row.key)

    def set_filter(self, text: str) -> None:
        self._filter = text.strip().lower()
        self._render_rows()

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def _render_rows(self) -> None:
        """The cursor stays on its key; when that row is gone (deleted, stopped and dropped) it
        stays at its place, on the row that followed, so a second action never lands on the
        first row by surprise."""
        keep, place = self.selected_key, self.cursor_row
        self.clear()
        for row in self._rows:
            if row.matches(self._filter):
                self.add_row(*map(inert, row.cells), key=row.key)
        if keep is not None and keep in self.rows:
            self.move_cursor(row=self.get_row_index(keep), animate=False)
        elif keep is not None and self.row_count:
            self.move_cursor(row=min(place, self.row_count - 1), animate=False)
