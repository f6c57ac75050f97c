"""`l` on a job: its log, followed live from a thread worker.

The worker belongs to this screen, so leaving the screen cancels the stream. Lines are
posted in batches (every 50 ms at most, as k9s flushes) to keep the UI responsive on a
firehose log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker, WorkerState, get_current_worker

from services.cancel import CancelToken
from services.jobs.protocol import Job
from services.streams import batched
from widgets.log_pane import LogPane

if TYPE_CHECKING:
    from tui.app import TritonDeck

FLUSH_S = 0.05


class JobLogScreen(Screen[None]):
    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back")]

    class Lines(Message):
        def __init__(self, lines: list[str]) -> None:
            super().__init__()
            self.lines = lines

    class Ended(Message):
        pass

    def __init__(self, job: Job) -> None:
        super().__init__()
        self._job = job

    def compose(self) -> ComposeResult:
        yield LogPane(id="job-log")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        pane = self.query_one(LogPane)
        pane.title = f"{self._job.name} ({self._job.short_id})"
        pane.log.focus()
        self._follow()

    @work(thread=True, exclusive=True, group="job-log", exit_on_error=False)
    def _follow(self) -> None:
        platform = cast("TritonDeck", self.app).services.job_platform
        assert platform is not None
        worker = get_current_worker()
        # Leaving the screen cancels this worker, and through the token the stream.
        cancel = CancelToken(linked=lambda: worker.is_cancelled)
        for batch in batched(platform.follow_logs(self._job.id, cancel), FLUSH_S, cancel):
            self.post_message(self.Lines(batch))
        if not cancel.cancelled:
            self.post_message(self.Ended())

    @on(Lines)
    def _lines(self, message: Lines) -> None:
        self.query_one(LogPane).write_lines(message.lines)

    @on(Ended)
    def _ended(self) -> None:
        self.query_one(LogPane).end_stream()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            cast("TritonDeck", self.app).show_error(event.worker.error)
            self.query_one(LogPane).end_stream(failed=str(event.worker.error))
