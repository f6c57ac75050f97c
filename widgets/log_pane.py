"""A log view with an explicit, visible follow state (the k9s complaint list, answered).

`write_lines` appends a batch; while following the view stays at the end, and any
scroll away from the end pauses following, as toolong does. The indicator line always
says which state the view is in and whether the stream is waiting, live or ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Log, Static

DEFAULT_MAX_LINES = 10_000


class StreamState(StrEnum):
    WAITING = "waiting for logs…"
    LIVE = "live"
    ENDED = "stream ended"
    FAILED = "stream failed"


class _IndicatorLine(Static):
    pass


class LogPane(Vertical):
    BINDINGS = [
        Binding("f", "toggle_follow", "Follow"),
        Binding("end,G", "follow", "End", show=False),
    ]

    following: reactive[bool] = reactive(True)
    stream: reactive[StreamState] = reactive(StreamState.WAITING)
    title: reactive[str] = reactive("")

    def __init__(self, *, max_lines: int = DEFAULT_MAX_LINES, id: str | None = None) -> None:
        super().__init__(id=id)
        self._max_lines = max_lines
        self._received = 0

    def compose(self) -> ComposeResult:
        yield _IndicatorLine(id="log-indicator")
        yield Log(max_lines=self._max_lines, auto_scroll=False, id="log-lines")

    @property
    def log(self) -> Log:
        return self.query_one("#log-lines", Log)

    @property
    def received(self) -> int:
        return self._received

    def on_mount(self) -> None:
        self._refresh_indicator()
        self.watch(self.log, "scroll_y", self._on_scrolled, init=False)

    def write_lines(self, lines: Sequence[str]) -> None:
        if not lines:
            return
        self._received += len(lines)
        self.stream = StreamState.LIVE
        self.log.write_lines(lines, scroll_end=self.following)
        self._refresh_indicator()

    def end_stream(self, failed: str | None = None) -> None:
        self.stream = StreamState.FAILED if failed else StreamState.ENDED
        if failed:
            self.log.write_line(f"── {failed}")
        self._refresh_indicator()

    def _on_scrolled(self, _old: float, new: float) -> None:
        if self.following and new < self.log.max_scroll_y:
            self.following = False

    def action_toggle_follow(self) -> None:
        self.following = not self.following

    def action_follow(self) -> None:
        self.following = True

    def watch_following(self, following: bool) -> None:
        if following and self.is_mounted:
            self.log.scroll_end(animate=False)
        self._refresh_indicator()

    def watch_title(self) -> None:
        self._refresh_indicator()

    def _refresh_indicator(self) -> None:
        if not self.is_mounted:
            return
        follow = Text(" FOLLOW ", style="reverse bold") if self.following else Text(" PAUSED ", style="reverse")
        line = Text.assemble(follow, "  ", (self.title, "bold"), f"  {self._received} lines  ", (self.stream.value, "dim"))
        self.query_one(_IndicatorLine).update(line)
