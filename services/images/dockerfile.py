"""The two Dockerfiles of the Triton tutorial, rebuilt for AI Training.

AI Training runs containers as user 42420:42420, so the image must hand `/workspace`
to that user; everything else is the NGC Triton image unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.errors import UserError
from services.text import has_controls, visible

DEFAULT_TRITON_VERSION = "23.03"
AI_TRAINING_UID = 42420
DEFAULT_PLATFORM = "linux/amd64"
_VERSION = re.compile(r"^\d{2}\.(0[1-9]|1[0-2])$")  # NGC's YY.MM: a month, 01 to 12
INSTRUCTIONS = {"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"}


@dataclass(frozen=True)
class DockerfileSpec:
    version: str = DEFAULT_TRITON_VERSION
    client: bool = False
    extra_lines: tuple[str, ...] = ()
    base: str | None = None  # another FROM (a mirror, or a local base where NGC cannot be pulled)

    @property
    def base_image(self) -> str:
        if self.base:
            return self.base
        suffix = "-py3-sdk" if self.client else "-py3"
        return f"nvcr.io/nvidia/tritonserver:{self.version}{suffix}"


def render_dockerfile(spec: DockerfileSpec) -> str:
    """The Dockerfile, one instruction per given line: a line break (or any control
    character) in the base or an extra line would slip in instructions nobody typed."""
    for what, text in (("base image", spec.base or ""), *(("extra line", line) for line in spec.extra_lines)):
        if has_controls(text):
            raise UserError(f"{what} '{visible(text)}' holds a line break or control character: give one instruction per --line")
    if spec.base and " " in spec.base.strip():
        raise UserError(f"base image '{spec.base}' must be one image reference, e.g. nvcr.io/nvidia/tritonserver:23.03-py3")
    for line in spec.extra_lines:
        if line.split(" ", 1)[0].upper() not in INSTRUCTIONS:
            raise UserError(f"extra line '{line}' is not a Dockerfile instruction: start it with RUN, ENV, COPY, LABEL…")
    if not spec.base and not _VERSION.match(spec.version):
        raise UserError(f"invalid Triton version '{spec.version}': use the NGC release form YY.MM (a month 01-12), e.g. 23.03")
    lines = [
        f"FROM {spec.base_image}",
        "WORKDIR /workspace",
        "COPY . /workspace",
        *spec.extra_lines,
        f"RUN chown -R {AI_TRAINING_UID}:{AI_TRAINING_UID} /workspace",
        "ENV HOME=/workspace",
    ]
    return "\n".join(lines) + "\n"
