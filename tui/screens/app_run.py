"""`n` on the Apps panel: the run form with the Triton preset (ports 8000/8001, probe
`/v2/health/ready`, the models bucket read-only at /workspace/models).

As the job run form: every field is checked before anything is sent, the first problem is
named in one line and its field marked, and the equivalent `ovhai app run ...` is shown.
"""

from __future__ import annotations

from services.apps.document import run_command_line
from services.apps.preset import triton_app
from services.apps.protocol import AppSpec
from services.errors import FieldError, UserError
from services.jobs.protocol import parse_volume
from services.usecases.apps import scaling_from_flags
from tui.screens.run_form import RunSpecForm

UNSECURE_WARNING = "⚠ --unsecure-http: anyone with the app URL can call it, no token needed."
FIELDS = (("image", "image"), ("name", "name"), ("models", "models bucket"), ("replicas", "replicas"), ("auto", "or auto min-max"), ("target", "CPU target %"))


def _number(values: dict[str, str], field: str, what: str) -> int | None:
    text = values[field].strip()
    if not text:
        return None
    if not text.isdigit():
        raise FieldError(field, f"{what} '{text}' must be a whole number")
    return int(text)


def spec_from_fields(values: dict[str, str], unsecure_http: bool) -> AppSpec:
    """The form as an AppSpec, or a `UserError` naming the first bad field."""
    image = values["image"].strip()
    if not image or " " in image:
        raise FieldError("image", "image is required, with no spaces, e.g. nvcr.io/nvidia/tritonserver:24.08-py3")
    models = values["models"].strip()
    try:
        volume = parse_volume(f"{models}:/workspace/models:RO") if models else None
    except UserError as error:
        raise FieldError("models", error.message) from None
    replicas = _number(values, "replicas", "replicas")
    low = high = None
    if values["auto"].strip():
        low_text, dash, high_text = values["auto"].strip().partition("-")
        if not (dash and low_text.isdigit() and high_text.isdigit()):
            raise FieldError("auto", f"auto '{values['auto'].strip()}' must be MIN-MAX, e.g. 1-3")
        low, high = int(low_text), int(high_text)
    target = _number(values, "target", "CPU target")
    try:
        scaling = scaling_from_flags(replicas, low, high, "CPU" if low is not None else None, target if low is not None else None)
    except UserError as error:
        raise FieldError("replicas", error.message) from None
    return triton_app(image, volume, values["name"].strip() or None, scaling, unsecure_http)


class AppRunScreen(RunSpecForm[AppSpec]):
    """Dismisses with the AppSpec to run, or None."""

    prefix = "app"
    form_title = "Run Triton as an app"
    fields = FIELDS
    field_keys = tuple(key for key, _label in FIELDS)
    unsecure_warning = UNSECURE_WARNING

    def build(self, values: dict[str, str], unsecure_http: bool) -> AppSpec:
        return spec_from_fields(values, unsecure_http)

    def command(self, spec: AppSpec) -> str:
        return run_command_line(spec)
