"""`n` on the Apps panel: the run form with the Triton preset (ports 8000/8001, probe
`/v2/health/ready`, the models bucket read-only at /workspace/models).

As the job run form: every field is checked before anything is sent, the first problem is
named in one line and its field marked, and the equivalent `ovhai app run ...` is shown.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from services.apps.document import run_command_line
from services.apps.preset import triton_app
from services.apps.protocol import AppSpec
from services.errors import UserError
from services.jobs.protocol import parse_volume
from services.usecases.apps import scaling_from_flags
from widgets.inert import inert

UNSECURE_WARNING = "⚠ --unsecure-http: anyone with the app URL can call it, no token needed."
FIELDS = (("image", "image"), ("name", "name"), ("models", "models bucket"), ("replicas", "replicas"), ("auto", "or auto min-max"), ("target", "CPU target %"))


class _FieldError(UserError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _number(values: dict[str, str], field: str, what: str) -> int | None:
    text = values[field].strip()
    if not text:
        return None
    if not text.isdigit():
        raise _FieldError(field, f"{what} '{text}' must be a whole number")
    return int(text)


def spec_from_fields(values: dict[str, str], unsecure_http: bool) -> AppSpec:
    """The form as an AppSpec, or a `UserError` naming the first bad field."""
    image = values["image"].strip()
    if not image or " " in image:
        raise _FieldError("image", "image is required, with no spaces, e.g. nvcr.io/nvidia/tritonserver:24.08-py3")
    models = values["models"].strip()
    try:
        volume = parse_volume(f"{models}:/workspace/models:RO") if models else None
    except UserError as error:
        raise _FieldError("models", error.message) from None
    replicas = _number(values, "replicas", "replicas")
    low = high = None
    if values["auto"].strip():
        low_text, dash, high_text = values["auto"].strip().partition("-")
        if not (dash and low_text.isdigit() and high_text.isdigit()):
            raise _FieldError("auto", f"auto '{values['auto'].strip()}' must be MIN-MAX, e.g. 1-3")
        low, high = int(low_text), int(high_text)
    target = _number(values, "target", "CPU target")
    try:
        scaling = scaling_from_flags(replicas, low, high, "CPU" if low is not None else None, target if low is not None else None)
    except UserError as error:
        raise _FieldError("replicas", error.message) from None
    return triton_app(image, volume, values["name"].strip() or None, scaling, unsecure_http)


class AppRunScreen(ModalScreen[AppSpec | None]):
    """Dismisses with the AppSpec to run, or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "run", "Run")]

    def __init__(self, defaults: dict[str, str]) -> None:
        super().__init__()
        self._defaults = defaults

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="run-box", classes="dialog"):
            yield Static("Run Triton as an app", id="run-title")
            for key, label in FIELDS:
                with Horizontal(classes="field"):
                    yield Label(label, classes="field-label")
                    yield Input(self._defaults.get(key, ""), id=f"app-{key}")
            with Horizontal(classes="field switches"):
                yield Label("security", classes="field-label")
                yield Checkbox("--unsecure-http", False, id="app-unsecure")
            yield Static(UNSECURE_WARNING, id="run-warning")
            yield Static(id="run-preview")
            yield Static(id="run-error")
            with Horizontal(id="run-buttons"):
                yield Button("Cancel [esc]", id="run-cancel")
                yield Button("Run [ctrl+s]", id="run-start", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#app-image", Input).focus()
        self._update()

    def _values(self) -> dict[str, str]:
        return {key: self.query_one(f"#app-{key}", Input).value for key, _label in FIELDS}

    @property
    def _unsecure(self) -> bool:
        return self.query_one("#app-unsecure", Checkbox).value

    @on(Input.Changed)
    @on(Checkbox.Changed)
    def _update(self) -> None:
        self.query_one("#run-warning", Static).display = self._unsecure
        preview = self.query_one("#run-preview", Static)
        try:
            preview.update(Text(run_command_line(spec_from_fields(self._values(), self._unsecure)), style="dim"))
        except UserError:
            preview.update(Text("(fix the fields to see the ovhai command)", style="dim"))

    def action_run(self) -> None:
        try:
            spec = spec_from_fields(self._values(), self._unsecure)
        except _FieldError as error:
            message = self.query_one("#run-error", Static)
            message.update(inert(error.message, style="bold red"))
            for field in self.query(Input):
                field.set_class(field.id == f"app-{error.field}", "-invalid")
            field = self.query_one(f"#app-{error.field}", Input)
            field.focus()
            self.call_after_refresh(message.scroll_visible, animate=False)
            return
        self.dismiss(spec)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#run-start")
    def _start(self) -> None:
        self.action_run()

    @on(Button.Pressed, "#run-cancel")
    def _cancelled(self) -> None:
        self.action_cancel()
