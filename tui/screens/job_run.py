"""`n` on the jobs panel: the run form, prefilled with the tutorial's Triton server job.

Every field is checked before anything is sent; the first problem is named in one line
and its field focused. The equivalent `ovhai job run ...` is previewed as you type, and
`--unsecure-http` carries a loud warning because it makes the job's URL public.
"""

from __future__ import annotations

import shlex

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Checkbox, Input, Label

from services.errors import FieldError, UserError
from services.jobs.document import run_command_line
from services.jobs.protocol import MAX_GPUS, JobSpec, check_image, job_resources, parse_pairs, parse_volume
from tui.screens.run_form import RunSpecForm
from widgets.check_box import CheckBox

HTTP_PORT, GRPC_PORT = 8000, 8001
TRITON_COMMAND = "tritonserver --model-repository=/workspace/models"
UNSECURE_WARNING = "⚠ --unsecure-http: anyone with the job URL can call it, no token needed."


def tutorial_defaults(region: str, image: str) -> dict[str, str]:
    return {
        "image": image,
        "name": "triton-server",
        "command": TRITON_COMMAND,
        "gpu": "1",
        "port": str(HTTP_PORT),
        "volume": f"my-models@{region}:/workspace/models:RO",
        "env": "",
        "labels": "",
    }


def spec_from_fields(values: dict[str, str], unsecure_http: bool) -> JobSpec:
    """The form's text fields as a JobSpec, or a `UserError` naming the first bad field."""
    image = values["image"].strip()
    try:
        check_image(image, "image")
    except UserError as error:
        raise FieldError("image", error.message) from None
    command = tuple(_words(values, "command"))
    gpu_text = values["gpu"].strip()
    if not gpu_text.isdigit():
        raise FieldError("gpu", f"GPUs '{gpu_text}' must be a number from 0 (a 1-CPU job) to {MAX_GPUS}")
    try:  # the form has no CPU field: 0 GPUs means a one-CPU job
        gpu, cpu = job_resources(int(gpu_text), 1 if gpu_text == "0" else None)
    except UserError as error:
        raise FieldError("gpu", error.message) from None
    port_text = values["port"].strip()
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise FieldError("port", f"port '{port_text}' must be 1-65535 (8000 for Triton HTTP, 8001 for gRPC)")
    volumes = []
    for text in values["volume"].split():
        try:
            volumes.append(parse_volume(text))
        except UserError as error:
            raise FieldError("volume", error.message) from None
    return JobSpec(
        image=image,
        command=command,
        name=values["name"].strip() or None,
        gpu=gpu,
        cpu=cpu,
        default_http_port=int(port_text),
        unsecure_http=unsecure_http,
        volumes=tuple(volumes),
        env=_field_pairs(values, "env"),
        labels=_field_pairs(values, "labels"),
    )


def _words(values: dict[str, str], field: str) -> list[str]:
    try:
        return shlex.split(values[field])
    except ValueError as error:
        raise FieldError(field, f"{field} cannot be split into words ({error}): check its quotes") from None


def _field_pairs(values: dict[str, str], field: str) -> tuple[tuple[str, str], ...]:
    words = _words(values, field)
    try:
        return parse_pairs(words, field, " (space-separated)")
    except UserError as error:
        raise FieldError(field, error.message) from None


class JobRunScreen(RunSpecForm[JobSpec]):
    """Dismisses with the JobSpec to run, or None."""

    prefix = "run"
    fields = (
        ("image", "image"), ("name", "name"), ("command", "command"), ("gpu", "GPUs"), ("port", "HTTP port"),
        ("volume", "volumes"), ("env", "env"), ("labels", "labels"),
    )  # fmt: skip
    field_keys = tuple(key for key, _label in fields)
    form_title = "Run a job"
    unsecure_default = True
    unsecure_warning = UNSECURE_WARNING

    def compose_switches(self) -> ComposeResult:
        with Horizontal(classes="field switches"):
            yield Label("gRPC", classes="field-label")
            yield CheckBox("expose 8001 for gRPC instead of 8000", False, id="run-grpc")

    def build(self, values: dict[str, str], unsecure_http: bool) -> JobSpec:
        return spec_from_fields(values, unsecure_http)

    def command(self, spec: JobSpec) -> str:
        return run_command_line(spec)

    @on(Checkbox.Changed, "#run-grpc")
    def _grpc(self, event: Checkbox.Changed) -> None:
        self.query_one("#run-port", Input).value = str(GRPC_PORT if event.value else HTTP_PORT)
