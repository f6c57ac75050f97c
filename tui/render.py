"""Text for service events, shared by the CLI and the screens (k9s's `internal/render/`):
services emit typed events, and this is where they become the lines a person reads."""

from __future__ import annotations

from services.images.protocol import BuildFailed, BuildStep
from services.inference.protocol import InferResult
from services.pipeline.state import Progress
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

