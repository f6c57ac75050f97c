"""Health and classification, one way for `health`/`classify`, the Inference panel and the pipeline.

The rules decided here: what a server check reads (health, then the server's metadata and
its model index, so "ready" comes with what is served), and what a classification takes
(at least one image, a concurrency of 1 or more; the client checks top-k and batch size
against the model), each refused in one line that front ends complete with their fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from services.errors import UserError
from services.inference.protocol import (
    ClassifyRequest,
    Health,
    InferenceClient,
    ModelIndexEntry,
    ModelMetadata,
    Scaling,
    ServerMetadata,
    image_files,
)


@dataclass(frozen=True)
class ServerReport:
    """What `health` prints and the Inference panel shows about a server."""

    health: Health
    server: ServerMetadata
    models: tuple[ModelIndexEntry, ...]


def check_server(client: InferenceClient) -> ServerReport:
    return ServerReport(client.health(), client.server_metadata(), tuple(client.model_index()))


def classify_request(
    paths: Sequence[Path], model: str, fix: str, version: str = "", top_k: int = 3, scaling: Scaling = Scaling.NONE, batch_size: int = 1, concurrency: int = 1
) -> ClassifyRequest:
    """The request for the images under `paths`; `fix` ends the line when there are none."""
    images = image_files(paths)
    if not images:
        raise UserError(f"no images in {', '.join(str(p) for p in paths)}: {fix}")
    if concurrency < 1:
        raise UserError(f"--concurrency {concurrency} is not valid: use 1 or more")
    return ClassifyRequest(model, tuple(images), version, top_k, scaling, batch_size, concurrency)


def max_batch_size(client: InferenceClient, model: str, version: str = "") -> int:
    return int(str(client.model_config(model, version).get("max_batch_size", 0) or 0))


def looks_like_image_classifier(metadata: ModelMetadata, max_batch: int) -> bool:
    """What image_client would take: one input of three dimensions past the batch, one FP32
    output. Front ends offer classification only then, and one generic inference otherwise."""
    if len(metadata.inputs) != 1 or len(metadata.outputs) != 1 or metadata.outputs[0].datatype != "FP32":
        return False
    return len(metadata.inputs[0].shape) - (max_batch > 0) == 3


def is_image_classifier(client: InferenceClient, model: str, version: str = "") -> bool:
    return looks_like_image_classifier(client.model_metadata(model, version), max_batch_size(client, model, version))

