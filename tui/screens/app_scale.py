"""`s` on an app: the scale dialog, fixed ↔ automatic, applied live (`PUT …/scalingstrategy`).

Fill `replicas` for a fixed count, or `min-max` and a signal for automatic scaling: CPU or
RAM with a target %, or a Prometheus selector read from each replica's metrics port
(Triton's `nv_inference_pending_request_count` gauge, say) with a target value.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from services.apps.protocol import AutomaticScaling, FixedScaling, Scaling, scaling_summary
from services.errors import UserError
from services.usecases.apps import scaling_from_flags
from tui.screens.dialog import DialogKeys
from widgets.inert import inert

METRICS_URL = "http://<SELF>:8002/metrics"
FIELDS = (("replicas", "replicas"), ("bounds", "or auto min-max"), ("signal", "signal"), ("target", "target"))


def scale_fields(scaling: Scaling) -> dict[str, str]:
    if isinstance(scaling, FixedScaling):
        return {"replicas": str(scaling.replicas), "bounds": "", "signal": "CPU", "target": "75"}
    signal = scaling.custom_metric.value_location if scaling.custom_metric else str(scaling.resource_type)
    target = f"{scaling.target:g}" if scaling.target is not None else ""
    return {"replicas": "", "bounds": f"{scaling.replicas_min}-{scaling.replicas_max}", "signal": signal, "target": target}


def scaling_from_fields(values: dict[str, str], keep: Scaling | None = None) -> Scaling:
    """The dialog as a strategy (one rule with `app scale`: `scaling_from_flags`); windows kept from `keep`."""
    replicas_text, bounds = values["replicas"].strip(), values["bounds"].strip()
    if replicas_text and not bounds:
        if not replicas_text.isdigit():
            raise UserError(f"replicas '{replicas_text}' must be a whole number, 1 to 10")
        return scaling_from_flags(int(replicas_text))
    low, dash, high = bounds.partition("-")
    if not (dash and low.isdigit() and high.isdigit()):
        raise UserError("give replicas for a fixed count, or min-max (e.g. 1-3) for automatic scaling")
    signal, target_text = values["signal"].strip(), values["target"].strip()
    try:
        target = float(target_text)
    except ValueError:
        raise UserError(f"target '{target_text}' must be a number (a % for CPU/RAM, a value for a metric)") from None
    windows = (keep.scale_up_window_s, keep.scale_down_window_s) if isinstance(keep, AutomaticScaling) else (None, None)
    if signal.upper() in ("CPU", "RAM"):
        return scaling_from_flags(None, int(low), int(high), signal.upper(), int(target), up_window_s=windows[0], down_window_s=windows[1])
    metric = keep.custom_metric if isinstance(keep, AutomaticScaling) else None
    return scaling_from_flags(
        None, int(low), int(high), custom_url=metric.api_url if metric else METRICS_URL, custom_format=metric.format if metric else None,
        custom_location=signal, custom_target=target, custom_aggregation=metric.aggregation if metric else None,
        up_window_s=windows[0], down_window_s=windows[1],
    )  # fmt: skip


class AppScaleScreen(DialogKeys, ModalScreen[Scaling | None]):
    ENTER = "Apply"
    """Dismisses with the new strategy, or None; `enter` in any field applies."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "apply", "Apply")]

    def __init__(self, name: str, scaling: Scaling) -> None:
        super().__init__()
        self._name = name
        self._scaling = scaling

    def compose(self) -> ComposeResult:
        values = scale_fields(self._scaling)
        with Vertical(id="scale-box", classes="dialog"):
            yield Static(inert(f"Scale {self._name}: now {scaling_summary(self._scaling)}"), id="scale-title")
            for key, label in FIELDS:
                with Horizontal(classes="field"):
                    yield Label(label, classes="field-label")
                    yield Input(values[key], id=f"scale-{key}")
            yield Static("signal: CPU, RAM, or a metric such as nv_inference_pending_request_count{model=\"m\"}", classes="hint")
            yield Static(id="scale-preview")

    def on_mount(self) -> None:
        self.query_one("#scale-replicas" if isinstance(self._scaling, FixedScaling) else "#scale-bounds", Input).focus()
        self._update()

    def _values(self) -> dict[str, str]:
        return {key: self.query_one(f"#scale-{key}", Input).value for key, _label in FIELDS}

    @on(Input.Changed)
    def _update(self) -> None:
        preview = self.query_one("#scale-preview", Static)
        try:
            preview.update(inert(f"→ {scaling_summary(scaling_from_fields(self._values(), self._scaling))}", style="bold"))
        except UserError as error:
            preview.update(inert(error.message, style="red"))

    @on(Input.Submitted)
    def action_apply(self) -> None:
        try:
            self.dismiss(scaling_from_fields(self._values(), self._scaling))
        except UserError as error:
            self.query_one("#scale-preview", Static).update(inert(error.message, style="bold red"))

    def action_cancel(self) -> None:
        self.dismiss(None)
