"""`P` on the Inference pane (or the palette): a load sweep of the chosen model, live.

The form takes the range (concurrency, or a request rate), the window, the batch and the
inputs (random or zero tensors, or a path of photos, preprocessed INCEPTION-style), `i` the protocol;
`ctrl+r` runs. The table fills level by level and the charts below it redraw: latency
(p50, p99) against load, and the server's own breakdown per level. `esc` stops a running
sweep (no request is left in flight), `ctrl+s` saves the CSV (perf_analyzer's columns) or
the JSON, `c` shows the `triton-deck perf` line this run amounts to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Label, Static
from textual.worker import Worker, WorkerState

from services.config import ProfileKind
from services.errors import UserError
from services.inference.protocol import Endpoint, Scaling, Transport
from services.perf.report import csv_text, json_document, perf_command_line
from services.perf.sweep import LevelDone, LevelResult, LevelStarted, PerfEvent, SweepConfig, SweepEnded, WindowMeasured, parse_range
from services.usecases.perf import perf_inputs, run_sweep
from services.usecases.perf_job import client_job_plan, client_job_sweep
from tui.keymap import KEYMAP
from tui.screens.deck_access import DeckAccess
from tui.screens.prompt import PromptScreen
from tui.workers import worker_token
from widgets.inert import inert
from widgets.perf_chart import LevelBars, breakdown_chart, latency_chart
from widgets.priority_footer import PriorityFooter
from widgets.resource_table import ResourceTable, Row

if TYPE_CHECKING:
    pass

COLUMNS = ("LEVEL", "INFER/S", "AVG µs", "P50", "P90", "P99", "QUEUE", "COMPUTE", "FAILED", "STABLE")
FIELDS = (("range", "range"), ("mode", "mode"), ("interval", "window ms"), ("batch", "batch"), ("inputs", "inputs"))
DEFAULTS = {"range": "1:4", "mode": "concurrency", "interval": "2000", "batch": "1", "inputs": "random"}


def result_row(result: LevelResult) -> Row:
    server = result.server
    compute = f"{server.compute_input_us + server.compute_infer_us + server.compute_output_us:.0f}" if server else "-"
    return Row(f"{result.level:g}", (
        f"{result.level:g}", f"{result.throughput:.1f}", f"{result.avg_us:.0f}", f"{result.p50_us:.0f}", f"{result.p90_us:.0f}",
        f"{result.p99_us:.0f}", f"{server.queue_us:.0f}" if server else "-", compute, str(result.failed), "yes" if result.stable else "no",
    ))  # fmt: skip


def level_bars(result: LevelResult) -> LevelBars:
    server = result.server
    parts = (server.queue_us, server.compute_input_us, server.compute_infer_us, server.compute_output_us) if server else None
    return LevelBars(result.level, result.throughput, result.p50_us, result.p99_us, parts)


class PerfScreen(DeckAccess, Screen[None]):
    BINDINGS = KEYMAP["perf"]

    @dataclass
    class Progressed(Message):
        event: PerfEvent

    def __init__(self, endpoint: Endpoint, model: str) -> None:
        super().__init__()
        self._endpoint = endpoint
        self._model = model
        self._results: list[LevelResult] = []
        self._sweeping = False
        self._client_job = False  # perf_analyzer in a client job beside the server, instead of from here

    def compose(self) -> ComposeResult:
        yield Static(inert(f"perf {self._model}", style="bold"), classes="screen-title")
        with VerticalScroll(id="perf-body"):
            with Horizontal(id="perf-form"):
                for key, label in FIELDS:
                    yield Label(label, classes="perf-label")
                    yield Input(DEFAULTS[key], id=f"perf-{key}")
            yield Static(id="perf-status")
            yield ResourceTable(COLUMNS, id="perf-table")
            yield Static(id="perf-latency", classes="perf-chart")
            yield Static(id="perf-breakdown", classes="perf-chart")
        yield PriorityFooter()

    def on_mount(self) -> None:
        self._status(f"{self._endpoint.transport.value}  ctrl+r runs the sweep; c shows the command")
        self._draw()

    def _status(self, text: str, style: str = "dim") -> None:
        self.query_one("#perf-status", Static).update(inert(text, style=style))

    def _config(self) -> SweepConfig:
        values = {key: self.query_one(f"#perf-{key}", Input).value.strip() for key, _label in FIELDS}
        mode = values["mode"].lower()
        if mode not in ("concurrency", "rate"):
            raise UserError(f"mode '{values['mode']}' is concurrency or rate")
        flag = "--request-rate-range" if mode == "rate" else "--concurrency-range"
        levels = parse_range(values["range"], flag, whole=mode != "rate")
        if not values["interval"].isdigit() or int(values["interval"]) < 50:
            raise UserError(f"window '{values['interval']}' must be milliseconds, 50 or more")
        if not values["batch"].isdigit() or int(values["batch"]) < 1:
            raise UserError(f"batch '{values['batch']}' must be a whole number, 1 or more")
        return SweepConfig(self._model, levels, mode, batch_size=int(values["batch"]), interval_ms=int(values["interval"]))

    def action_run(self) -> None:
        if self._sweeping:
            return
        try:
            config = self._config()
        except UserError as error:
            self._status(error.message, "bold red")
            return
        self._results = []
        self.query_one(ResourceTable).set_rows([])
        self._draw()
        self._sweeping = True
        self._status(f"measuring {self._model} at {', '.join(f'{level:g}' for level in config.levels)}…", "bold")
        self.query_one(ResourceTable).focus()
        self._sweep(config, self.query_one("#perf-inputs", Input).value.strip())

    @work(thread=True, exclusive=True, group="perf-sweep", exit_on_error=False)
    def _sweep(self, config: SweepConfig, source: str) -> None:
        """`source`: random or zero tensors from the model's metadata, or a path of photos."""
        client = self.deck.services.inference_client(self._endpoint)
        if self._client_job:
            services = self.deck.services
            plan = client_job_plan(services.profile.kind is ProfileKind.LOCAL, services.profile.region)
            for event in client_job_sweep(services.jobs(), services.storage(), plan, client, config, worker_token()):
                self.post_message(self.Progressed(event))
            return
        photos = () if source.lower() in ("random", "zero", "") else (Path(source).expanduser(),)
        inputs = perf_inputs(client, config.model, config.version, config.batch_size, zero=source.lower() == "zero", images=photos, scaling=Scaling.INCEPTION)
        for event in run_sweep(client, config, inputs, worker_token()):  # leaving cancels the token, the sweep joins its threads
            self.post_message(self.Progressed(event))

    @on(Progressed)
    def _progressed(self, message: Progressed) -> None:
        self.show_event(message.event)

    def show_event(self, event: PerfEvent) -> None:
        """One step of a sweep on screen (public: a test replays recorded sweeps through it)."""
        if isinstance(event, LevelStarted):
            where = "the client job's perf_analyzer is measuring" if self._client_job else "warming up…"
            self._status(f"level {event.level:g}: {where}", "bold")
        elif isinstance(event, WindowMeasured):
            self._status(f"level {event.level:g}: window {event.trial}, {event.window.throughput:.1f} infer/s, {event.window.latency_us:.0f} µs", "bold")
        elif isinstance(event, LevelDone):
            self._results.append(event.result)
            self.query_one(ResourceTable).append_rows([result_row(event.result)])
            self._draw()
        elif isinstance(event, SweepEnded):
            self._sweeping = False
            done = f"{len(self._results)} level(s) measured"
            self._status(f"{done}; stopped early: {event.reason}" if event.reason else f"{done}; ctrl+s saves CSV or JSON", "bold red" if event.reason else "bold green")

    def _draw(self) -> None:
        width = self.size.width or 80
        bars = [level_bars(result) for result in self._results]
        label = "rate" if self._results and self._results[0].mode == "rate" else "conc"
        self.query_one("#perf-latency", Static).update(latency_chart(bars, width, label))
        self.query_one("#perf-breakdown", Static).update(breakdown_chart(bars, width))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self._sweeping = False
            self._status(str(getattr(event.worker.error, "message", event.worker.error)), "bold red")

    def action_toggle_client_job(self) -> None:
        if self._sweeping:
            return
        self._client_job = not self._client_job
        where = "in a client job beside the server (perf_analyzer; its levels come back through the job's log)" if self._client_job else "from here"
        self._status(f"the sweep runs {where}: ctrl+r starts it", "bold" if self._client_job else "dim")

    def action_toggle_protocol(self) -> None:
        if self._sweeping:
            return
        transport = Transport.GRPC if self._endpoint.transport is Transport.HTTP else Transport.HTTP
        self._endpoint = replace(self._endpoint, transport=transport)
        self._status(f"{transport.value}: ctrl+r runs the sweep (the server's {transport.value} address)")

    def action_command(self) -> None:
        values = {key: self.query_one(f"#perf-{key}", Input).value.strip() for key, _label in FIELDS}
        line = perf_command_line(self._model, values["range"], values["mode"], self._endpoint.transport.value, f"-u {self._endpoint.url}")
        self._status(line)
        self.deck.copy_text(line, "the command")

    def action_save(self) -> None:
        if not self._results:
            self.notify("nothing measured yet: ctrl+r runs the sweep", severity="warning")
            return

        def chosen(answer: str | None) -> None:
            if answer:
                self._save(Path(answer).expanduser())

        self.app.push_screen(PromptScreen("Save the results to (.csv for perf_analyzer's columns, .json):", str(Path.home() / f"perf-{self._model}.csv")), chosen)

    @work(thread=True, group="perf-save", exit_on_error=False)
    def _save(self, target: Path) -> None:
        text = json.dumps(json_document(self._model, self._results, None), indent=1) if target.suffix == ".json" else csv_text(self._results)
        try:
            target.write_text(text, encoding="utf-8")
        except OSError as error:
            self.app.call_from_thread(self.notify, f"cannot save to {target}: {error.strerror}; pick another path", severity="error")
            return
        self.app.call_from_thread(self.notify, f"saved {len(self._results)} level(s) to {target}")

    def action_leave(self) -> None:
        if self._sweeping:
            self.workers.cancel_group(self, "perf-sweep")
            self._sweeping = False
            self._status("stopped: the levels measured so far stay; ctrl+r runs again", "bold yellow")
            return
        self.app.pop_screen()

