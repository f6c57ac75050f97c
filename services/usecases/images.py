"""Build and push, one way for the CLI, the Images screens and the deploy pipeline.

The rules decided here: a finished build or push is recorded in the profile's image
history whoever ran it, and a push or pull to a registry added with a username and a
password command logs in first (the pipeline's push used to skip both).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

from services.cancel import CancelToken
from services.config import RegistryEntry, run_secret_command
from services.images.docker_builder import registry_of
from services.images.history import ImageHistory
from services.images.protocol import BuildDone, BuildEvent, ImageBuilder, PullEvent, PushDone, PushEvent

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def login_for(builder: ImageBuilder, registries: Mapping[str, RegistryEntry], reference: str) -> bool:
    """Log in to the registry `reference` points at when it was added with credentials; True if it did."""
    entry = registries.get(registry_of(reference) or "")
    if not (entry and entry.username and entry.password_command):
        return False
    label = f"password_command of registry '{entry.address}'"
    builder.login(entry.address, entry.username, run_secret_command(entry.password_command, label, "`triton-deck registry add`"))
    return True


def build_image(
    builder: ImageBuilder, profile: str, context: Path, tag: str, platform: str, dockerfile: str | None, cancel: CancelToken, now: Clock = _now
) -> Iterator[BuildEvent]:
    """The builder's events, passed on as they come; the image lands in the history when done."""
    for event in builder.build(context, tag, platform, dockerfile, cancel):
        if isinstance(event, BuildDone):
            ImageHistory(profile).record("build", tag, event.image_id, now())
        yield event


def push_image(
    builder: ImageBuilder,
    profile: str,
    registries: Mapping[str, RegistryEntry],
    reference: str,
    cancel: CancelToken,
    source: str | None = None,
    now: Clock = _now,
) -> Iterator[PushEvent]:
    """Tag `source` as `reference` when they differ, log in if the registry was added with
    credentials, push, and record the digest in the history."""
    if source and source != reference:
        builder.tag(source, reference)
    login_for(builder, registries, reference)
    for event in builder.push(reference, cancel):
        if isinstance(event, PushDone):
            ImageHistory(profile).record("push", event.reference, event.digest, now())
        yield event


def pull_image(builder: ImageBuilder, registries: Mapping[str, RegistryEntry], reference: str, platform: str, cancel: CancelToken) -> Iterator[PullEvent]:
    """`docker pull`, logged in first like a push."""
    login_for(builder, registries, reference)
    yield from builder.pull(reference, platform, cancel)
