"""`l` on a job: its log, followed live (see `LogScreen`); `s` keeps the container's own lines."""

from __future__ import annotations

from services.jobs.protocol import JobPlatform
from services.logs.format import JOB_SOURCE
from tui.screens.log_screen import LogScreen


class JobLogScreen(LogScreen):
    """A job's log; `s` shows only the container's own lines (`--from job`) or all."""

    def platform(self) -> JobPlatform:
        return self.services.jobs()

    def next_source(self, current: str | None) -> str | None:
        return None if current else JOB_SOURCE
