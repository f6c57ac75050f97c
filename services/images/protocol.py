"""The `ImageBuilder` capability: build, tag, login and push as streams of typed events.

The docker engine's JSON streams are decoded into these events by the implementation,
so the UI renders one vocabulary whatever the engine (docker, podman) sends.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from services.cancel import CancelToken
from services.images.dockerfile import DockerfileSpec
from services.secrets import Secret


@dataclass(frozen=True)
class BuildLog:
    """A line of build output (`\\r` progress frames already collapsed to the last one)."""

    text: str


@dataclass(frozen=True)
class BuildStep:
    number: int
    total: int
    instruction: str
    cached: bool = False


@dataclass(frozen=True)
class BuildDone:
    image_id: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuildFailed:
    message: str
    step: int | None = None


BuildEvent = BuildLog | BuildStep | BuildDone | BuildFailed


@dataclass(frozen=True)
class LayerProgress:
    """One layer of a push: status as docker prints it, bytes when it is pushing."""

    layer_id: str
    status: str
    current: int | None = None
    total: int | None = None


@dataclass(frozen=True)
class PushDone:
    reference: str
    digest: str
    size: int | None = None


PushEvent = LayerProgress | PushDone


@dataclass(frozen=True)
class PullDone:
    reference: str
    digest: str | None  # None when the engine names none (an image already present, on some engines)


PullEvent = LayerProgress | PullDone


@dataclass(frozen=True)
class EngineInfo:
    """Which engine answered, and where: shown in the Images panel header."""

    endpoint: str
    version: str
    architecture: str


@runtime_checkable
class ImageBuilder(Protocol):
    def engine(self) -> EngineInfo: ...

    def dockerfile(self, spec: DockerfileSpec) -> str: ...

    def build(
        self, context: Path, tag: str, platform: str, dockerfile: str | None, cancel: CancelToken
    ) -> Iterator[BuildEvent]: ...

    def tag(self, source: str, target: str) -> None: ...

    def login(self, registry: str, username: str, password: Secret) -> str:
        """Log in and return the engine's status line (e.g. "Login Succeeded")."""
        ...

    def push(self, reference: str, cancel: CancelToken) -> Iterator[PushEvent]: ...

    def pull(self, reference: str, platform: str, cancel: CancelToken) -> Iterator[PullEvent]:
        """`docker pull`: a `LayerProgress` per layer change, then the digest."""
        ...
