"""`l` on a job: its log, followed live (see `LogScreen`); `s` keeps the container's own lines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from services.cancel import CancelToken
from services.jobs.protocol import Job, LogItem
from services.logs.format import JOB_SOURCE
from tui.screens.log_screen import LogScreen

if TYPE_CHECKING:
    pass


class JobLogScreen(LogScreen):
    """A job's log; `s` shows only the container's own lines (`--from job`) or all."""

    def __init__(self, job: Job) -> None:
        super().__init__()
        self._job = job

    @property
    def title_text(self) -> str:
        return f"{self._job.name} ({self._job.short_id})"

    @property
    def save_stem(self) -> str:
        return f"{self._job.name}-{self._job.short_id}"

    def stream(self, cancel: CancelToken) -> Iterator[LogItem]:
        return self.services.jobs().follow_logs(self._job.id, cancel)

    def next_source(self, current: str | None) -> str | None:
        return None if current else JOB_SOURCE
