"""`enter` on an app: spec, state timeline, replicas and their probe, the ovhai command, and a
live chart of available replicas and the scaling signal against its target.

The app is re-read in a worker every fast-poll interval while the screen is open; each
reading is one chart sample (the last CHART_SAMPLES are kept: a few minutes).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from services.apps.document import run_command_line
from services.apps.protocol import MAX_REPLICAS, App, AppState, AutomaticScaling, scaling_summary
from services.units import human_age
from tui.keymap import KEYMAP
from tui.screens.deck_access import DeckAccess
from widgets.inert import inert
from widgets.priority_footer import PriorityFooter
from widgets.scaling_chart import ScalingSample, scaling_chart

if TYPE_CHECKING:
    pass

CHART_SAMPLES = 120


def app_state_text(app: App) -> Text:
    """RUNNING green, failed red, stopped dim, on its way (QUEUED, INITIALIZING, SCALING, STOPPING) yellow."""
    state = app.state
    style = "bold green" if state is AppState.RUNNING else "bold red" if state.is_failure else "dim" if state.is_down else "yellow"
    return Text(state.value, style=style)


def app_table(app: App, now: datetime) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    spec = app.spec
    probe = spec.probe_or_default
    rows: list[tuple[str, str]] = [
        ("id", app.id), ("name", app.name), ("age", human_age(app.created_at, now)), ("image", spec.image),
        ("command", " ".join(spec.command) or "(the image's)"),
        ("resources", f"{spec.gpu} GPU" if spec.gpu else f"{spec.cpu or 1} CPU"),
        ("ports", f"http {spec.default_http_port}" + (f", grpc {spec.grpc_port}" if spec.grpc_port else "") + ("  (unsecure-http: public)" if spec.unsecure_http else "")),
        ("probe", f"GET {probe.path} on {probe.port}"), ("scaling", scaling_summary(spec.scaling)),
        ("volumes", "\n".join(str(volume) for volume in spec.volumes) or "—"), ("url", app.url or "—"), ("grpc", app.grpc_address or "—"),
    ]  # fmt: skip
    table.add_row("state", Text.assemble(app_state_text(app), f"  {app.available_replicas}/{app.desired} replicas available"))
    for label, value in rows:  # API values: a str cell would be read as Rich markup
        table.add_row(label, inert(value))
    if app.info_message:
        table.add_row("info", inert(app.info_message, style="red" if app.state.is_failure else ""))
    table.add_row("ovhai", inert(run_command_line(spec), style="dim"))
    return table


def replicas_table(app: App) -> Table:
    table = Table(box=None, padding=(0, 2), header_style="bold")
    for column in ("REPLICA", "STATE", "PROBE", "CPU", "RAM", "REQ/MIN", "LATENCY"):
        table.add_column(column, no_wrap=True)
    for replica in app.replicas:
        probe = Text("ready", style="green") if replica.ready else Text("not ready", style="yellow")
        cpu = "—" if replica.cpu_percent is None else f"{replica.cpu_percent:.0f}%"
        ram = "—" if replica.ram_percent is None else f"{replica.ram_percent:.0f}%"
        requests = "—" if replica.requests is None else str(replica.requests) + (f" ({replica.failed} failed)" if replica.failed else "")
        latency = "—" if replica.latency_ms is None else f"{replica.latency_ms:.1f} ms"
        table.add_row(inert(replica.name), inert(replica.state), probe, cpu, ram, requests, latency)
    if not app.replicas:
        table.add_row(Text("no replica reported", style="dim"), "", "", "", "", "", "")
    return table


def timeline(app: App) -> Text:
    return inert("\n".join(f"{change.at:%Y-%m-%d %H:%M:%S}  {change.state}" for change in app.history) or "—")


class AppDetailScreen(DeckAccess, Screen[None]):
    """`c`/`g`/`o` copy the URL, the gRPC address and the ovhai command (OSC 52, works over SSH)."""

    BINDINGS = KEYMAP["app-detail"]

    @dataclass
    class Read(Message):
        app: App

    def __init__(self, app: App) -> None:
        super().__init__()
        self._app = app
        self._samples: deque[ScalingSample] = deque(maxlen=CHART_SAMPLES)

    def compose(self) -> ComposeResult:
        yield Static(inert(f"app {self._app.name}", style="bold"), classes="screen-title")
        with VerticalScroll():
            yield Static(id="app-chart", classes="app-section")
            yield Static(id="app-detail", classes="app-section")
            yield Static(id="app-replicas", classes="app-section")
            yield Static(id="app-timeline", classes="app-section")
        yield PriorityFooter()

    def action_tune(self) -> None:
        from tui.screens.tune import tune_served_model

        tune_served_model(self.deck, app=self._app)

    def on_mount(self) -> None:
        self._show(self._app)
        if self.deck.settings.poll:
            self.set_interval(self.deck.settings.poll_fast_s, self._reread)

    def _reread(self) -> None:
        self._read(self._app.id)

    @work(thread=True, exclusive=True, group="app-detail", exit_on_error=False)
    def _read(self, app_id: str) -> None:
        self.post_message(self.Read(self.deck.services.apps().get(app_id)))

    @on(Read)
    def _got(self, message: Read) -> None:
        self._show(message.app)

    def _show(self, app: App) -> None:
        self._app = app
        self._samples.append(ScalingSample(app.available_replicas, app.desired, app.signal))
        scaling = app.spec.scaling
        width = max(10, self.size.width - 48)
        if isinstance(scaling, AutomaticScaling):
            chart = scaling_chart(list(self._samples), width, scaling.signal_name, scaling.target, scaling.replicas_max)
        else:
            chart = scaling_chart(list(self._samples), width, "signal (fixed scaling)", None, MAX_REPLICAS)
        self.query_one("#app-chart", Static).update(Group(Text("scaling, last minutes", style="bold"), chart))
        self.query_one("#app-detail", Static).update(app_table(app, self.deck.settings.now()))
        self.query_one("#app-replicas", Static).update(Group(Text("replicas", style="bold"), replicas_table(app)))
        self.query_one("#app-timeline", Static).update(Group(Text("timeline", style="bold"), timeline(app)))

    def action_panel(self, action: str) -> None:
        """The Apps panel's action on its selected row: this app (the list is keyed by id)."""
        self.deck.run_panel_action("apps", action)

    def action_copy(self, what: str) -> None:
        values = {"url": self._app.url, "grpc": self._app.grpc_address, "ovhai": run_command_line(self._app.spec)}
        self.deck.copy_field(f"app {self._app.short_id}", what, values.get(what))
