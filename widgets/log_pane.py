"""A log view with an explicit, visible follow state (the k9s complaint list, answered).

While following, the view stays on the last row as rows arrive; scrolling up pauses
following and the indicator counts the "N new lines" that arrived since, until `G`/End
resumes. The indicator always says which state the view is in and whether the stream
is waiting, live or ended. The pane renders rows from a `LogRows` source it does not
own: whoever owns the log (the screen) appends to it and calls `rows_grew`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from services.text import visible
from widgets.filter_bar import FilterBar
from widgets.log_view import LogRows, LogView


class StreamState(StrEnum):
    WAITING = "waiting for logs…"
    LIVE = "live"
    RECONNECTING = "reconnecting…"
    ENDED = "stream ended"
    FAILED = "stream failed"


class _IndicatorLine(Static):
    pass


class LogPane(Vertical):
    DEFAULT_CSS = """
    LogPane {
        height: 1fr;
    }
    """

    BINDINGS = [
        Binding("f", "toggle_follow", "Follow"),
        Binding("end,G", "follow", "End"),
        Binding("home,g", "top", "Top", show=False),
        Binding("w", "toggle_wrap", "Wrap"),
        Binding("slash", "search", "Search"),
        Binding("n", "next_match", "Next", show=False),
        Binding("N", "previous_match", "Previous", show=False),
    ]

    following: reactive[bool] = reactive(True)
    stream: reactive[StreamState] = reactive(StreamState.WAITING)
    title: reactive[str] = reactive("")
    details: reactive[str] = reactive("")
    note: reactive[str] = reactive("")  # the stream's condition, e.g. "reconnected 3 times in 10 s"
    match: reactive[str] = reactive("")  # where the shown match is among all: "3/17"

    @dataclass
    class SearchRequested(Message):
        """Find `query` from `after_row` on (or back); the owner answers with `show_match`."""

        log_pane: LogPane
        query: str
        after_row: int
        backwards: bool

        @property
        def control(self) -> LogPane:
            return self.log_pane

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._received = 0
        self._new_lines = 0

    def compose(self) -> ComposeResult:
        yield _IndicatorLine(id="log-indicator")
        yield LogView(id="log-lines")
        yield FilterBar(placeholder="search…  (enter finds, n/N next/previous, esc clears)", id="log-search")

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    @property
    def received(self) -> int:
        return self._received

    @property
    def new_lines(self) -> int:
        return self._new_lines

    def on_mount(self) -> None:
        self._refresh_indicator()
        self.watch(self.view, "scroll_y", self._on_scrolled, init=False)

    def set_rows(self, rows: LogRows) -> None:
        self.view.set_rows(rows)
        self._stay_at_end()

    def rows_grew(self, lines: int) -> None:
        """The source has `lines` more log lines (markers count as rows, not lines)."""
        self._received += lines
        if lines and self.stream is StreamState.WAITING:
            self.stream = StreamState.LIVE
        self.view.rows_changed()
        if self.following:
            self._stay_at_end()
        else:
            self._new_lines += lines
        self._refresh_indicator()

    def rows_reshaped(self) -> None:
        """The source now shows rows differently (filter, timestamps): redraw, keep following."""
        self.view.rows_changed()
        self._stay_at_end()

    def _stay_at_end(self) -> None:
        if self.following:
            self.call_after_refresh(self.view.scroll_to_end)

    def end_stream(self, failed: str | None = None) -> None:
        self.stream = StreamState.FAILED if failed else StreamState.ENDED
        self.details = failed or ""

    def _on_scrolled(self, old: float, new: float) -> None:
        if self.following and new < old and new < self.view.end_y:
            self.following = False

    def action_toggle_follow(self) -> None:
        self.following = not self.following

    def action_follow(self) -> None:
        self.following = True

    @on(LogView.EndRequested)
    def _end_requested(self, event: LogView.EndRequested) -> None:
        event.stop()
        self.action_follow()

    def action_top(self) -> None:
        self.following = False
        self.view.scroll_to(x=0, y=0, animate=False)

    def action_toggle_wrap(self) -> None:
        self.view.wrap = not self.view.wrap
        self._stay_at_end()
        self._refresh_indicator()

    def action_search(self) -> None:
        self.query_one(FilterBar).open()

    def _search(self, backwards: bool) -> None:
        query = self.view.needle
        if not query:
            self.action_search()
            return
        current = self.view.current_match
        start = current if current is not None else int(self.view.scroll_offset.y) - (0 if backwards else 1)
        self.post_message(self.SearchRequested(self, query, start, backwards))

    def action_next_match(self) -> None:
        self._search(backwards=False)

    def action_previous_match(self) -> None:
        self._search(backwards=True)

    def clear_search(self) -> None:
        self.view.needle = ""
        self.view.current_match = None
        self.match = ""
        bar = self.query_one(FilterBar)
        bar.value = ""
        bar.display = False
        self.view.focus()

    def show_match(self, row: int, position: int = 0, total: int = 0) -> None:
        self.following = False
        self.view.current_match = row
        self.view.show_row(row)
        self.match = f"{position}/{total}" if total else ""

    @on(FilterBar.Updated)
    def _query_typed(self, event: FilterBar.Updated) -> None:
        event.stop()
        self.view.needle = event.text
        self.view.current_match = None
        self.match = ""

    @on(FilterBar.Closed)
    def _query_done(self, event: FilterBar.Closed) -> None:
        event.stop()
        self.view.focus()
        if self.view.needle:
            self._search(backwards=False)

    def watch_following(self, following: bool) -> None:
        if following:
            self._new_lines = 0
            if self.is_mounted:
                self.view.scroll_to_end()
        self._refresh_indicator()

    def _refresh_indicator(self) -> None:
        if not self.is_mounted:
            return
        follow = Text(" FOLLOW ", style="reverse bold") if self.following else Text(" PAUSED ", style="reverse")
        parts: list[Text | str | tuple[str, str]] = [follow, "  ", (visible(self.title), "bold"), f"  {self._received} line{'' if self._received == 1 else 's'}  ", (self.stream.value, "dim")]
        if self._new_lines:
            parts += ["  ", (f"{self._new_lines} new lines (G to follow)", "bold yellow")]
        if self.view.wrap:
            parts += ["  ", ("wrap", "dim")]
        if self.details:
            parts += ["  ", (self.details, "dim")]
        if self.match:
            parts += ["  ", (f"match {self.match}", "bold")]
        if self.note:
            parts += ["  ", (self.note, "yellow")]
        self.query_one(_IndicatorLine).update(Text.assemble(*parts))

    watch_title = watch_stream = watch_details = watch_note = watch_match = _refresh_indicator
