"""`enter` on a job: its spec, state timeline, endpoints and failure reason."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from services.jobs.document import run_command_line
from services.jobs.protocol import Job
from services.units import human_age
from tui.keymap import KEYMAP
from tui.screens.deck_access import DeckAccess
from widgets.inert import inert
from widgets.priority_footer import PriorityFooter

if TYPE_CHECKING:
    pass


def job_table(job: Job, now: datetime) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    spec = job.spec
    rows: list[tuple[str, str | Text]] = [
        ("id", job.id),
        ("name", job.name),
        ("state", job.state.value),
        ("age", human_age(job.created_at, now)),
        ("image", spec.image),
        ("command", " ".join(spec.command)),
        ("resources", f"{spec.gpu} GPU" if spec.gpu else f"{spec.cpu or 1} CPU"),
        ("http port", str(spec.default_http_port) + ("  (unsecure-http: public)" if spec.unsecure_http else "")),
        ("volumes", "\n".join(str(volume) for volume in spec.volumes) or "—"),
        ("url", job.url or "—"),
        ("ip", job.ip or "—"),
        ("grpc", job.grpc_address or "—"),
    ]
    if job.info_message:
        rows.append(("info", inert(job.info_message, style="red" if job.state.is_failure else "")))
    for label, value in rows:  # API values: a str cell would be read as Rich markup
        table.add_row(label, inert(value))
    table.add_row("ovhai", inert(run_command_line(spec), style="dim"))
    table.add_row("", "")
    table.add_row("timeline", "\n".join(f"{change.at:%Y-%m-%d %H:%M:%S}  {change.state}" for change in job.history))
    return table


class JobDetailScreen(DeckAccess, Screen[None]):
    """`c`/`i` copy the URL/IP through the terminal (OSC 52), which also works over SSH;
    `l`, `s` and `ctrl+d` do what they do on the Jobs panel, to this job."""

    BINDINGS = KEYMAP["job-detail"]

    def __init__(self, job: Job, now: datetime) -> None:
        super().__init__()
        self._job = job
        self._now = now

    def action_panel(self, action: str) -> None:
        """The Jobs panel's action on its selected row: this job (the list is keyed by id)."""
        self.deck.run_panel_action("jobs", action)

    def action_tune(self) -> None:
        from tui.screens.tune import tune_served_model

        tune_served_model(self.deck, job_id=self._job.id)

    def action_copy(self, what: str) -> None:
        values = {"url": self._job.url, "ip": self._job.ip, "ovhai": run_command_line(self._job.spec)}
        self.deck.copy_field(f"job {self._job.short_id}", what, values.get(what))

    def compose(self) -> ComposeResult:
        yield Static(inert(f"job {self._job.name}", style="bold"), classes="screen-title")
        with VerticalScroll():
            yield Static(job_table(self._job, self._now), id="job-detail")
        yield PriorityFooter()
