"""The set of capabilities a profile offers, and how the app and CLI obtain it.

Like harlequin's adapters, each capability is optional: a `ServiceSet` holds an
implementation or, in `unavailable`, a one-line reason the UI shows in its place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from services.config import Profile

if TYPE_CHECKING:  # annotations only: startup does not pay for every service's types
    from services.images.protocol import ImageBuilder
    from services.inference.protocol import Endpoint, InferenceClient
    from services.jobs.protocol import JobPlatform
    from services.storage.protocol import ObjectStore


class Capability(StrEnum):
    STORAGE = "storage"
    IMAGES = "images"
    JOBS = "jobs"
    INFERENCE = "inference"


CAPABILITY_TITLES = {
    Capability.STORAGE: "Object storage",
    Capability.IMAGES: "Image builds",
    Capability.JOBS: "Jobs",
    Capability.INFERENCE: "Inference",
}

InferenceFactory = Callable[["Endpoint"], "InferenceClient"]


@dataclass
class ServiceSet:
    profile: Profile
    object_store: ObjectStore | None = None
    image_builder: ImageBuilder | None = None
    job_platform: JobPlatform | None = None
    inference: InferenceFactory | None = None
    default_endpoint: Endpoint | None = None
    unavailable: Mapping[Capability, str] = field(default_factory=dict)

    def reason(self, capability: Capability) -> str:
        return self.unavailable.get(capability, f"{CAPABILITY_TITLES[capability]} is not available on this profile")


ServiceFactory = Callable[[Profile], ServiceSet]


def open_services(profile: Profile) -> ServiceSet:
    """The real implementations for `profile`.

    Each capability is wired in here as its implementation lands; until then the
    panel says plainly that it is not available in this build rather than faking it.
    """
    not_yet = "not available in this build of triton-deck yet"
    return ServiceSet(
        profile=profile,
        unavailable={capability: f"{CAPABILITY_TITLES[capability]}: {not_yet}" for capability in Capability},
    )
