"""Push an image: tag it for the registry, push with a bar per layer and a total, show the digest.

The target defaults to the first registry the profile knows (AI Training's shared one, or
one added with `registry add`). The result is `registry/name:tag@digest`, which `y` copies
through the terminal (OSC 52, so it works over SSH).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Label, Static
from textual.worker import Worker, WorkerState

from services.images.protocol import LayerProgress, PushDone
from services.images.push_tally import PushTally
from services.secrets import redact
from services.streams import batched
from services.text import visible
from services.units import human_size
from services.usecases.images import push_image
from tui.keymap import KEYMAP
from tui.screens.deck_access import DeckAccess
from tui.workers import worker_token
from widgets.inert import inert
from widgets.layer_bars import LayerBars, LayerRow
from widgets.priority_footer import PriorityFooter

if TYPE_CHECKING:
    pass

FLUSH_S = 0.1


def default_target(source: str, registry: str | None) -> str:
    """`local/tritonserver:23.03` → `<registry>/tritonserver:23.03`; unchanged without a registry."""
    if not registry:
        return source
    return f"{registry.rstrip('/')}/{source.rsplit('/', 1)[-1]}"


class ImagePushScreen(DeckAccess, Screen[None]):
    BINDINGS = KEYMAP["image-push"]

    class Progressed(Message):
        def __init__(self, tally: PushTally, done: PushDone | None) -> None:
            super().__init__()
            self.rows = [LayerRow(layer.layer_id, layer.status, layer.fraction, human_size(layer.total) if layer.total else "") for layer in tally.layers.values()]
            sent, total = tally.bytes_known
            count = len(tally.layers)
            fraction = 1.0 if done else (tally.layers_done / count if count else 0.0)
            self.total = LayerRow("total", f"{tally.layers_done}/{count} layers", fraction, f"{human_size(sent)} of {human_size(total)}" if total else "")
            self.done = done

    def __init__(self, source: str, registry: str | None = None) -> None:
        super().__init__()
        self._source = source
        self._registry = registry
        self._result: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="push-form"):
            yield Label("image")
            yield Input(self._source, id="push-source")
            yield Label("push as")
            yield Input(default_target(self._source, self._registry), id="push-target")
        yield Static(Text("enter tags the image as the target and pushes it", style="dim"), id="push-status")
        yield LayerBars(id="push-layers")
        yield PriorityFooter()

    def on_mount(self) -> None:
        self.query_one("#push-target", Input).focus()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_push()

    def action_push(self) -> None:
        source = self.query_one("#push-source", Input).value.strip()
        target = self.query_one("#push-target", Input).value.strip()
        if not source or not target:
            self.notify("give the image and the reference to push it as (registry/name:tag)", severity="error")
            return
        self._result = None
        self.query_one("#push-status", Static).update(Text(f"pushing {target}…", style="dim"))
        self.query_one(LayerBars).show([], None)
        self.set_focus(None)  # the keys (y, esc) are the screen's again
        self._push(source, target)

    @work(thread=True, exclusive=True, group="image-push", exit_on_error=False)
    def _push(self, source: str, target: str) -> None:
        deck = self.deck
        cancel = worker_token()
        tally = PushTally()
        events = push_image(deck.services.images(), deck.services.profile.name, deck.config.registries, target, cancel, source, deck.settings.now)
        for batch in batched(events, FLUSH_S, cancel):
            done = None
            for event in batch:
                if isinstance(event, LayerProgress):
                    tally.apply(event)
                else:
                    done = event
            self.post_message(self.Progressed(tally, done))

    @on(Progressed)
    def _progressed(self, message: Progressed) -> None:
        self.query_one(LayerBars).show(message.rows, message.total)
        if message.done is not None:
            self._result = f"{message.done.reference}@{message.done.digest}"
            self.query_one("#push-status", Static).update(Text.assemble(("pushed ", "bold green"), visible(self._result), ("   y copies it", "dim")))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.deck.show_error(event.worker.error)
            self.query_one("#push-status", Static).update(inert(redact(str(event.worker.error)), style="bold red"))

    def action_copy(self) -> None:
        if self._result is None:
            self.notify("nothing pushed yet", severity="warning")
            return
        self.deck.copy_text(self._result, self._result)

    def action_leave(self) -> None:
        self.workers.cancel_group(self, "image-push")
        self.dismiss()
