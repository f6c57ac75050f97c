"""`e` on the deploy screen: every field of the plan, checked before it is kept.

Text fields are inputs, yes/no fields are switches; `ctrl+s` keeps the plan (a bad field is
named and focused, nothing is kept), `esc` drops the changes.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from services.errors import UserError
from services.pipeline.commands import shown_path
from services.pipeline.plan import DeployPlan, field_label
from tui.screens.dialog import DialogKeys
from widgets.check_box import CheckBox

PATH_FIELDS = ("repository", "images", "build_context")  # shown relative to here, kept absolute
HINTS = {
    "repository": "model repository directory",
    "bucket": "name@REGION",
    "scaling": "NONE, INCEPTION or VGG",
    "protocol": "http (port 8000) or grpc (8001)",
    "server_image": "the job's image",
    "build_image": "build and push the server image first",
    "base_image": "FROM for the build (empty: NGC)",
    "reuse_job": "a RUNNING job ID to use (empty: start one)",
    "client_job": "also run the classifier as a job",
    "serve_as": "job or app (replicas behind one URL)",
    "replicas": "the app's replicas, 1-10",
}


class DeployPlanScreen(DialogKeys, ModalScreen[DeployPlan | None]):
    BINDINGS = [Binding("ctrl+s", "keep", "Keep"), Binding("escape", "drop", "Cancel")]

    def __init__(self, plan: DeployPlan) -> None:
        super().__init__()
        self._plan = plan

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="plan-box", classes="dialog"):
            yield Static("Deploy plan: ctrl+s keeps it, esc drops the changes", id="plan-title")
            for field in fields(DeployPlan):
                value = getattr(self._plan, field.name)
                with Horizontal(classes="plan-row"):
                    yield Label(field_label(field.name), classes="plan-label")
                    if isinstance(value, bool):
                        yield CheckBox(HINTS.get(field.name, ""), value, id=f"plan-{field.name}")
                    else:
                        shown = shown_path(value) if field.name in PATH_FIELDS else value
                        yield Input("" if shown is None else str(shown), id=f"plan-{field.name}", placeholder=HINTS.get(field.name, ""))

    def _values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field in fields(DeployPlan):
            widget = self.query_one(f"#plan-{field.name}")
            if isinstance(widget, CheckBox):
                values[field.name] = widget.value
                continue
            text = widget.value.strip() if isinstance(widget, Input) else ""
            kind = str(field.type)
            if kind == "int":
                try:
                    values[field.name] = int(text)
                except ValueError:
                    widget.focus()
                    raise UserError(f"{field_label(field.name)} must be a whole number, not '{text}'") from None
            elif field.name in PATH_FIELDS:
                values[field.name] = str(Path(text).expanduser().resolve()) if text else text
            else:
                values[field.name] = text or None if "None" in kind else text
        return values

    def action_keep(self) -> None:
        try:
            plan = DeployPlan(**self._values()).check()
        except UserError as error:
            self.notify(error.message, severity="error")
            return
        self.dismiss(plan)

    def action_drop(self) -> None:
        self.dismiss(None)
