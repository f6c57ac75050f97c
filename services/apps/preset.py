"""The Triton preset: what `app run IMAGE` with a bucket and no other flags fills in.

Triton serves HTTP on 8000 (the app URL), gRPC on 8001 (the app's gRPC address), and is
ready when `/v2/health/ready` answers, which with strict readiness means every model has
loaded: the probe that keeps traffic off a replica still loading (`ovh-ai-deploy.md` §7).
"""

from __future__ import annotations

import shlex
from pathlib import Path

from services.apps.protocol import (
    MODELS_MOUNT,
    TRITON_GRPC_PORT,
    TRITON_HTTP_PORT,
    TRITON_PROBE_PATH,
    AppSpec,
    FixedScaling,
    Probe,
    Scaling,
)
from services.confine import WORKSPACE
from services.errors import UserError
from services.jobs.protocol import VolumeSpec

TRITON_COMMAND = ("tritonserver", f"--model-repository={MODELS_MOUNT}")


def triton_app(image: str, models: VolumeSpec | None, name: str | None = None, scaling: Scaling | None = None, unsecure_http: bool = False) -> AppSpec:
    """`models` is mounted read-only at /workspace/models whatever mount it named."""
    volumes = (VolumeSpec(models.container, models.alias, MODELS_MOUNT, "RO", models.prefix, models.cache),) if models else ()
    return AppSpec(
        image=image, command=TRITON_COMMAND, name=name, default_http_port=TRITON_HTTP_PORT, grpc_port=TRITON_GRPC_PORT,
        unsecure_http=unsecure_http, volumes=volumes, probe=Probe(TRITON_PROBE_PATH, TRITON_HTTP_PORT), scaling=scaling or FixedScaling(1),
    )  # fmt: skip


def server_words(command: tuple[str, ...], workspace: Path) -> list[str]:
    """The tritonserver command of a spec (plain, or the tutorial's `bash -c "tritonserver …"`)."""
    words = list(command) or ["tritonserver", f"--model-repository={WORKSPACE}/models"]
    if len(words) == 3 and words[0] in ("bash", "sh") and words[1] == "-c":
        words = shlex.split(words[2])
    if not words or Path(words[0]).name != "tritonserver":
        raise UserError(f"a local app runs the bundled tritonserver, not '{' '.join(words[:2])}': give `-- tritonserver --model-repository=/workspace/models`")
    return [word.replace(WORKSPACE, str(workspace)) for word in words]
