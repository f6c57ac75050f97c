"""A row-cursor DataTable for resources (buckets, objects, jobs, models), with a filter,
marks and sorting.

It keeps every row it was given and shows those matching the filter, so filtering never
refetches. Rows carry a key; the table keeps the cursor on the same key across refreshes,
which is what makes a polled list usable. `space` marks a row (k9s: a bulk action then takes
the marked rows), `S` sorts by the next column (▲ on its header), as the rows come.
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
    DEFAULT_CSS = """
    ResourceTable {
        height: 1fr;
    }
    """

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
        Binding("space", "toggle_mark", "Mark", show=False),
        Binding("S", "next_sort", "Sort", show=False),
    ]

    def __init__(self, columns: Sequence[str], *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self._columns = tuple(columns)
        self._rows: list[Row] = []
        self._filter = ""
        self.marks: set[str] = set()
        self._sort: int | None = None  # the column rows are sorted by, None: as given

    def on_mount(self) -> None:
        # Text labels: a str label goes through Rich markup and loads its emoji table (10 ms of startup).
        self.add_columns(*self._labels())

    def _labels(self) -> list[Text]:
        return [Text(f"{name} ▲" if index == self._sort else name) for index, name in enumerate(self._columns)]

    def set_columns(self, columns: Sequence[str]) -> None:
        if tuple(columns) == self._columns:
            return
        self._columns = tuple(columns)
        self._sort = None
        self.marks.clear()
        self.clear(columns=True)
        self.add_columns(*self._labels())

    def set_rows(self, rows: Sequence[Row]) -> None:
        self._rows = list(rows)
        self.marks &= {row.key for row in self._rows}  # a row that went takes its mark along
        self._render_rows()

    def action_toggle_mark(self) -> None:
        key = self.selected_key
        if key is None:
            return
        self.marks ^= {key}
        self._render_rows()
        self.action_cursor_down()

    def action_next_sort(self) -> None:
        """The next column, then back to the order the rows came in."""
        following = 0 if self._sort is None else self._sort + 1
        self._sort = following if following < len(self._columns) else None
        self.clear(columns=True)
        self.add_columns(*self._labels())
        self._render_rows()

    def _ordered(self) -> list[Row]:
        column = self._sort
        if column is None:
            return self._rows
        return sorted(self._rows, key=lambda row: sort_key(row.cells[column]) if column < len(row.cells) else (1, 0.0, ""))

    def _shown(self, row: Row) -> list[Text]:
        cells = [inert(cell) for cell in row.cells]
        if row.key in self.marks and cells:
            cells[0] = Text.assemble(("● ", "bold"), cells[0])  # a glyph, so a mark shows without colour too
        return cells

    def append_rows(self, rows: Sequence[Row]) -> None:
        """Add rows at the end without redrawing the rest: paging in a huge listing."""
        self._rows.extend(rows)
        if self._sort is not None:
            self._render_rows()
            return
        for row in rows:
            if row.matches(self._filter):
                self.add_row(*self._shown(row), key=row.key)

    def set_filter(self, text: str) -> None:
        self._filter = text.strip().lower()
        self._render_rows()

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def select_key(self, key: str) -> None:
        """The cursor on the row `key`, when it is shown."""
        if key in self.rows:
            self.move_cursor(row=self.get_row_index(key), animate=False)

    def _render_rows(self) -> None:
        """The cursor stays on its key; when that row is gone (deleted, stopped and dropped) it
        stays at its place, on the row that followed, so a second action never lands on the
        first row by surprise."""
        keep, place = self.selected_key, self.cursor_row
        self.clear()
        for row in self._ordered():
            if row.matches(self._filter):
                self.add_row(*self._shown(row), key=row.key)
        if keep is not None and keep in self.rows:
            self.move_cursor(row=self.get_row_index(keep), animate=False)
        elif keep is not None and self.row_count:
            self.move_cursor(row=min(place, self.row_count - 1), animate=False)


def sort_key(cell: Cell) -> tuple[int, float, str]:
    """Numbers (sizes like 31.2 MiB, ages like 10m, GPU counts) by value, then text, any case."""
    text = str(cell).strip()
    number = text.split(" ", 1)[0].rstrip("smhd")
    try:
        return (0, float(number) * _scale(text), "")
    except ValueError:
        return (1, 0.0, text.casefold())


_UNITS = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "m": 60, "h": 3600, "d": 86400}


def _scale(text: str) -> float:
    unit = text.split(" ", 1)[1] if " " in text else text.lstrip("0123456789.")
    return float(_UNITS.get(unit, 1))
