"""What a profile kind declares (`BackendKind`): its options, how each capability opens, and
how the deploy pipeline behaves on it; and `Deferred`, which lets a capability be decided at
once but built on first use. services/backends/local.py and ovhcloud.py are the two kinds."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple

from services.config import Profile, ProfileKind
from services.secrets import Secret

if TYPE_CHECKING:  # annotations only: startup does not pay for every service's types
    from services.apps.protocol import AppPlatform
    from services.jobs.protocol import JobPlatform
    from services.storage.protocol import ObjectStore


class Capability(StrEnum):
    """What a profile may offer, each with the label its notices and reasons use."""

    label: str

    def __new__(cls, value: str, label: str) -> Capability:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    STORAGE = "storage", "Object storage"
    IMAGES = "images", "Image builds"
    JOBS = "jobs", "Jobs"
    APPS = "apps", "Apps"
    INFERENCE = "inference", "Inference"


class ProfileOption(NamedTuple):
    """A setting a profile of this kind takes (`profile add --NAME`, the config table's key)."""

    key: str
    help: str


@dataclass(frozen=True)
class BackendKind:
    """One profile kind: what it offers, how each capability opens, how the pipeline runs on it."""

    kind: ProfileKind
    options: tuple[ProfileOption, ...]
    open_object_store: Callable[[Profile, Mapping[str, str]], ObjectStore]
    open_job_platform: Callable[[Profile, Mapping[str, str]], JobPlatform]
    open_app_platform: Callable[[Profile, Mapping[str, str]], AppPlatform]
    open_token: Callable[[Profile, Mapping[str, str]], Callable[[], Secret] | None]  # what job URLs want
    describe: Callable[[Profile, Mapping[str, str]], list[tuple[str, str]]]  # `profile show` rows after kind and region
    api_url: Callable[[Profile], str | None]  # the AI API the header names, if any
    builds_images: bool  # the pipeline's build and push steps run (else: `no_images_reason`)
    no_images_reason: str
    runs_demo: bool  # `triton-deck demo` (the bundled model, photos and server) runs here
    classifier_command: Callable[[str, Sequence[str]], tuple[str, ...]]  # a client job's command, from the server URL
    inference_host: str  # what `image_client -u` names in the equivalent commands
    pipeline_poll_s: float = 0.5  # how often the pipeline re-reads a job or app it waits on


class Deferred:
    """A capability built on first use: opening a profile, and so the app's first frame, does
    not import what the first panel does not show. Whether it is available is decided before
    (a missing token still makes it unavailable at once); only building it waits."""

    __slots__ = ("_build", "_target", "_lock")

    def __init__(self, build: Callable[[], object]) -> None:
        self._build = build
        self._target: object | None = None
        self._lock = threading.Lock()

    def _resolve(self) -> object:
        if self._target is None:
            with self._lock:
                if self._target is None:
                    self._target = self._build()
        return self._target

    def __getattr__(self, name: str) -> Any:  # only for what is not a slot: the capability's own
        return getattr(self._resolve(), name)
