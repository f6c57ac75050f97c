"""The backend registry: what each profile kind offers, and how the app and CLI obtain it.

Like harlequin's adapters and plugins, each profile kind is one `BackendKind`, declared in its
own module (services/backends/local.py, ovhcloud.py): its options, how each capability opens,
how the deploy pipeline behaves on it. `KINDS` lists them; nothing else asks which kind a
profile is, and a new kind is one more module and entry. Each capability is optional: a
`ServiceSet` holds an implementation or, in `unavailable`, a one-line reason the UI shows in
its place.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar, cast

from services.backends.kind import BackendKind, Capability, Deferred, ProfileOption
from services.backends.local import LOCAL
from services.backends.ovhcloud import OVHCLOUD
from services.config import Profile, ProfileKind
from services.errors import UserError
from services.secrets import Secret

if TYPE_CHECKING:  # annotations only: startup does not pay for every service's types
    from services.apps.protocol import AppPlatform
    from services.images.protocol import ImageBuilder
    from services.inference.protocol import Endpoint, InferenceClient
    from services.jobs.protocol import JobPlatform
    from services.storage.protocol import ObjectStore

__all__ = [  # what the app, the CLI and the pipeline take from here
    "KINDS", "BackendKind", "Capability", "ProfileOption", "ServiceFactory", "ServiceSet", "ai_token_reader", "backend",
    "describe_profile", "open_app_platform", "open_image_builder", "open_inference", "open_job_platform", "open_object_store", "open_services",
]  # fmt: skip

InferenceFactory = Callable[["Endpoint"], "InferenceClient"]
T = TypeVar("T")
KINDS: dict[ProfileKind, BackendKind] = {kind.kind: kind for kind in (LOCAL, OVHCLOUD)}
HOLDERS = {  # the ServiceSet field that holds each capability's implementation
    Capability.STORAGE: "object_store", Capability.IMAGES: "image_builder", Capability.JOBS: "job_platform",
    Capability.APPS: "app_platform", Capability.INFERENCE: "inference",
}  # fmt: skip


@dataclass
class ServiceSet:
    profile: Profile
    object_store: ObjectStore | None = None
    image_builder: ImageBuilder | None = None
    job_platform: JobPlatform | None = None
    app_platform: AppPlatform | None = None
    inference: InferenceFactory | None = None
    ai_token: Callable[[], Secret] | None = None  # sent to job URLs that are not --unsecure-http
    unavailable: dict[Capability, str] = field(default_factory=dict)

    def has(self, capability: Capability) -> bool:
        """Whether the profile offers `capability` (else `reason` says why, in one line)."""
        return getattr(self, HOLDERS[capability]) is not None

    def reason(self, capability: Capability) -> str:
        return self.unavailable.get(capability, f"{capability.label} is not available on this profile")

    def require(self, implementation: T | None, capability: Capability) -> T:
        """`implementation` (one of this set's), or the one-line reason it is missing as a UserError."""
        if implementation is None:
            raise UserError(self.reason(capability))
        return implementation

    # Typed accessors: the implementation, or one UserError naming the capability and why.
    def storage(self) -> ObjectStore:
        return self.require(self.object_store, Capability.STORAGE)

    def jobs(self) -> JobPlatform:
        return self.require(self.job_platform, Capability.JOBS)

    def apps(self) -> AppPlatform:
        return self.require(self.app_platform, Capability.APPS)

    def images(self) -> ImageBuilder:
        return self.require(self.image_builder, Capability.IMAGES)

    def inference_client(self, endpoint: Endpoint) -> InferenceClient:
        return self.require(self.inference, Capability.INFERENCE)(endpoint)

    @property
    def backend(self) -> BackendKind:
        return backend(self.profile)


ServiceFactory = Callable[[Profile], ServiceSet]


def backend(profile: Profile) -> BackendKind:
    return KINDS[profile.kind]


def open_object_store(profile: Profile, env: Mapping[str, str]) -> ObjectStore:
    return backend(profile).open_object_store(profile, env)


def ai_token_reader(profile: Profile, env: Mapping[str, str]) -> Callable[[], Secret] | None:
    """The token job URLs want: the AI token on OVHcloud, the local job token on the local profile."""
    return backend(profile).open_token(profile, env)


def open_job_platform(profile: Profile, env: Mapping[str, str]) -> JobPlatform:
    return backend(profile).open_job_platform(profile, env)


def open_app_platform(profile: Profile, env: Mapping[str, str]) -> AppPlatform:
    return backend(profile).open_app_platform(profile, env)


def describe_profile(profile: Profile, env: Mapping[str, str]) -> list[tuple[str, str]]:
    """Rows for `profile show` and the profile screen: values masked, sources named, and
    nothing run to get them (a token_command is named, not executed)."""
    return [("name", profile.name), ("kind", profile.kind.value), ("region", profile.region), *backend(profile).describe(profile, env)]


def open_image_builder(env: Mapping[str, str]) -> ImageBuilder:
    """The engine the docker CLI would use (DOCKER_HOST, context, default sockets), on every profile."""
    from services.images.engine import discover_engine

    engine = discover_engine(env)  # no engine: unavailable now, with where it looked

    def build() -> ImageBuilder:
        from services.images.docker_builder import DockerImageBuilder

        return DockerImageBuilder(engine, env)

    return cast("ImageBuilder", Deferred(build))


def open_inference(endpoint: Endpoint) -> InferenceClient:
    """tritonclient on every profile: a local job's server and an AI Training job's URL speak the same v2 protocol."""
    from services.inference.triton import TritonInferenceClient

    return TritonInferenceClient(endpoint)


def open_services(profile: Profile, env: Mapping[str, str] | None = None) -> ServiceSet:
    """The real implementations for `profile`, each opened by its kind. One that cannot open
    (no token, an unreadable credentials file, no container engine) is unavailable with that
    reason in one line, and the rest of the app still works."""
    env = os.environ if env is None else env
    kind = backend(profile)
    openers: dict[Capability, Callable[[], object]] = {
        Capability.STORAGE: lambda: kind.open_object_store(profile, env),
        Capability.JOBS: lambda: kind.open_job_platform(profile, env),
        Capability.APPS: lambda: kind.open_app_platform(profile, env),
        Capability.IMAGES: lambda: open_image_builder(env),
        Capability.INFERENCE: lambda: open_inference,
    }
    services = ServiceSet(profile=profile, ai_token=kind.open_token(profile, env))
    for capability, opener in openers.items():
        try:
            setattr(services, HOLDERS[capability], opener())
        except UserError as error:
            services.unavailable[capability] = f"{capability.label}: {error.message}"
    return services
