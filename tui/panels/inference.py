"""Inference: is the server up, which models does it hold, and in what state."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static

from services.backends import Capability
from services.inference.protocol import (
    Endpoint,
    Health,
    ModelIndexEntry,
    ServerMetadata,
)
from tui.panels.base import Panel
from widgets.filter_bar import FilterBar
from widgets.notice import NoticeKind
from widgets.resource_table import ResourceTable, Row

MODEL_COLUMNS = ("MODEL", "VERSION", "STATE", "REASON")


def model_state_text(state: str) -> Text:
    style = {"READY": "bold green", "UNAVAILABLE": "bold red", "LOADING": "yellow"}.get(state, "dim")
    return Text(state or "not loaded", style=style)


class InferencePanel(Panel):
    capability = Capability.INFERENCE
    title = "Inference"

    BINDINGS = [
        Binding("r", "refresh", "Refresh", show=False),
        Binding("slash", "filter", "Filter"),
    ]

    class Checked(Message):
        def __init__(self, health: Health, server: ServerMetadata, models: list[ModelIndexEntry]) -> None:
            super().__init__()
            self.health = health
            self.server = server
            self.models = models

    def compose_body(self) -> ComposeResult:
        yield Static(id="server-box", classes="box")
        yield FilterBar(id="models-filter")
        yield ResourceTable(MODEL_COLUMNS, id="models-table")

    def is_available(self) -> bool:
        return self.services.inference is not None

    @property
    def endpoint(self) -> Endpoint | None:
        return self.services.default_endpoint

    def load(self) -> None:
        endpoint = self.endpoint
        if endpoint is None:
            self.show_notice(NoticeKind.EMPTY, "no server yet: start a server job in the Jobs panel")
            return
        self.show_notice(NoticeKind.LOADING, f"checking {endpoint.url}…")
        self._check(endpoint)

    @work(thread=True, exclusive=True, group="inference-check", exit_on_error=False)
    def _check(self, endpoint: Endpoint) -> None:
        factory = self.services.inference
        assert factory is not None
        client = factory(endpoint)
        health = client.health()
        self.post_message(self.Checked(health, client.server_metadata(), client.model_index()))

    @on(Checked)
    def _checked(self, message: Checked) -> None:
        self.notice.hide()
        endpoint = self.endpoint
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        health = message.health
        ready = Text("ready", style="bold green") if health.ready else Text("not ready", style="bold red")
        grid.add_row("endpoint", f"{endpoint.url if endpoint else ''} ({endpoint.transport.value if endpoint else ''})")
        grid.add_row("health", Text.assemble("live " if health.live else "not live ", ready, f"  {health.latency_ms:.0f} ms"))
        grid.add_row("server", f"{message.server.name} {message.server.version}")
        self.query_one("#server-box", Static).update(grid)
        rows = [Row(entry.name + "/" + entry.version, (entry.name, entry.version, model_state_text(entry.state), entry.reason)) for entry in message.models]
        self.query_one(ResourceTable).set_rows(rows)

    def action_refresh(self) -> None:
        if self.is_available():
            self.load()
