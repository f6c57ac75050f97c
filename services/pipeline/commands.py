"""What each step amounts to with the tools users juggle today: ovhai, docker, curl, image_client.

Shown beside every step, so the pipeline teaches the commands it replaces.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from services.apps.document import run_command_line as app_command_line
from services.images.dockerfile import DEFAULT_PLATFORM
from services.jobs.document import run_command_line
from services.jobs.protocol import JobSpec, VolumeSpec
from services.pipeline.plan import DeployPlan, Step
from services.pipeline.runner import JOB_NAME, SERVER_COMMAND, server_app_spec

if TYPE_CHECKING:
    from services.backends import BackendKind


def shown_path(path: str) -> str:
    """A path as the user would type it here: relative to the working directory when inside it."""
    try:
        return str(Path(path).expanduser().resolve().relative_to(Path.cwd()))
    except ValueError:
        return path


def equivalent_command(plan: DeployPlan, step: Step, kind: BackendKind) -> str:
    repository = shown_path(plan.repository).rstrip("/") + "/"
    bucket = plan.bucket_ref
    host = kind.inference_host
    image_client = f"image_client -u {host} -m {plan.model} -c {plan.top_k} -s {plan.scaling} {shlex.quote(shown_path(plan.images))}"
    if step is Step.VALIDATE:
        return f"triton-deck repo validate {shlex.quote(shown_path(plan.repository))}"
    if step is Step.UPLOAD:
        return f"ovhai bucket object upload {plan.bucket} {shlex.quote(repository)} --remove-prefix {shlex.quote(repository)}"
    if step is Step.BUILD:
        return f"docker build --platform {DEFAULT_PLATFORM} -t {plan.server_image} {shlex.quote(plan.build_context)}"
    if step is Step.PUSH:
        return f"docker push {plan.server_image}"
    if step is Step.SERVE and plan.serve_as == "app":
        return app_command_line(server_app_spec(plan))
    if step is Step.SERVE:
        spec = JobSpec(
            image=plan.server_image, command=SERVER_COMMAND, name=JOB_NAME, gpu=plan.gpu, default_http_port=plan.port,
            unsecure_http=True, volumes=(VolumeSpec(bucket.name, bucket.region, "/workspace/models", "RO"),),
        )  # fmt: skip
        return run_command_line(spec)
    if step is Step.READY:
        return "curl -s -o /dev/null -w '%{http_code}' <job-url>/v2/health/ready"
    if step is Step.CLASSIFY:
        return image_client
    return f"ovhai job run --cpu 1 --volume {bucket.name}-images@{bucket.region}:/workspace/images:RO {plan.client_image} -- {image_client}"
