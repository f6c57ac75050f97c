"""`I` in Inference: one request to the chosen model, its inputs typed in a form made from
the model's own metadata (one field per input, with its datatype and shape beside it).

Each field takes `random`, `zero`, a JSON literal (`[1, 2, 3]`), `@file.npy` or `@file.json`,
or a plain string for a BYTES input: what `triton-deck infer --input NAME=VALUE` takes.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from services.inference.protocol import ModelMetadata
from tui.screens.dialog import DialogKeys
from widgets.inert import inert

VALUE_HINT = "random · zero · [JSON] · @file.npy · text for BYTES"


@dataclass(frozen=True)
class InferForm:
    """What the form was sent with: a text per input, and the batch size (None: the model's own)."""

    fields: dict[str, str]
    batch_size: int | None = None


class InferScreen(DialogKeys, ModalScreen[InferForm | None]):
    ENTER = "Send"
    BINDINGS = [Binding("ctrl+s", "send", "Send"), Binding("escape", "cancel", "Cancel")]

    def __init__(self, metadata: ModelMetadata, max_batch_size: int, last: InferForm | None = None) -> None:
        super().__init__()
        self._metadata = metadata
        self._max_batch = max_batch_size
        self._last = last

    def compose(self) -> ComposeResult:
        fields = self._last.fields if self._last else {}
        with Vertical(id="infer-box", classes="dialog"):
            yield Static(inert(f"One inference with {self._metadata.name}"), id="infer-title")
            for index, spec in enumerate(self._metadata.inputs):
                dims = spec.shape[1:] if self._max_batch > 0 else spec.shape
                with Horizontal(classes="field"):
                    yield Label(inert(spec.name), classes="field-label")
                    yield Input(fields.get(spec.name, "random"), placeholder=VALUE_HINT, id=f"infer-input-{index}")
                yield Static(inert(f"{spec.datatype} {list(dims)} · {VALUE_HINT}"), classes="hint")
            if self._max_batch > 0:
                batch = self._last.batch_size if self._last and self._last.batch_size else 1
                with Horizontal(classes="field"):
                    yield Label("batch", classes="field-label")
                    yield Input(str(batch), id="infer-batch")
                yield Static(f"1 to {self._max_batch} (max_batch_size)", classes="hint")
            yield Static(id="infer-error")

    def on_mount(self) -> None:
        self.query(Input).first().focus()

    @on(Input.Submitted)
    def action_send(self) -> None:
        batch = None
        if self._max_batch > 0:
            text = self.query_one("#infer-batch", Input).value.strip()
            if not text.isdigit() or not 1 <= int(text) <= self._max_batch:
                self.query_one("#infer-error", Static).update(inert(f"batch '{text}' must be a whole number from 1 to {self._max_batch}", style="bold red"))
                return
            batch = int(text)
        fields = {spec.name: self.query_one(f"#infer-input-{index}", Input).value for index, spec in enumerate(self._metadata.inputs)}
        self.dismiss(InferForm(fields, batch))

    def action_cancel(self) -> None:
        self.dismiss(None)
