"""What the forms share (run a job or an app, add a profile or a registry): fields checked
before anything is sent, the first refused one marked and its error scrolled into view (at
80×24 it sits below the fold), the equivalent command previewed as you type, and on the run
forms the `--unsecure-http` warning.

A form names its inputs `#<prefix>-<field>` and its checkbox `#<prefix>-unsecure`; it says
how its values become a spec (`build`, raising `FieldError`) and what command that is.
"""

from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from services.errors import FieldError, UserError
from tui.screens.dialog import DialogKeys
from widgets.check_box import CheckBox
from widgets.inert import inert

Spec = TypeVar("Spec")


class RunForm(DialogKeys, ModalScreen[Spec | None], Generic[Spec]):
    """Dismisses with the spec to run, or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "run", "Run")]
    prefix: ClassVar[str]
    preview_hint: ClassVar[str] = "(fix the fields to see the ovhai command)"
    field_keys: ClassVar[tuple[str, ...]]

    def compose_field(self, label: str, field: Input) -> ComposeResult:
        """One labelled field, as every form lays them out."""
        with Horizontal(classes="field"):
            yield Label(label, classes="field-label")
            yield field

    def compose_end(self, verb: str) -> ComposeResult:
        """What every form ends with: the command preview, the error line, the two buttons."""
        yield Static(id="run-preview")
        yield Static(id="run-error")
        with Horizontal(id="run-buttons"):
            yield Button("Cancel [esc]", id="run-cancel")
            yield Button(f"{verb} [ctrl+s]", id="run-start", variant="primary")

    def build(self, values: dict[str, str], unsecure_http: bool) -> Spec:
        raise NotImplementedError

    def command(self, spec: Spec) -> str:
        raise NotImplementedError

    def _values(self) -> dict[str, str]:
        return {key: self.query_one(f"#{self.prefix}-{key}", Input).value for key in self.field_keys}

    @property
    def _unsecure(self) -> bool:
        """The `--unsecure-http` box, for forms that have one (a settings form has not)."""
        boxes = self.query(f"#{self.prefix}-unsecure")
        return bool(boxes) and boxes.first(Checkbox).value

    @on(Input.Changed)
    @on(Checkbox.Changed)
    def _update(self) -> None:
        for warning in self.query("#run-warning"):
            warning.display = self._unsecure
        preview = self.query_one("#run-preview", Static)
        try:
            preview.update(Text(self.command(self.build(self._values(), self._unsecure)), style="dim"))
        except UserError:
            preview.update(Text(self.preview_hint, style="dim"))

    def checked(self) -> Spec | None:
        """The spec the fields make, or None with the refused field marked."""
        try:
            return self.build(self._values(), self._unsecure)
        except FieldError as error:
            self.refuse(error)
            return None

    def refuse(self, error: FieldError) -> None:
        """Say why in one line, mark the field, and bring both into view."""
        message = self.query_one("#run-error", Static)
        message.update(inert(error.message, style="bold red"))
        for field in self.query(Input):
            field.set_class(field.id == f"{self.prefix}-{error.field}", "-invalid")
        field = self.query_one(f"#{self.prefix}-{error.field}", Input)
        field.focus()
        self.call_after_refresh(message.scroll_visible, animate=False)
        self.call_after_refresh(field.scroll_visible, animate=False)

    def action_run(self) -> None:
        spec = self.checked()
        if spec is not None:
            self.dismiss(spec)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#run-start")
    def _start(self) -> None:
        self.action_run()

    @on(Button.Pressed, "#run-cancel")
    def _cancelled(self) -> None:
        self.action_cancel()


class RunSpecForm(RunForm[Spec]):
    """A form that runs something (a job, an app): its fields from `defaults`, the kind's own
    switches, the `--unsecure-http` box and its warning, then the preview and the buttons."""

    form_title: ClassVar[str]
    fields: ClassVar[tuple[tuple[str, str], ...]]
    unsecure_default: ClassVar[bool] = False
    unsecure_warning: ClassVar[str]

    def __init__(self, defaults: dict[str, str]) -> None:
        super().__init__()
        self._defaults = defaults

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="run-box", classes="dialog"):
            yield Static(self.form_title, id="run-title")
            for key, label in self.fields:
                yield from self.compose_field(label, Input(self._defaults.get(key, ""), id=f"{self.prefix}-{key}"))
            yield from self.compose_switches()
            with Horizontal(classes="field switches"):
                yield Label("security", classes="field-label")
                yield CheckBox("--unsecure-http", self.unsecure_default, id=f"{self.prefix}-unsecure")
            yield Static(self.unsecure_warning, id="run-warning")
            yield from self.compose_end("Run")

    def compose_switches(self) -> ComposeResult:
        """The kind's own check boxes, above the security one."""
        yield from ()

    def on_mount(self) -> None:
        self.query_one(f"#{self.prefix}-image", Input).focus()
        self._update()
