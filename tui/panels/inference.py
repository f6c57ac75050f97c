"""Inference: is the server up, which models does it hold, and what does a model see in a photo.

The server is the newest RUNNING server job of the profile (or a URL typed with `e`);
its health, version and repository index fill the server box and the models table.
`enter` on a model picks it for the classify box, `c` classifies the chosen images and
each answer arrives as its own card (thumbnail, top-k bars), so one bad file or a slow
request never holds up the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from services.apps.protocol import App
from services.backends import Capability
from services.demo import CLASSIFIER, CLASSIFIER_SCALING, SAMPLES_DIR
from services.errors import UserError
from services.inference.endpoint import parse_address
from services.inference.protocol import (
    ClassifyRequest,
    ClassifyResult,
    Endpoint,
    InferResult,
    ModelMetadata,
    Scaling,
    TensorSpec,
    Transport,
)
from services.inference.thumbnail import thumbnail_pixels
from services.perf.history import SERVER, StatsHistory
from services.text import visible
from services.usecases.infer import infer, split_fields
from services.usecases.inference import ServerReport, check_server, classify_request, looks_like_image_classifier, max_batch_size
from services.usecases.server import Server, find_server
from services.usecases.stats import StatsReader, StatsReading
from tui.keymap import KEYMAP
from tui.panels.base import Panel
from tui.render import OUTPUT_COLUMNS, output_rows
from tui.screens.infer_form import InferForm
from widgets.classification_card import ClassificationCard, ClassRow
from widgets.filter_bar import FilterBar
from widgets.inert import inert
from widgets.infer_card import InferCard
from widgets.key_scroll import KeyScroll
from widgets.model_stats import stats_table
from widgets.notice import NoticeKind
from widgets.resource_table import ResourceTable, Row

MODEL_COLUMNS = ("MODEL", "VERSION", "STATE", "REASON")
THUMBNAIL_COLUMNS, THUMBNAIL_ROWS = 20, 7
SCALINGS = list(Scaling)
MAX_TOP_K = 10
STATS_POLL_S = 1.0
STATS_SAMPLES = 180  # three minutes of seconds
HISTORY = 5  # generic inference cards kept, newest first
COMPACT_BELOW_ROWS = 30  # a shorter terminal gets one-line server and classify boxes, cards without thumbnails


def model_state_text(state: str) -> Text:
    style = {"READY": "bold green", "UNAVAILABLE": "bold red", "LOADING": "yellow"}.get(state, "dim")
    return Text(state or "not loaded", style=style)


def tensor_text(spec: TensorSpec) -> str:
    return f"{spec.name} {spec.datatype} [{','.join(str(dim) for dim in spec.shape)}]"


@dataclass(frozen=True)
class ClassifySettings:
    model: str | None = None
    images: Path = SAMPLES_DIR
    scaling: Scaling = CLASSIFIER_SCALING
    top_k: int = 3

    @property
    def images_text(self) -> str:
        return "shipped samples" if self.images == SAMPLES_DIR else str(self.images)


class InferencePanel(Panel):
    capability = Capability.INFERENCE

    BINDINGS = KEYMAP["inference"]

    @dataclass
    class Checked(Message):
        server: Server
        report: ServerReport

    @dataclass
    class CheckFailed(Message):
        server: Server | None
        reason: str

    @dataclass
    class ModelRead(Message):
        metadata: ModelMetadata
        max_batch_size: int

    @dataclass
    class Inferred(Message):
        result: InferResult
        sent: str

    @dataclass
    class Answered(Message):
        result: ClassifyResult
        pixels: list[list[tuple[int, int, int]]] | None

    @dataclass
    class RunEnded(Message):
        summary: str

    @dataclass
    class StatsRead(Message):
        reading: StatsReading

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._server: Server | None = None
        self._transport = Transport.HTTP
        self._typed_url: str | None = None
        self._settings = ClassifySettings()
        self._model_metadata: ModelMetadata | None = None
        self._stats = StatsHistory(STATS_SAMPLES)
        self._stats_reader: StatsReader | None = None
        self._report: ServerReport | None = None
        self._max_batch = 0
        self._last_form: InferForm | None = None
        self._requests = 0  # numbers the history's cards

    def compose_body(self) -> ComposeResult:
        yield Static(id="server-box", classes="box")
        yield FilterBar(id="models-filter")
        yield ResourceTable(MODEL_COLUMNS, id="models-table")
        yield Static(id="classify-box", classes="box")
        yield Static(id="stats-box", classes="box")
        yield Static(id="classify-status")
        yield KeyScroll(id="results")

    def on_mount(self) -> None:
        self.query_one("#server-box").border_title = "Server"
        self.query_one("#classify-box").border_title = "Classify"
        stats = self.query_one("#stats-box")
        stats.border_title = "Statistics"
        stats.display = False  # until two readings make a sample
        if self.deck.settings.poll:
            self.set_interval(STATS_POLL_S, self._poll_stats)
        self._hint_classify()
        self.set_class(self.app.size.height < COMPACT_BELOW_ROWS, "-compact")
        self._render_classify_box()
        super().on_mount()

    def on_resize(self, _event: events.Resize) -> None:
        """Below 30 rows the answers come first: the server and classify boxes shrink to a line
        each and the cards drop their thumbnails, so the top-k of each image stays readable."""
        compact = self.app.size.height < COMPACT_BELOW_ROWS
        if compact != self.has_class("-compact"):
            self.set_class(compact, "-compact")
            self._render_server_box()
            self._render_classify_box()

    # -- the server ----------------------------------------------------------------------------

    def load(self) -> None:
        self.show_notice(NoticeKind.LOADING, "looking for a server…")
        self._check(self._typed_url, self._transport)

    @work(thread=True, exclusive=True, group="inference-check", exit_on_error=False)
    def _check(self, typed_url: str | None, transport: Transport) -> None:
        server: Server | None = None
        try:
            server = self._find_server(typed_url, transport)
            if server is None:
                if not self.services.has(Capability.JOBS):  # the cause is the profile, not an empty job list
                    self.post_message(self.CheckFailed(None, f"{self.services.reason(Capability.JOBS)}; or press e to type a URL"))
                    return
                self.post_message(self.CheckFailed(None, "no RUNNING server job: start one in Jobs (3, then n), or press e to type a URL"))
                return
            factory = self.services.inference
            assert factory is not None
            client = factory(server.endpoint)
            self.post_message(self.Checked(server, check_server(client)))
        except UserError as error:
            self.post_message(self.CheckFailed(server, error.message))

    def _find_server(self, typed_url: str | None, transport: Transport) -> Server | None:
        if not typed_url and not self.services.has(Capability.JOBS):
            return None
        return find_server(self.services, transport, url=typed_url)

    def _server_grid(self, server: Server | None) -> Table:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True, min_width=8)
        grid.add_column(overflow="fold")  # a long diagnosis or URL wraps whole instead of being cut at 80 columns
        if server is not None:
            address = parse_address(server.endpoint.url, server.endpoint.transport)
            typed = server.job is None and server.app is None and "://" in server.endpoint.url
            shown = server.endpoint.url.strip() if typed else address.display  # what was typed stays as typed
            via = f" · gRPC to {address.target}" if typed and address.transport is Transport.GRPC else ""
            grid.add_row("endpoint", Text.assemble(visible(shown), (f"  {server.origin}{via}", "dim")))
        return grid

    def _render_server_box(self) -> None:
        """The server's endpoint, health and version: a grid, or one line in a short terminal."""
        if self._report is None:
            return
        health, metadata = self._report.health, self._report.server
        ready = Text("ready", style="bold green") if health.ready else Text("not ready", style="bold red")
        live = Text("live", style="green") if health.live else Text("not live", style="red")
        if self.has_class("-compact") and self._server is not None:
            address = parse_address(self._server.endpoint.url, self._server.endpoint.transport)
            line = Text.assemble(("server ", "bold"), live, " ", ready, (f" {health.latency_ms:.0f} ms", "dim"), f" · {self._server.origin} · ")
            line.append_text(inert(f"{metadata.name} {metadata.version}"))
            line.append_text(Text.assemble(" · ", visible(address.display)))
            self._show_box("#server-box", line, one_line=True)
            return
        grid = self._server_grid(self._server)
        grid.add_row("health", Text.assemble(live, " ", ready, (f"  {health.latency_ms:.0f} ms", "dim")))
        grid.add_row("server", inert(f"{metadata.name} {metadata.version}"))
        self._show_box("#server-box", grid)

    def _show_box(self, selector: str, content: Table | Text, one_line: bool = False) -> None:
        """A box's content; `one_line` drops its border (the compact layout), a problem never is."""
        box = self.query_one(selector, Static)
        box.set_class(one_line, "-line")
        box.update(content)

    @on(Checked)
    def _checked(self, message: Checked) -> None:
        self.refreshed()
        self.notice.hide()
        self._server = message.server
        self._report = message.report
        models = message.report.models
        self._render_server_box()
        rows = [Row(f"{entry.name}/{entry.version}", (entry.name, entry.version, model_state_text(entry.state), entry.reason)) for entry in models]
        self.query_one(ResourceTable).set_rows(rows)
        ready_models = [entry.name for entry in models if entry.state == "READY"]
        if self._settings.model is not None and self._settings.model not in ready_models:  # another server, another repository
            self._settings = replace(self._settings, model=None)
            self._model_metadata = None
            self._render_classify_box()
            self.refresh_bindings()
        if self._settings.model is None and ready_models:
            self._choose_model(CLASSIFIER if CLASSIFIER in ready_models else ready_models[0])

    @on(CheckFailed)
    def _check_failed(self, message: CheckFailed) -> None:
        """No server at all is the notice (as "no jobs yet" is); a server that fails shows the layer."""
        self.refreshed()
        self._server = message.server
        self._report = None
        grid = self._server_grid(message.server)
        if message.server is None:
            self.show_notice(NoticeKind.EMPTY, message.reason)
        else:
            self.notice.hide()
            grid.add_row("problem", inert(message.reason, style="bold red"))
        self._show_box("#server-box", grid)
        self.query_one(ResourceTable).set_rows([])

    def action_refresh(self) -> None:
        if self.is_available():
            self.load()

    def action_toggle_protocol(self) -> None:
        self._transport = Transport.GRPC if self._transport is Transport.HTTP else Transport.HTTP
        self._render_classify_box()
        self.action_refresh()

    def action_edit_endpoint(self) -> None:
        from tui.screens.prompt import PromptScreen

        current = self._typed_url or (self._server.endpoint.url if self._server else "")
        question = "Triton server URL (https://<job URL>, http://host:port or host:port); empty = the newest server job"

        def answered(url: str | None) -> None:
            self._typed_url = url
            self._model_metadata = None
            self._settings = replace(self._settings, model=None)
            self._render_classify_box()
            self.action_refresh()

        self.app.push_screen(PromptScreen(question, current), answered)

    # -- the model and the images ------------------------------------------------------------

    @on(DataTable.RowSelected, "#models-table")
    def _model_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value or ""
        self._choose_model(key.rsplit("/", 1)[0])

    def _hint_classify(self) -> None:
        self.query_one("#classify-status", Static).update(Text("c classifies the images with the model; each answer appears below", style="dim"))

    def _choose_model(self, model: str) -> None:
        if model != self._settings.model:  # the last run's summary was about another model
            self._hint_classify()
        self._settings = replace(self._settings, model=model)
        self._stats = StatsHistory(STATS_SAMPLES)
        self.query_one("#stats-box").display = False
        self._model_metadata = None
        self._render_classify_box()
        if self._server is not None:
            self._read_model(self._server.endpoint, model)

    @work(thread=True, exclusive=True, group="inference-model", exit_on_error=False)
    def _read_model(self, endpoint: Endpoint, model: str) -> None:
        client = self.services.inference_client(endpoint)
        self.post_message(self.ModelRead(client.model_metadata(model), max_batch_size(client, model)))

    @on(ModelRead)
    def _model_read(self, message: ModelRead) -> None:
        if message.metadata.name == self._settings.model:
            self._model_metadata = message.metadata
            self._max_batch = message.max_batch_size
            self._render_classify_box()
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`c` is offered only for a model image_client would take; any model takes `I`."""
        if action == "classify" and self._model_metadata is not None:
            return looks_like_image_classifier(self._model_metadata, self._max_batch)
        return super().check_action(action, parameters)

    def action_pick_images(self) -> None:
        from tui.screens.pick_images import PickImagesScreen

        def picked(path: Path | None) -> None:
            if path is not None:
                self._settings = replace(self._settings, images=path)
                self._render_classify_box()

        self.app.push_screen(PickImagesScreen(Path.cwd(), self._settings.images), picked)

    def action_cycle_scaling(self) -> None:
        following = SCALINGS[(SCALINGS.index(self._settings.scaling) + 1) % len(SCALINGS)]
        self._settings = replace(self._settings, scaling=following)
        self._render_classify_box()

    def action_top_k(self, step: int) -> None:
        self._settings = replace(self._settings, top_k=min(MAX_TOP_K, max(1, self._settings.top_k + step)))
        self._render_classify_box()

    def _render_classify_box(self) -> None:
        settings = self._settings
        if self.has_class("-compact"):
            line = Text.assemble(("model ", "bold"), inert(settings.model or "no model yet: enter on a READY model", style="" if settings.model else "dim"))
            line.append(f" · {settings.images_text} · {settings.scaling.value} · {self._transport.value} · top-{settings.top_k}", style="dim")
            self._show_box("#classify-box", line, one_line=True)
            return
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True, min_width=8)
        grid.add_column(no_wrap=True, overflow="ellipsis")
        model = inert(settings.model or "none yet: enter on a READY model", style="" if settings.model else "dim")
        if self._model_metadata is not None:
            inputs = ", ".join(tensor_text(spec) for spec in self._model_metadata.inputs)
            outputs = ", ".join(tensor_text(spec) for spec in self._model_metadata.outputs)
            model.append(f"  in {inputs} → out {outputs}", style="dim")
        grid.add_row("model", model)
        grid.add_row("images", settings.images_text)
        grid.add_row(
            "settings",
            Text.assemble(
                "scaling ", (settings.scaling.value, "bold"), "  protocol ", (self._transport.value, "bold"),
                "  top-k ", (str(settings.top_k), "bold"), (" (+/-)", "dim"),
            ),
        )  # fmt: skip
        self._show_box("#classify-box", grid)

    # -- live statistics ---------------------------------------------------------------------

    def _poll_stats(self) -> None:
        """Once a second, and only while this pane is what the user sees."""
        model = self._settings.model
        if self._server is None or model is None or self.deck.active_panel != "inference" or self.app.screen is not self.screen:
            return
        if self._stats_reader is None or self._stats_reader.server != self._server:  # one client per address, not one a second
            self._stats_reader = StatsReader(self._server, self.services.inference_client, self._app_now())
        self._read_stats(self._stats_reader, model)

    def _app_now(self) -> Callable[[str], App] | None:
        """How the reader re-reads the app behind the server (in its worker: building the
        platform waits for first use)."""
        platform = self.services.app_platform
        if platform is None or self._server is None or self._server.app is None:
            return None
        return lambda app_id: platform.get(app_id)

    @work(thread=True, exclusive=True, group="inference-stats", exit_on_error=False)
    def _read_stats(self, reader: StatsReader, model: str) -> None:
        try:
            reading = reader.read(model)
        except UserError:
            return  # a server without the statistics extension: the box stays hidden
        self.post_message(self.StatsRead(reading))

    @on(StatsRead)
    def _stats_read(self, message: StatsRead) -> None:
        reading = message.reading
        if reading.model != self._settings.model:
            return
        self._stats.add(SERVER, reading.stats, reading.at)
        for name, stats in reading.replicas:
            self._stats.add(name, stats, reading.at)
        self._stats.keep_only({name for name, _stats in reading.replicas})
        samples = self._stats.samples()
        if not samples:
            return
        box = self.query_one("#stats-box", Static)
        box.display = True
        success, fail = reading.stats.phase("success").count, reading.stats.phase("fail").count
        rates, queue, compute = [s.rate for s in samples], [s.queue_us for s in samples], [s.compute_us for s in samples]
        replicas = [(name, [s.rate for s in self._stats.samples(name)]) for name in self._stats.replicas]
        compact = self.app.size.height < COMPACT_BELOW_ROWS
        box.update(stats_table(rates, queue, compute, max(10, self.size.width - 30), success, fail, replicas, compact))

    def action_perf(self) -> None:
        from tui.screens.perf import PerfScreen

        if self._server is None or self._settings.model is None:
            self.deck.show_error(UserError("no server and model to measure yet: wait for the server, and press enter on a READY model"))
            return
        self.app.push_screen(PerfScreen(self._server.endpoint, self._settings.model))

    def action_tune(self) -> None:
        from services.config import ProfileKind
        from tui.screens.tune import TuneScreen

        if self._server is None or self._settings.model is None:
            self.deck.show_error(UserError("no server and model to tune yet: wait for the server, and press enter on a READY model"))
            return
        self.app.push_screen(TuneScreen(self._server.endpoint, self._settings.model, self.services.profile.kind is ProfileKind.LOCAL))

    # -- one generic inference ---------------------------------------------------------------

    def action_infer(self) -> None:
        from tui.screens.infer_form import InferScreen

        if self._server is None or self._model_metadata is None:
            self.deck.show_error(UserError("no model to send to yet: wait for the server, and press enter on a READY model"))
            return
        server, metadata = self._server, self._model_metadata

        def chosen(form: InferForm | None) -> None:
            if form is not None:
                self._last_form = form
                self.query_one("#classify-status", Static).update(inert(f"sending one request to {metadata.name}…", style="dim"))
                self._infer(server.endpoint, metadata.name, form)

        self.app.push_screen(InferScreen(metadata, self._max_batch, self._last_form), chosen)

    @work(thread=True, exclusive=True, group="inference-classify", exit_on_error=False)
    def _infer(self, endpoint: Endpoint, model: str, form: InferForm) -> None:
        given, fills = split_fields(form.fields)
        sent = ", ".join(f"{name}={fills.get(name) or given[name]}" for name in form.fields) + (f" · batch {form.batch_size}" if form.batch_size else "")
        try:
            result = infer(self.services.inference_client(endpoint), model, given=given, fills=fills, batch_size=form.batch_size)
        except UserError as error:
            self.post_message(self.RunEnded(f"stopped: {error.message}"))
            return
        self.post_message(self.Inferred(result, sent))

    @on(Inferred)
    def _inferred(self, message: Inferred) -> None:
        """Newest first; the last few requests stay as the history, a classification's cards go."""
        result = message.result
        self._requests += 1
        results = self.query_one("#results", KeyScroll)
        results.query(ClassificationCard).remove()
        for older in list(results.query(InferCard))[HISTORY - 1 :]:
            older.remove()
        heading = f"#{self._requests} {result.model} v{result.version or '-'} · {result.latency_ms:.1f} ms"
        results.mount(InferCard(heading, message.sent, OUTPUT_COLUMNS, output_rows(result)), before=0 if results.children else None)
        self.query_one("#classify-status", Static).update(inert(f"{result.model} answered {len(result.outputs)} output(s) · I sends another", style="dim"))

    # -- classification ----------------------------------------------------------------------

    def action_classify(self) -> None:
        settings = self._settings
        if self._server is None:
            self.deck.show_error(UserError("no server to classify against: start a server job, or press e to type a URL"))
            return
        if settings.model is None:
            self.deck.show_error(UserError("no model chosen: press enter on a READY model in the table"))
            return
        try:
            request = classify_request([settings.images], settings.model, "press o to choose a file or a directory", top_k=settings.top_k, scaling=settings.scaling)
        except UserError as error:
            self.deck.show_error(error)
            return
        self.query_one("#results", KeyScroll).remove_children()
        self.query_one("#classify-status", Static).update(inert(f"classifying {len(request.images)} image(s) with {settings.model}…", style="dim"))
        self._classify(self._server.endpoint, request)

    @work(thread=True, exclusive=True, group="inference-classify", exit_on_error=False)
    def _classify(self, endpoint: Endpoint, request: ClassifyRequest) -> None:
        factory = self.services.inference
        assert factory is not None
        worker = get_current_worker()
        answered = failed = 0
        try:
            for result in factory(endpoint).classify(request):
                if worker.is_cancelled:
                    return
                pixels = thumbnail_pixels(Path(result.image), THUMBNAIL_COLUMNS, THUMBNAIL_ROWS)
                self.post_message(self.Answered(result, pixels))
                answered, failed = answered + (result.error is None), failed + (result.error is not None)
        except UserError as error:
            self.post_message(self.RunEnded(f"stopped: {error.message}"))
            return
        self.post_message(self.RunEnded(f"{answered} answered, {failed} failed · {request.model} · {request.scaling.value} · top-{request.top_k}"))

    @on(Answered)
    def _answered(self, message: Answered) -> None:
        result = message.result
        rows = [ClassRow(c.value, c.score, c.index, c.label) for c in result.classes]
        card = ClassificationCard(Path(result.image).name, rows, message.pixels, result.latency_ms, result.error)
        self.query_one("#results", KeyScroll).mount(card)

    @on(RunEnded)
    def _run_ended(self, message: RunEnded) -> None:
        style = "red" if message.summary.startswith("stopped") else "dim"
        self.query_one("#classify-status", Static).update(inert(message.summary, style=style))
