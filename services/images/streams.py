"""The engine's build and push JSON streams, decoded into `BuildEvent`s and `PushEvent`s.

Both dockerd and podman speak the Docker Engine API but word their streams differently
(`Step 1/4 : X` vs `STEP 1/4: X`, per-layer push lines vs only the digest line); the two
parsers here accept both, so nothing above them knows which engine answered. Engines put
errors inside an HTTP 200 stream, so an `error`/`errorDetail` chunk is an event (build)
or an exception (push), never ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from services.errors import UserError
from services.images.protocol import (
    BuildDone,
    BuildEvent,
    BuildFailed,
    BuildLog,
    BuildStep,
    LayerProgress,
    PullDone,
    PullEvent,
    PushDone,
    PushEvent,
)

STEP = re.compile(r"^(?:Step|STEP) (\d+)/(\d+) ?: ?(.*)$")
BUILT = re.compile(r"^Successfully built ([0-9a-f]{12,64})$")
TAGGED = re.compile(r"^Successfully tagged (\S+)$")
PODMAN_COMMIT = re.compile(r"^COMMIT (\S+)$")
BARE_ID = re.compile(r"^[0-9a-f]{64}$")
DIGEST_LINE = re.compile(r"^(?P<tag>\S+): digest: (?P<digest>sha256:[0-9a-f]{64}) size: (?P<size>\d+)$")
PUSH_REPOSITORY = re.compile(r"^The push refers to repository \[(?P<repo>[^\]]+)\]$")
CACHE_HIT = {" ---> Using cache", "--> Using cache"}
RUNNING_IN = re.compile(r"^ ---> Running in ([0-9a-f]{12,64})$")


def _error_message(chunk: Mapping[str, Any]) -> str | None:
    detail = chunk.get("errorDetail")
    if isinstance(detail, Mapping) and detail.get("message"):
        return str(detail["message"])
    return str(chunk["error"]) if chunk.get("error") else None


def collapse_frames(text: str) -> str:
    """A line redrawn with `\\r` (a progress bar) keeps only its last frame."""
    return text.rsplit("\r", 1)[-1] if "\r" in text else text


class BuildStreamParser:
    """Feed decoded chunks in order; each returns the events it completes."""

    def __init__(self) -> None:
        self._pending = ""  # `stream` text arrives in pieces: lines are emitted once complete
        self._step: BuildStep | None = None
        self._image_id: str | None = None
        self._tags: list[str] = []
        self.failed = False
        self.running_container: str | None = None  # the RUN step's container, which a cancel kills

    def feed(self, chunk: Mapping[str, Any]) -> list[BuildEvent]:
        message = _error_message(chunk)
        if message is not None:
            self.failed = True
            return [*self._flush(), BuildFailed(" ".join(message.split()), self._step.number if self._step else None)]
        aux = chunk.get("aux")
        if isinstance(aux, Mapping) and isinstance(aux.get("ID"), str):
            self._image_id = aux["ID"]
        text = chunk.get("stream")
        if not isinstance(text, str):
            status = chunk.get("status")
            return [BuildLog(collapse_frames(str(status)))] if status else []
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        events: list[BuildEvent] = []
        for line in lines:
            events.extend(self._line(collapse_frames(line).rstrip()))
        return events

    def _flush(self) -> list[BuildEvent]:
        pending, self._pending = self._pending, ""
        return self._line(collapse_frames(pending).rstrip()) if pending.strip() else []

    def _line(self, line: str) -> list[BuildEvent]:
        if not line:
            return []
        if step := STEP.match(line):
            self._step = BuildStep(int(step[1]), int(step[2]), step[3].strip())
            return [self._step]
        if line in CACHE_HIT and self._step is not None:
            self._step = BuildStep(self._step.number, self._step.total, self._step.instruction, cached=True)
            return [self._step]
        if running := RUNNING_IN.match(line):
            self.running_container = running[1]
        elif built := BUILT.match(line):
            self._image_id = self._image_id or built[1]
        elif tagged := TAGGED.match(line) or PODMAN_COMMIT.match(line):
            self._tags.append(tagged[1])
        elif BARE_ID.match(line):
            self._image_id = self._image_id or f"sha256:{line}"
        return [BuildLog(line)]

    def finish(self) -> list[BuildEvent]:
        """At the end of the stream: the image, or why there is none."""
        events = self._flush()
        if self.failed:
            return events
        if self._image_id is None:
            return [*events, BuildFailed("the engine ended the build without an image id: see the log above")]
        image_id = self._image_id if self._image_id.startswith("sha256:") else f"sha256:{self._image_id}"
        return [*events, BuildDone(image_id, tuple(self._tags))]


class PushStreamParser:
    """Per-layer progress when the engine sends it (dockerd), the digest either way (podman too)."""

    def __init__(self, reference: str) -> None:
        self.reference = reference
        self._digest: str | None = None
        self._size: int | None = None

    def feed(self, chunk: Mapping[str, Any]) -> list[PushEvent]:
        message = _error_message(chunk)
        if message is not None:
            raise UserError(f"push of {self.reference} failed: {' '.join(message.split())}")
        aux = chunk.get("aux")
        if isinstance(aux, Mapping) and isinstance(aux.get("Digest"), str):
            self._digest = aux["Digest"]
            self._size = int(aux["Size"]) if aux.get("Size") is not None else self._size
            return []
        status = str(chunk.get("status") or "")
        if digest := DIGEST_LINE.match(status):
            self._digest, self._size = digest["digest"], int(digest["size"])
            return []
        layer = chunk.get("id")
        if not layer or PUSH_REPOSITORY.match(status):
            return []
        detail = chunk.get("progressDetail") or {}
        current, total = detail.get("current"), detail.get("total")
        return [LayerProgress(str(layer), status, int(current) if current is not None else None, int(total) if total else None)]

    def finish(self) -> PushDone:
        if self._digest is None:
            raise UserError(f"push of {self.reference} ended without a digest: the registry may not have stored it; push again")
        return PushDone(self.reference, self._digest, self._size)


PULL_DIGEST = re.compile(r"^Digest: (?P<digest>sha256:[0-9a-f]{64})$")


class PullStreamParser:
    """dockerd's pull stream: a layer's Waiting/Downloading/Extracting/Pull complete, then the digest."""

    def __init__(self, reference: str) -> None:
        self.reference = reference
        self._digest: str | None = None

    def feed(self, chunk: Mapping[str, Any]) -> list[PullEvent]:
        message = _error_message(chunk)
        if message is not None:
            raise UserError(f"pull of {self.reference} failed: {' '.join(message.split())}")
        status = str(chunk.get("status") or "")
        if digest := PULL_DIGEST.match(status):
            self._digest = digest["digest"]
            return []
        layer = chunk.get("id")
        if not layer or status.startswith("Pulling from"):
            return []
        detail = chunk.get("progressDetail") or {}
        current, total = detail.get("current"), detail.get("total")
        return [LayerProgress(str(layer), status, int(current) if current is not None else None, int(total) if total else None)]

    def finish(self) -> PullDone:
        return PullDone(self.reference, self._digest)
