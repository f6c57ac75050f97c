"""Jobs: the `ovhai job list` table, polled adaptively, with logs, stop and delete.

Polling is one list call per interval for all jobs: fast while any job is starting
(so QUEUED → RUNNING shows within two seconds), slow once everything is settled.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from services.backends import Capability
from services.jobs.protocol import Job, JobPlatform, JobSpec, JobState
from services.units import human_age
from services.usecases.jobs import stop_job
from tui.panels.base import Panel, confirm_screen
from tui.screens.job_detail import JobDetailScreen
from tui.screens.job_logs import JobLogScreen
from tui.screens.job_run import JobRunScreen, tutorial_defaults
from widgets.filter_bar import FilterBar
from widgets.notice import NoticeKind
from widgets.resource_table import ResourceTable, Row

JOB_COLUMNS = ("ID", "NAME", "IMAGE", "STATE", "GPUS", "AGE", "URL")
POLL_TICK_S = 0.5


def state_text(state: JobState) -> Text:
    if state is JobState.RUNNING:
        style = "bold green"
    elif state.is_failure:
        style = "bold red"
    elif state.is_starting:
        style = "yellow"
    elif state is JobState.DONE:
        style = "blue"
    else:
        style = "dim"
    return Text(state.value, style=style)


def short_image(image: str) -> str:
    """The last path element (`tritonserver:23.03-py3`): the registry prefix is noise in a table."""
    return image.rsplit("/", 1)[-1]


class JobsPanel(Panel):
    capability = Capability.JOBS
    title = "Jobs"

    BINDINGS = [
        Binding("enter", "describe", "Describe", show=False),
        Binding("n", "new_job", "Run job"),
        Binding("l", "logs", "Logs"),
        Binding("s", "stop", "Stop"),
        Binding("ctrl+d", "delete", "Delete"),
        Binding("slash", "filter", "Filter"),
        Binding("r", "refresh", "Refresh", show=False),
    ]

    @dataclass
    class Listed(Message):
        jobs: list[Job]

    @dataclass
    class Changed(Message):
        """A stop or delete went through; the text says which."""

        text: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._jobs: dict[str, Job] = {}
        self._last_poll = 0.0
        self._listed_once = False

    def compose_body(self) -> ComposeResult:
        yield FilterBar(id="jobs-filter")
        yield ResourceTable(JOB_COLUMNS, id="jobs-table")

    @property
    def table(self) -> ResourceTable:
        return self.query_one(ResourceTable)

    def on_mount(self) -> None:
        super().on_mount()
        if self.deck.settings.poll:
            self.set_interval(POLL_TICK_S, self._poll_tick)

    def is_available(self) -> bool:
        return self.services.job_platform is not None

    def reload(self) -> None:
        self._jobs = {}
        self._listed_once = False
        super().reload()

    def load(self) -> None:
        if not self._listed_once:
            self.show_notice(NoticeKind.LOADING, "listing jobs…")
        self._last_poll = time.monotonic()
        self._list_jobs()

    def _poll_interval(self) -> float:
        settings = self.deck.settings
        starting = any(job.state.is_starting or job.state is JobState.INTERRUPTING for job in self._jobs.values())
        return settings.poll_fast_s if starting else settings.poll_slow_s

    def _poll_tick(self) -> None:
        if self.is_available() and time.monotonic() - self._last_poll >= self._poll_interval():
            self.load()

    @work(thread=True, exclusive=True, group="jobs-list", exit_on_error=False)
    def _list_jobs(self) -> None:
        platform = self.services.job_platform
        assert platform is not None
        self.post_message(self.Listed(platform.list()))

    @on(Listed)
    def _show_jobs(self, message: Listed) -> None:
        self._listed_once = True
        self._jobs = {job.id: job for job in message.jobs}
        now = self.deck.settings.now()
        rows = [
            Row(
                job.id,
                (
                    job.short_id,
                    job.name,
                    short_image(job.spec.image),
                    state_text(job.state),
                    str(job.spec.gpu),
                    human_age(job.created_at, now),
                    job.url or "",
                ),
            )
            for job in message.jobs
        ]
        self.table.set_rows(rows)
        if rows:
            self.notice.hide()
        else:
            self.show_notice(NoticeKind.EMPTY, "no jobs yet")

    def _selected(self) -> Job | None:
        key = self.table.selected_key
        return self._jobs.get(key) if key else None

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_describe()

    def action_describe(self) -> None:
        if job := self._selected():
            self.app.push_screen(JobDetailScreen(job, self.deck.settings.now()))

    def action_logs(self) -> None:
        if job := self._selected():
            self.app.push_screen(JobLogScreen(job))

    def action_new_job(self) -> None:
        profile = self.services.profile
        image = f"{profile.registry}/tritonserver:23.03-py3" if profile.registry else "nvcr.io/nvidia/tritonserver:23.03-py3"

        def run(platform: JobPlatform, spec: JobSpec) -> str:
            job = platform.run(spec)
            return f"started job {job.name} ({job.short_id}): {job.state}"

        def chosen(spec: JobSpec | None) -> None:
            if spec is not None:
                self._change(lambda platform: run(platform, spec))

        self.app.push_screen(JobRunScreen(tutorial_defaults(profile.region, image)), chosen)

    def action_refresh(self) -> None:
        if self.is_available():
            self.load()

    def action_stop(self) -> None:
        job = self._selected()
        if job is None:
            return
        if job.state.is_terminal:
            self.notify(f"job {job.short_id} is already {job.state}", severity="warning")
            return

        def stop(platform: JobPlatform) -> str:
            stop_job(platform, job)
            return f"stop requested for job {job.short_id}"

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._change(stop)

        detail = "RW volumes are synced back while it finalizes."
        self.app.push_screen(confirm_screen(f"Stop job {job.name} ({job.short_id})?", detail), confirmed)

    def action_delete(self) -> None:
        job = self._selected()
        if job is None:
            return
        detail = "It is still running: it will be stopped first." if not job.state.is_terminal else ""

        def delete(platform: JobPlatform) -> str:
            platform.delete(job.id, force=not job.state.is_terminal)
            return f"deleted job {job.short_id}"

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._change(delete)

        self.app.push_screen(confirm_screen(f"Delete job {job.name} ({job.short_id})?", detail), confirmed)

    @work(thread=True, group="jobs-change", exit_on_error=False)
    def _change(self, act: Callable[[JobPlatform], str]) -> None:
        """Run, stop or delete in a worker; the line `act` returns is the notification."""
        platform = self.services.job_platform
        assert platform is not None
        self.post_message(self.Changed(act(platform)))

    @on(Changed)
    def _changed(self, message: Changed) -> None:
        self.notify(message.text)
        self.load()
