"""Text for service events, shared by the CLI and the screens (k9s's `internal/render/`):
services emit typed events, and this is where they become the lines a person reads."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from services.units import human_age, human_size

if TYPE_CHECKING:  # annotations only: the Buckets panel renders objects at startup, and pays for no more
    from services.apps.protocol import App
    from services.images.protocol import BuildFailed, BuildStep
    from services.inference.protocol import InferResult
    from services.jobs.protocol import Job
    from services.pipeline.state import Progress
    from services.storage.protocol import ObjectInfo
    from services.triton.frameworks import ModelServing

BAR_CELLS = 30
PREVIEW_VALUES = 8
OUTPUT_COLUMNS = ("OUTPUT", "DATATYPE", "SHAPE", "VALUES")


def build_step_line(step: BuildStep) -> str:
    """A build step as `docker build` prints it."""
    return f"Step {step.number}/{step.total} : {step.instruction}" + (" (cached)" if step.cached else "")


def build_failure(failed: BuildFailed) -> str:
    """Which step failed and why, in one line."""
    return f"{f'step {failed.step}' if failed.step else 'the build'} failed: {failed.message}"


def progress_line(progress: Progress) -> str:
    """A running step's bar as text: `━━━╌╌╌  42%`, after the layer's name and before its status."""
    fraction = max(0.0, min(1.0, progress.fraction))
    filled = round(fraction * BAR_CELLS)
    bar = f"{'━' * filled}{'╌' * (BAR_CELLS - filled)} {fraction:4.0%}"
    return f"{progress.label:<14} {bar} {progress.status}" if progress.label else bar


def values_preview(array: object, count: int = PREVIEW_VALUES) -> str:
    """An output's first values (strings quoted), and how many there are when not all show."""
    import numpy as np  # only the inference views pay for it

    flat = np.asarray(array).reshape(-1)
    shown = [
        f'"{item.decode("utf-8", errors="replace")}"' if isinstance(item, bytes) else f"{item:.6g}" if isinstance(item, np.floating) else str(item)
        for item in flat[:count]
    ]  # fmt: skip
    return " ".join(shown) + (f" … ({flat.size} values)" if flat.size > count else "")


def output_rows(result: InferResult) -> list[tuple[str, str, str, str]]:
    """One row per output, in OUTPUT_COLUMNS' order: what `infer` prints and the pane's cards show."""
    return [(output.name, output.datatype, str(list(output.shape)), values_preview(output.array)) for output in result.outputs]


def serving_lines(servings: list[ModelServing], target: str) -> list[str]:
    """`simple_onnx: served locally through onnxruntime 1.x (CPU)`, or why it cannot be: what
    `repo validate`, the upload dialog and the Deploy screen say per model."""
    where = "locally" if target == "local" else "on an OVHcloud GPU job"
    return [f"{s.model}: {s.line}" if s.servable else f"{s.model}: cannot be served {where}: {s.line}" for s in servings]



# -- listings: one cell function per resource and column, for the panels and the CLI ------------
# The CLI keeps ovhai's columns (whole ids and images); a panel fits 80 columns (`narrow`: the
# short id, the image's last path element) and adds its own (GPUs, scaling). Each picks its
# columns by name from the same cells, so a job's AGE or an app's REPLICAS reads the same in both.

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def short_image(image: str) -> str:
    """The last path element (`tritonserver:23.03-py3`): the registry prefix is noise in a table."""
    return image.rsplit("/", 1)[-1]


def run_cells(run: Job | App, now: datetime, narrow: bool) -> dict[str, str]:
    """The cells a job and an app both have."""
    return {
        "ID": run.short_id if narrow else run.id, "NAME": run.name, "STATE": run.state.value,
        "IMAGE": short_image(run.spec.image) if narrow else run.spec.image, "AGE": human_age(run.created_at, now), "URL": run.url or "",
    }  # fmt: skip


def job_cells(job: Job, now: datetime, narrow: bool = False) -> dict[str, str]:
    return {**run_cells(job, now, narrow), "GPUS": str(job.spec.gpu)}


def app_cells(app: App, now: datetime, narrow: bool = False) -> dict[str, str]:
    from services.apps.protocol import scaling_summary

    return {**run_cells(app, now, narrow), "REPLICAS": f"{app.available_replicas}/{app.desired}", "SCALING": scaling_summary(app.spec.scaling)}


def object_cells(info: ObjectInfo, prefix: str = "") -> dict[str, str]:
    """An object as `ovhai bucket object list` lists it (the key below `prefix` in a browser)."""
    return {"DATE": info.last_modified.strftime(DATE_FORMAT), "BYTES": human_size(info.size), "NAME": info.key[len(prefix) :], "ETAG": info.etag}
