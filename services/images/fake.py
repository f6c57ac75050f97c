"""`FakeImageBuilder`: scripted build and push streams for snapshot tests and UI work."""

from __future__ import annotations

import hashlib
from collections.abc import Generator, Iterator
from pathlib import Path

from services.cancel import CancelToken
from services.errors import UserError
from services.images.dockerfile import DockerfileSpec, render_dockerfile
from services.images.protocol import (
    BuildDone,
    BuildEvent,
    BuildLog,
    BuildStep,
    EngineInfo,
    LayerProgress,
    PullDone,
    PullEvent,
    PushDone,
    PushEvent,
)
from services.secrets import Secret

_LAYER_SIZES = (("5e9d1a2b3c4d", 2_097_152), ("7f0e1d2c3b4a", 524_288), ("a1b2c3d4e5f6", 1_024))


class FakeImageBuilder:
    def __init__(self) -> None:
        self.tags: dict[str, str] = {}
        self.logins: list[str] = []

    def engine(self) -> EngineInfo:
        return EngineInfo(endpoint="unix:///var/run/docker.sock", version="28.2.2", architecture="x86_64")

    def dockerfile(self, spec: DockerfileSpec) -> str:
        return render_dockerfile(spec)

    def build(
        self, context: Path, tag: str, platform: str, dockerfile: str | None, cancel: CancelToken
    ) -> Iterator[BuildEvent]:
        instructions = [line for line in (dockerfile or render_dockerfile(DockerfileSpec())).splitlines() if line.strip()]
        for number, instruction in enumerate(instructions, start=1):
            if cancel.cancelled:
                return
            yield BuildStep(number, len(instructions), instruction, cached=number == 1)
            yield BuildLog(f" ---> {hashlib.sha256(instruction.encode()).hexdigest()[:12]}")
        image_id = "sha256:" + hashlib.sha256(f"{tag}{platform}".encode()).hexdigest()
        self.tags[tag] = image_id
        yield BuildDone(image_id=image_id, tags=(tag,))

    def tag(self, source: str, target: str) -> None:
        if source not in self.tags:
            raise UserError(f"image {source} not found: build it first or check the name")
        self.tags[target] = self.tags[source]

    def login(self, registry: str, username: str, password: Secret) -> str:
        if not password:
            raise UserError(f"login to {registry} failed: empty password")
        self.logins.append(registry)
        return "Login Succeeded"

    def push(self, reference: str, cancel: CancelToken) -> Iterator[PushEvent]:
        if reference not in self.tags:
            raise UserError(f"image {reference} not found: tag it first")
        for layer_id, _ in _LAYER_SIZES:
            yield LayerProgress(layer_id, "Preparing")
        if (yield from _moving_layers("Pushing", "Pushed", cancel)):
            yield PushDone(reference=reference, digest=_digest(reference), size=sum(size for _, size in _LAYER_SIZES))

    def pull(self, reference: str, platform: str, cancel: CancelToken) -> Iterator[PullEvent]:
        if (yield from _moving_layers("Downloading", "Pull complete", cancel)):
            self.tags[reference] = _digest(reference)
            yield PullDone(reference=reference, digest=_digest(reference))


def _digest(reference: str) -> str:
    return "sha256:" + hashlib.sha256(reference.encode()).hexdigest()


def _moving_layers(moving: str, finished: str, cancel: CancelToken) -> Generator[LayerProgress, None, bool]:
    """Each layer half-way, whole, then `finished`, as an engine reports a push or a pull; False if cancelled."""
    for layer_id, size in _LAYER_SIZES:
        for current in (size // 2, size):
            if cancel.cancelled:
                return False
            yield LayerProgress(layer_id, moving, current, size)
        yield LayerProgress(layer_id, finished)
    return True
