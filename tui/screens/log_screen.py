"""What the job and app log screens share: a log followed live from a thread worker into a spool file.

The worker belongs to this screen, so leaving the screen cancels the stream. It writes
lines to the spool itself and posts only counts, in batches (every 50 ms at most, as
k9s flushes), so a firehose log costs the UI thread one redraw per batch. Searching and
saving read the spool in workers too; the UI thread only ever reads the rows on screen.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from services import locations
from services.apps.protocol import AppPlatform
from services.cancel import CancelToken
from services.config import update_config
from services.jobs.protocol import JobPlatform, LogItem, Named, is_marker
from services.logs.spool import LogSpool, LogViewModel
from services.streams import batched
from tui.keymap import KEYMAP
from tui.screens.deck_access import DeckAccess
from tui.screens.prompt import PromptScreen
from tui.workers import worker_token
from widgets.log_pane import LogPane, StreamState
from widgets.priority_footer import PriorityFooter

if TYPE_CHECKING:
    pass

FLUSH_S = 0.05
BURST_S = 10.0


class ReconnectTally:
    """Reconnects of the last BURST_S seconds: one row in the log per burst, a count in the
    indicator for the rest (a flaky link fills the status line, not the screen)."""

    def __init__(self) -> None:
        self._times: deque[float] = deque()

    def count(self, now: float) -> bool:
        """Count a reconnect; True when it starts a burst (the log gets a row for it)."""
        self._forget(now)
        first = not self._times
        self._times.append(now)
        return first

    def summary(self, now: float) -> str:
        self._forget(now)
        count = len(self._times)
        return f"reconnected {count} times in {BURST_S:g} s" if count > 1 else ""

    def _forget(self, now: float) -> None:
        while self._times and self._times[0] < now - BURST_S:
            self._times.popleft()


class LogScreen(DeckAccess, Screen[None]):
    """A followed log; a subclass says whose (`title`, `stream`) and what `s` filters on."""

    BINDINGS = KEYMAP["log-screen"]

    @dataclass
    class Grew(Message):
        lines: int
        reconnected: bool
        reconnects: str  # "reconnected 3 times in 10 s", or ""

    class Ended(Message):
        pass

    @dataclass
    class Found(Message):
        query: str
        row: int | None
        position: tuple[int, int] = (0, 0)  # which match, of how many

    def __init__(self, followed: Named) -> None:
        super().__init__()
        self.followed = followed
        cache = locations.cache_dir()
        cache.mkdir(parents=True, exist_ok=True)
        self._spool = LogSpool(cache)
        self._model = LogViewModel(self._spool)

    def compose(self) -> ComposeResult:
        yield LogPane(id="job-log")
        yield PriorityFooter()

    @property
    def pane(self) -> LogPane:
        return self.query_one(LogPane)

    def on_mount(self) -> None:
        self.pane.title = self.title_text
        config = self.deck.config
        self._model.show_time = config.log_times  # `t` and `w` as the user last left them
        self.pane.view.wrap = config.log_wrap
        self.watch(self.pane.view, "wrap", self._remember_view, init=False)
        self.pane.set_rows(self._model)
        self.pane.view.focus()
        self._follow()

    def on_unmount(self) -> None:
        self._spool.close()

    @work(thread=True, exclusive=True, group="job-log", exit_on_error=False)
    def _follow(self) -> None:
        # Leaving the screen cancels this worker, and through the token the stream.
        cancel = worker_token()
        reconnects = ReconnectTally()
        for batch in batched(self.stream(cancel), FLUSH_S, cancel):
            lines: list[str] = []
            added = 0
            reconnected = False
            for item in batch:
                if is_marker(item):
                    added += self._spool.append(lines)
                    if reconnects.count(time.monotonic()):  # the first of a burst is a row; the rest, a count
                        self._spool.mark(item.value)
                    reconnected, lines = True, []
                else:
                    lines.append(item)
            added += self._spool.append(lines)
            self.post_message(self.Grew(added, reconnected, reconnects.summary(time.monotonic())))
        if not cancel.cancelled:
            self._spool.mark("stream ended")
            self.post_message(self.Ended())

    # -- what a subclass says --------------------------------------------------------------------

    kind: ClassVar[str] = ""  # "app": named before the title and the saved file's name (a job's is the default)

    @property
    def title_text(self) -> str:
        return " ".join(filter(None, (self.kind, f"{self.followed.name} ({self.followed.short_id})")))

    @property
    def save_stem(self) -> str:
        return "-".join(filter(None, (self.kind, self.followed.name, self.followed.short_id)))

    def platform(self) -> JobPlatform | AppPlatform:
        """Whose `follow_logs` the screen reads, in a worker."""
        raise NotImplementedError

    def stream(self, cancel: CancelToken) -> Iterator[LogItem]:
        return self.platform().follow_logs(self.followed.id, cancel)

    def next_source(self, current: str | None) -> str | None:
        raise NotImplementedError

    @on(Grew)
    def _grew(self, message: Grew) -> None:
        self._model.refresh()
        if message.reconnected:
            self.pane.stream = StreamState.LIVE
        self.pane.note = message.reconnects
        self.pane.rows_grew(message.lines)

    @on(Ended)
    def _ended(self) -> None:
        self._model.refresh()
        self.pane.rows_grew(0)
        self.pane.end_stream()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None and event.worker.group == "job-log":
            self.deck.show_error(event.worker.error)
            self.pane.end_stream(failed=str(event.worker.error))

    # -- display choices ---------------------------------------------------------------------

    def action_toggle_time(self) -> None:
        self._model.show_time = not self._model.show_time
        if self._model.grep:  # a text in the times matched with them, or not without
            self._model.set_grep(self._model.grep)
        self.pane.rows_reshaped()
        self._remember_view()

    def _remember_view(self, *_changed: object) -> None:
        deck = self.deck
        deck.config = deck.config.with_log_view(self._model.show_time, self.pane.view.wrap)
        self._save_view(self._model.show_time, self.pane.view.wrap)

    @work(thread=True, exclusive=True, group="log-view-choices", exit_on_error=False)
    def _save_view(self, times: bool, wrap: bool) -> None:
        update_config(lambda config: config.with_log_view(times, wrap))

    def action_toggle_source(self) -> None:
        self._model.set_source(self.next_source(self._model.source))
        self._show_filters()
        self.pane.rows_reshaped()

    def action_toggle_grep(self) -> None:
        """Only the lines that hold the searched text (less's `&`); again shows them all."""
        if self._model.grep:
            self._model.set_grep("")
        elif self.pane.view.needle:
            self._model.set_grep(self.pane.view.needle)
            self.pane.view.current_match = None
            self.pane.match = ""
        else:
            self.notify("search first (/), then & shows only the lines that match", severity="warning")
            return
        self._show_filters()
        self.pane.rows_reshaped()

    def _show_filters(self) -> None:
        shown = [f"from {self._model.source} only"] if self._model.source else []
        shown += [f"only lines with '{self.pane.view.needle}'"] if self._model.grep else []
        self.pane.details = ", ".join(shown)

    # -- search and save ---------------------------------------------------------------------

    @on(LogPane.SearchRequested)
    def _search(self, message: LogPane.SearchRequested) -> None:
        self._find(message.query, message.after_row, message.backwards)

    @work(thread=True, exclusive=True, group="job-log-search", exit_on_error=False)
    def _find(self, query: str, after_row: int, backwards: bool) -> None:
        row = self._model.find(query, after_row, backwards)
        self.post_message(self.Found(query, row, self._model.match_position(query, row) if row is not None else (0, 0)))

    @on(Found)
    def _found(self, message: Found) -> None:
        if message.row is None:
            self.notify(f"no line contains '{message.query}'", severity="warning")
        else:
            self.pane.show_match(message.row, *message.position)

    def action_back(self) -> None:
        """esc clears a search (highlights and the match) before it leaves the log, as the prompt says."""
        if self.pane.view.needle:
            if self._model.grep:
                self._model.set_grep("")
                self.pane.rows_reshaped()
            self.pane.clear_search()
            self._show_filters()
            return
        self.app.pop_screen()

    def action_pager(self) -> None:
        """The rows as shown (times, source and filter included) in the user's pager."""
        from tui.handoff import hand_over, scratch_file

        text = "".join(self._model.line(row)[0] + "\n" for row in range(self._model.count))
        with scratch_file(f"{self.save_stem}.log", text) as path:
            problem = hand_over(self.app, "PAGER", path)
        if problem:
            self.notify(problem, severity="warning")

    def action_save(self) -> None:
        # Home, not wherever the app was started (a read-only checkout, /): a place the user finds again.
        default = str(Path.home() / f"{self.save_stem}.log")

        def chosen(answer: str | None) -> None:
            if answer:
                self._save(Path(answer))

        self.app.push_screen(PromptScreen("Save the log to:", default), chosen)

    @work(thread=True, group="job-log-save", exit_on_error=False)
    def _save(self, target: Path) -> None:
        try:
            count = self._spool.save(target)
        except OSError as error:
            self.app.call_from_thread(self.notify, f"cannot save to {target}: {error.strerror}; pick another path", severity="error")
            return
        self.app.call_from_thread(self.notify, f"saved {count} line{'' if count == 1 else 's'} to {target}")
