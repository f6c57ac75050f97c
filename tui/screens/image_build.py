"""`b` on the Images panel: build the Dockerfile shown, with the build log followed live.

The form (context directory, tag, platform) sits above a log view like the job log's:
lines go to a spool file from the worker, the UI reads only the rows on screen. `esc`
leaves and cancels a running build (the engine stops its RUN step); after a build, `p`
pushes the image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Label, Static
from textual.worker import Worker, WorkerState

from services import locations
from services.images.protocol import BuildDone, BuildEvent, BuildFailed, BuildLog, BuildStep
from services.logs.spool import LogSpool, LogViewModel
from services.secrets import redact
from services.streams import batched
from services.text import visible
from services.usecases.images import build_image
from tui.keymap import KEYMAP
from tui.render import build_failure, build_step_line
from tui.screens.deck_access import DeckAccess
from tui.workers import worker_token
from widgets.inert import inert
from widgets.log_pane import LogPane
from widgets.priority_footer import PriorityFooter

if TYPE_CHECKING:
    pass

FLUSH_S = 0.05


def event_line(event: BuildEvent) -> str | None:
    if isinstance(event, BuildStep):
        return build_step_line(event)
    if isinstance(event, BuildLog):
        return event.text
    if isinstance(event, BuildFailed):
        return f"error: {event.message}"
    return None


class ImageBuildScreen(DeckAccess, Screen[None]):
    BINDINGS = KEYMAP["image-build"]

    @dataclass
    class Progressed(Message):
        lines: int
        step: BuildStep | None
        outcome: BuildDone | BuildFailed | None

    def __init__(self, dockerfile: str, context: Path, tag: str, platform: str, registry: str | None = None, start: bool = True) -> None:
        super().__init__()
        self._dockerfile = dockerfile
        self._registry = registry
        self._defaults = (context, tag, platform)
        self._start = start
        self._spool: LogSpool | None = None
        self._model: LogViewModel | None = None
        self._built: BuildDone | None = None

    def compose(self) -> ComposeResult:
        context, tag, platform = self._defaults
        with Horizontal(id="build-form"):
            yield Label("context")
            yield Input(str(context), id="build-context")
            yield Label("tag")
            yield Input(tag, id="build-tag")
            yield Label("platform")
            yield Input(platform, id="build-platform")
        yield Static(id="build-status")
        yield LogPane(id="build-log")
        yield PriorityFooter()

    @property
    def pane(self) -> LogPane:
        return self.query_one(LogPane)

    def on_mount(self) -> None:
        self.pane.title = "build"
        if self._start:
            self.action_build()
        else:
            self.query_one("#build-tag", Input).focus()

    def on_unmount(self) -> None:
        if self._spool is not None:
            self._spool.close()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_build()

    def action_build(self) -> None:
        context = Path(self.query_one("#build-context", Input).value.strip()).expanduser()
        tag = self.query_one("#build-tag", Input).value.strip()
        platform = self.query_one("#build-platform", Input).value.strip()
        if not tag:
            self.query_one("#build-tag", Input).focus()
            self.notify("the image needs a tag: name:tag, e.g. local/tritonserver:23.03", severity="error")
            return
        if not context.is_dir():
            self.query_one("#build-context", Input).focus()
            self.notify(f"context {context} is not a directory: give the directory COPY copies", severity="error")
            return
        if self._spool is not None:
            self._spool.close()
        directory = locations.cache_dir()
        directory.mkdir(parents=True, exist_ok=True)
        self._spool = LogSpool(directory)
        self._model = LogViewModel(self._spool)
        self.pane.set_rows(self._model)
        self.pane.title = f"build {tag}"
        self._built = None
        self.query_one("#build-status", Static).update(Text(f"building {tag} from {context}…", style="dim"))
        self.pane.view.focus()
        self._build(context, tag, platform)

    @work(thread=True, exclusive=True, group="image-build", exit_on_error=False)
    def _build(self, context: Path, tag: str, platform: str) -> None:
        assert self._spool is not None
        spool = self._spool
        cancel = worker_token()
        services = self.deck.services
        events = build_image(services.images(), services.profile.name, context, tag, platform, self._dockerfile, cancel, self.deck.settings.now)
        for batch in batched(events, FLUSH_S, cancel):
            steps = [event for event in batch if isinstance(event, BuildStep)]
            outcome = next((event for event in batch if isinstance(event, BuildDone | BuildFailed)), None)
            added = spool.append([line for event in batch if (line := event_line(event)) is not None])
            self.post_message(self.Progressed(added, steps[-1] if steps else None, outcome))

    @on(Progressed)
    def _progressed(self, message: Progressed) -> None:
        assert self._model is not None
        self._model.refresh()
        self.pane.rows_grew(message.lines)
        status = self.query_one("#build-status", Static)
        if isinstance(message.outcome, BuildDone):
            self._built = message.outcome
            tags = ", ".join(message.outcome.tags)
            status.update(Text.assemble(("built ", "bold green"), message.outcome.image_id[:19], f"  {tags}", ("   p pushes it", "dim")))
            self.pane.end_stream()
        elif isinstance(message.outcome, BuildFailed):
            status.update(inert(build_failure(message.outcome), style="bold red"))
            self.pane.end_stream(failed=message.outcome.message)
        elif message.step is not None:
            step = message.step
            status.update(Text.assemble(("step ", "dim"), f"{step.number}/{step.total}", "  ", visible(step.instruction), (" (cached)" if step.cached else "", "dim")))

    def action_push(self) -> None:
        if self._built is None:
            self.notify("nothing built yet: ctrl+b builds", severity="warning")
            return
        from tui.screens.image_push import ImagePushScreen

        self.app.push_screen(ImagePushScreen(self.query_one("#build-tag", Input).value.strip(), self._registry))

    def action_leave(self) -> None:
        self.workers.cancel_group(self, "image-build")
        self.dismiss()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.deck.show_error(event.worker.error)
            self.query_one("#build-status", Static).update(inert(redact(str(event.worker.error)), style="bold red"))
            self.pane.end_stream(failed=str(event.worker.error))
