"""`T` on the Inference pane, `t` in a job's or an app's detail: the config that serves the
most under a latency budget, searched on the running server (services/usecases/tune.py).

The form takes the dimensions, the levels and the budget; `ctrl+r` starts the search. The
table fills as candidates finish, the chart places them by throughput and p99 with the front
bright, and once the search ends the verdict and the winner's config.pbtxt diff show; `w`
writes the winner into a local model directory or the bucket the server loads from, after a
confirmation showing the diff. `x` cancels (the config found is loaded back). `esc` leaves the
search running: the app holds it (tui/tune_runs.py), and reopening the screen resumes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Label, Static

from services.apps.protocol import App
from services.cancel import CancelToken
from services.config import ProfileKind
from services.errors import UserError
from services.inference.protocol import Endpoint, Transport
from services.perf.sweep import SweepConfig, parse_range
from services.perf.tune import CandidateResult, parse_dimensions, ranked
from services.secrets import redact
from services.usecases.server import find_server
from services.usecases.tune import (
    CandidateDone,
    CandidateStarted,
    PlannedWrite,
    TuneEnded,
    TuneEvent,
    TuneSettings,
    TuneStarted,
    check_tunable_app,
    plan_bucket_winner,
    plan_file_winner,
    winner_diff,
    write_planned,
)
from tui.keymap import KEYMAP
from tui.screens.deck_access import DeckAccess
from tui.screens.prompt import PromptScreen
from tui.tune_runs import TuneRun
from widgets.inert import inert
from widgets.priority_footer import PriorityFooter
from widgets.resource_table import ResourceTable, Row
from widgets.tune_chart import TunePoint, diff_text, mark, tune_chart

if TYPE_CHECKING:
    from tui.app import TritonDeck

COLUMNS = ("#", "CONFIG", "LEVEL", "INFER/S", "±%", "P99 ms", "QUEUE")
FIELDS = (
    ("instances", "instances", "1,2,3,4,5"), ("batch", "max batch", ""), ("dynamic", "dyn. batch", "on"),
    ("delay", "delay µs", "0"), ("range", "concurrency", "1:4"), ("budget", "p99 ≤ ms", ""),
    ("objective", "objective", "throughput"), ("search", "search", "brute"), ("minutes", "minutes", ""),
    ("window", "window ms", "1000"),
)  # fmt: skip
# A level is stable after three windows within 10 % (at most 10 windows), after a warm-up: the CLI's defaults.
STABILITY_PERCENT, MAX_TRIALS, WARMUP_MS = 10.0, 10, 500


def result_row(rank: int, result: CandidateResult, front: bool) -> Row:
    key = result.candidate.label
    if not result.feasible:
        why = "refused" if result.refused else "over budget"
        return Row(key, ("-" if rank else "now", result.candidate.short_label, "-", why, "", "", ""))
    share = f"{100 * result.queue_share:.0f}%" if result.queue_share is not None else "-"
    number = Text(mark(rank) if rank else "now", style="bold green" if front else "")
    return Row(key, (number, result.candidate.short_label, f"{result.level:g}", f"{result.throughput:.1f}", f"{result.spread_percent:.1f}", f"{result.p99_us / 1000:.2f}", share))


class TuneScreen(DeckAccess, Screen[None]):
    BINDINGS = KEYMAP["tune"]

    class Progressed(Message):
        def __init__(self, item: TuneEvent | str) -> None:
            super().__init__()
            self.item = item

    def __init__(self, endpoint: Endpoint, model: str, local: bool) -> None:
        super().__init__()
        self._endpoint = endpoint
        self._model = model
        self._local = local
        self._run: TuneRun | None = None
        self._done: list[CandidateResult] = []
        self._ended: TuneEnded | None = None

    def compose(self) -> ComposeResult:
        yield Static(inert(f"tune {self._model}  {self._endpoint.url}", style="bold"), classes="screen-title")
        with VerticalScroll(id="tune-body"):
            with Grid(id="tune-form"):
                for key, label, default in FIELDS:
                    yield Label(label, classes="perf-label")
                    yield Input(default, id=f"tune-{key}")
            yield Static(id="tune-status")
            yield ResourceTable(COLUMNS, id="tune-table")
            with Horizontal(id="tune-result"):
                yield Static(id="tune-chart")
                yield Static(id="tune-diff")
        yield PriorityFooter()

    def on_mount(self) -> None:
        run = self.deck.tune_runs.get(self._endpoint.url, self._model)
        if run is None:
            where = "the local server's CPU instances" if self._local else "the server"
            self._status(f"ctrl+r loads each candidate into {where} and sweeps it; the config in force is loaded back at the end", "dim")
            self._draw()
            return
        self._follow(run)  # reopened: the search so far, then what comes

    def on_unmount(self) -> None:
        if self._run is not None:
            self._run.listener = None  # the search goes on without the screen

    def _follow(self, run: TuneRun) -> None:
        self._run = run
        self._done, self._ended = [], None
        self.query_one(ResourceTable).set_rows([])
        for event in run.events:
            self.show_event(event)
        if run.error is not None:
            self._failed(run.error)
        elif run.running and self._ended is None:
            self._status("resumed: the search went on while the screen was closed", "bold")

        def listen(item: TuneEvent | str) -> None:
            self.post_message(self.Progressed(item))

        run.listener = listen
        self._draw()

    def _status(self, text: str, style: str) -> None:
        self.query_one("#tune-status", Static).update(inert(text, style=style))

    def _settings(self) -> TuneSettings:
        values = {key: self.query_one(f"#tune-{key}", Input).value.strip() for key, _label, _default in FIELDS}
        dimensions = parse_dimensions(values["instances"], values["batch"], values["dynamic"] or "on", values["delay"], None)
        levels = parse_range(values["range"] or "1:4", "concurrency")
        if values["objective"] not in ("throughput", "latency"):
            raise UserError(f"objective '{values['objective']}' is throughput or latency")
        if values["search"] not in ("brute", "quick"):
            raise UserError(f"search '{values['search']}' is brute (every candidate) or quick (one dimension at a time)")
        budget, minutes = (_positive(values[key], label) for key, label in (("budget", "p99 ≤ ms"), ("minutes", "minutes")))
        if not values["window"].isdigit() or int(values["window"]) < 50:
            raise UserError(f"window ms '{values['window']}' must be milliseconds, 50 or more")
        sweep = SweepConfig(self._model, levels, interval_ms=int(values["window"]), stability=STABILITY_PERCENT, max_trials=MAX_TRIALS, warmup_ms=WARMUP_MS)
        return TuneSettings(dimensions, sweep, budget, values["objective"], minutes, self._local, values["search"])

    def action_run(self) -> None:
        if self._run is not None and self._run.running:
            self.notify("a search is running: x cancels it", severity="warning")
            return
        try:
            settings = self._settings()
        except UserError as error:
            self._status(error.message, "bold red")
            return
        client = self.services.inference_client(self._endpoint)
        self._follow(self.deck.tune_runs.start(self.app, client, settings))
        self._status("checking that the server takes config overrides…", "bold")
        self.query_one(ResourceTable).focus()

    @on(Progressed)
    def _progressed(self, message: Progressed) -> None:
        if isinstance(message.item, str):
            self._failed(message.item)
        else:
            self.show_event(message.item)
        self._draw()

    def _failed(self, line: str) -> None:
        self._status(redact(line), "bold red")

    def show_event(self, event: TuneEvent) -> None:
        """One step of a search on screen (public: a snapshot test replays recorded events)."""
        table = self.query_one(ResourceTable)
        if isinstance(event, TuneStarted):
            self._done, self._ended = [], None
            self.query_one("#tune-form").display = False  # the results need the rows more: `f` shows it again
            table.set_rows([])
            how = "every candidate" if event.search == "brute" else "a quick search"
            self._status(f"{len(event.candidates)} candidate(s), {how}: each loaded into the running server and swept", "bold")
        elif isinstance(event, CandidateStarted):
            of = f"/{event.total}" if event.total else ""
            self._status(f"[{event.number}{of}] {event.candidate.label}: loading and measuring…", "bold")
        elif isinstance(event, CandidateDone):
            self._done.append(event.result)
            table.set_rows(self._rows(self._ranked(), None, ()))
        elif isinstance(event, TuneEnded):
            self._ended = event
            table.set_rows(self._rows(list(event.results), event.current, event.front))
            partial = "partial (the time budget ended the search): " if event.partial else ""
            style = "bold red" if event.reason else "bold green" if event.verdict.winner else "bold yellow"
            self._status(partial + event.verdict.line + ("; w writes it" if event.winner_config else ""), style)
        self._draw()

    def _ranked(self) -> list[CandidateResult]:
        objective = self._run.settings.objective if self._run is not None else "throughput"
        return ranked(self._done, objective)

    @staticmethod
    def _rows(results: list[CandidateResult], current: CandidateResult | None, front: tuple[CandidateResult, ...]) -> list[Row]:
        on_front = {id(result) for result in front}
        rows = [result_row(rank, result, id(result) in on_front) for rank, result in enumerate(results, start=1)]
        if current is not None:
            rows.append(result_row(0, current, False))
        return rows

    def _draw(self) -> None:
        ended = self._ended
        results = list(ended.results) if ended is not None else self._ranked()
        front = {id(result) for result in ended.front} if ended is not None else set()
        points = [TunePoint(rank, r.throughput, r.p99_us, id(r) in front) for rank, r in enumerate(results, start=1) if r.feasible]
        if ended is not None and ended.current is not None and ended.current.feasible:
            points.append(TunePoint(0, ended.current.throughput, ended.current.p99_us))
        width = self.size.width or 80
        chart = self.query_one("#tune-chart", Static)
        diff = self.query_one("#tune-diff", Static)
        chart.update(tune_chart(points, max(30, width // 2 - 2) if ended is not None else width - 2))
        diff.display = ended is not None
        if ended is not None:
            diff.update(diff_text(winner_diff(ended.original, ended.winner_config) if ended.winner_config else []))

    def action_form(self) -> None:
        form = self.query_one("#tune-form")
        form.display = not form.display
        if form.display:
            self.query_one(f"#tune-{FIELDS[0][0]}", Input).focus()

    def action_cancel(self) -> None:
        if self._run is None or not self._run.running:
            return
        self._run.cancel()
        self._status(f"cancelling: {self._model}'s config in force is being loaded back…", "bold yellow")

    def action_write(self) -> None:
        ended = self._ended
        if ended is None or ended.winner_config is None:
            self.notify("no winner to write: the search has not ended with one", severity="warning")
            return
        winner = ended.winner_config

        def chosen(answer: str | None) -> None:
            if answer:
                self._plan_write(answer.strip(), winner)

        question = f"Write the winner into (a local model directory, or NAME@REGION[/PREFIX]: the bucket the server loads {self._model} from):"
        self.app.push_screen(PromptScreen(question, ""), chosen)

    @work(thread=True, group="tune-write", exit_on_error=False)
    def _plan_write(self, target: str, winner: dict[str, object]) -> None:
        try:
            if "@" in target:
                planned = plan_bucket_winner(self.services.storage(), target, self._model, winner)
            else:
                planned = plan_file_winner(Path(target).expanduser(), winner)
        except UserError as error:
            self.app.call_from_thread(self.deck.show_error, error)
            return
        self.app.call_from_thread(self._confirm_write, planned)

    def _confirm_write(self, planned: PlannedWrite) -> None:
        from tui.panels.base import confirm_screen

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._write(planned)

        self.app.push_screen(confirm_screen(f"Write the winner into {planned.where}?", "\n".join(planned.diff)), confirmed)

    @work(thread=True, group="tune-write", exit_on_error=False)
    def _write(self, planned: PlannedWrite) -> None:
        try:
            write_planned(self.services.storage() if planned.bucket is not None else None, planned, CancelToken())
        except UserError as error:
            self.app.call_from_thread(self.deck.show_error, error)
            return
        self.app.call_from_thread(self.notify, f"wrote the winner into {planned.where}: the server takes it at its next load of {self._model}")

    def action_leave(self) -> None:
        if self._run is not None and self._run.running:
            self.notify(f"the search goes on: reopen tune on {self._model} to follow it, x there cancels it")
        self.app.pop_screen()


def tune_served_model(deck: TritonDeck, job_id: str | None = None, app: App | None = None) -> None:
    """From a job's or an app's detail: which model (the server names it), then its endpoint,
    found in a worker, then the Tune screen. An app with several replicas is refused first."""
    local = deck.services.profile.kind is ProfileKind.LOCAL

    def find(model: str) -> None:
        try:
            if app is not None:
                check_tunable_app(app)
            server = find_server(deck.services, Transport.HTTP, job_id=job_id, app_id=app.id if app is not None else None)
            if server is None:
                raise UserError("the server has no address yet: wait until it is RUNNING")
        except UserError as error:
            deck.call_from_thread(deck.show_error, error)
            return
        deck.call_from_thread(deck.push_screen, TuneScreen(server.endpoint, model, local))

    def chosen(model: str | None) -> None:
        if model and model.strip():
            deck.run_worker(lambda: find(model.strip()), thread=True, group="tune-open", exit_on_error=False)

    deck.push_screen(PromptScreen("Model to tune (its name on the server):", ""), chosen)


def _positive(text: str, label: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise UserError(f"{label} '{text}' must be a number above 0, or empty")
    return value
