"""Jobs: the `ovhai job list` table, polled adaptively, with logs, stop and delete.

Polled as every such list is (see `PolledPanel`): fast while any job is starting or
interrupting, slow once everything is settled.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.text import Text

from services.backends import Capability
from services.jobs.protocol import Job, JobPlatform, JobSpec, JobState
from services.usecases.jobs import run_job, stop_job
from tui.keymap import KEYMAP
from tui.panels.polled import PolledPanel
from tui.render import job_cells
from tui.screens.job_detail import JobDetailScreen
from tui.screens.job_logs import JobLogScreen
from tui.screens.job_run import JobRunScreen, tutorial_defaults
from widgets.resource_table import Row

JOB_COLUMNS = ("ID", "NAME", "IMAGE", "STATE", "GPUS", "AGE", "URL")


def state_text(state: JobState) -> Text:
    """RUNNING green, failed red, on its way yellow, DONE blue, the rest (ended otherwise) dim."""
    style = "bold green" if state is JobState.RUNNING else "bold red" if state.is_failure else "yellow" if state.is_starting else "blue" if state is JobState.DONE else "dim"
    return Text(state.value, style=style)


class JobsPanel(PolledPanel):
    capability = Capability.JOBS

    BINDINGS = KEYMAP["jobs"]

    noun = "jobs"
    columns = JOB_COLUMNS
    running = "still running"
    empty = "no jobs yet"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._stopping: dict[str, JobState] = {}  # asked to stop: the state it had then

    def platform(self) -> JobPlatform:
        return self.services.jobs()

    def ended(self, item: Job) -> bool:
        return item.state.is_terminal

    def moving(self, item: Job) -> bool:
        return item.state.is_starting or item.state is JobState.INTERRUPTING or item.id in self._stopping

    def row(self, item: Job, now: datetime) -> Row:
        job = item
        state = state_text(job.state)
        if job.id in self._stopping:  # asked to stop, the platform has not said so yet
            state.append(" stopping…", style="yellow")
        cells = job_cells(job, now, narrow=True)
        return Row(job.id, tuple(state if column == "STATE" else cells[column] for column in JOB_COLUMNS))

    def listed(self) -> None:
        """A job asked to stop keeps its cue until its state moves (INTERRUPTING on AI Training)."""
        self._stopping = {job_id: state for job_id, state in self._stopping.items() if job_id in self._items and self._items[job_id].state is state}

    def _asked_to_stop(self, jobs: Sequence[Job]) -> None:
        self._stopping.update((job.id, job.state) for job in jobs)
        self.render_rows()

    def address(self, item: Job) -> str | None:
        return item.url or item.ip

    def action_describe(self) -> None:
        if job := self.selected():
            self.app.push_screen(JobDetailScreen(job, self.deck.settings.now()))

    def action_logs(self) -> None:
        if job := self.selected():
            self.app.push_screen(JobLogScreen(job))

    def action_new_job(self) -> None:
        profile = self.services.profile
        image = f"{profile.registry}/tritonserver:23.03-py3" if profile.registry else "nvcr.io/nvidia/tritonserver:23.03-py3"

        def run(platform: JobPlatform, spec: JobSpec) -> tuple[str, str]:
            job = run_job(platform, spec, self.services.object_store)
            return f"started job {job.name} ({job.short_id}): {job.state}", job.id

        def chosen(spec: JobSpec | None) -> None:
            if spec is not None:
                self.change(lambda: run(self.platform(), spec))

        self.app.push_screen(JobRunScreen(tutorial_defaults(profile.region, image)), chosen)

    def action_stop(self) -> None:
        jobs = [job for job in self.targets() if not job.state.is_terminal]
        if not jobs:
            if job := self.selected():
                self.notify(f"job {job.short_id} is already {job.state}", severity="warning")
            return

        def stop(job: Job) -> str:
            stop_job(self.platform(), job)
            return f"stop requested for job {job.short_id}"

        self.confirm_then_act("Stop", jobs, "RW volumes are synced back while it finalizes.", stop, "stop requested for", at_once="stopping", on_yes=self._asked_to_stop)
