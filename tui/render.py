"""Text for service events, shared by the CLI and the screens (k9s's `internal/render/`):
services emit typed events, and this is where they become the lines a person reads."""

from __future__ import annotations

from services.images.protocol import BuildFailed, BuildStep
from services.pipeline.state import Progress

BAR_CELLS = 30


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
