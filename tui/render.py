"""Text for service events, shared by the CLI and the screens (k9s's `internal/render/`):
services emit typed events, and this is where they become the lines a person reads."""

from __future__ import annotations

from services.images.protocol import BuildFailed, BuildStep


def build_step_line(step: BuildStep) -> str:
    """A build step as `docker build` prints it."""
    return f"Step {step.number}/{step.total} : {step.instruction}" + (" (cached)" if step.cached else "")


def build_failure(failed: BuildFailed) -> str:
    """Which step failed and why, in one line."""
    return f"{f'step {failed.step}' if failed.step else 'the build'} failed: {failed.message}"
