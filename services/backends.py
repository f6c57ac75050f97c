"""The set of capabilities a profile offers, and how the app and CLI obtain it.

Like harlequin's adapters, each capability is optional: a `ServiceSet` holds an
implementation or, in `unavailable`, a one-line reason the UI shows in its place.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, TypeVar

from services.config import TOKEN_ENV, Profile, resolve_s3_credentials, resolve_token, token_source
from services.errors import UserError
from services.secrets import Secret

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
T = TypeVar("T")


@dataclass
class ServiceSet:
    profile: Profile
    object_store: ObjectStore | None = None
    image_builder: ImageBuilder | None = None
    job_platform: JobPlatform | None = None
    inference: InferenceFactory | None = None
    ai_token: Callable[[], Secret] | None = None  # sent to job URLs that are not --unsecure-http
    unavailable: dict[Capability, str] = field(default_factory=dict)

    def reason(self, capability: Capability) -> str:
        return self.unavailable.get(capability, f"{CAPABILITY_TITLES[capability]} is not available on this profile")

    def require(self, implementation: T | None, capability: Capability) -> T:
        """`implementation` (one of this set's), or the one-line reason it is missing as a UserError."""
        if implementation is None:
            raise UserError(self.reason(capability))
        return implementation


ServiceFactory = Callable[[Profile], ServiceSet]


def open_object_store(profile: Profile, env: Mapping[str, str]) -> ObjectStore:
    """Directory buckets on the local profile; S3 (OVHcloud or the profile's endpoint) otherwise."""
    if profile.is_local:
        from services.storage.local import LocalObjectStore

        return LocalObjectStore()
    from services.storage.s3 import S3ObjectStore

    hint = f"set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or aws_profile in profile '{profile.name}'"
    return S3ObjectStore(
        resolve_s3_credentials(profile, env),
        endpoint_url=profile.s3_endpoint,
        signing_region=profile.s3_region,
        default_region=profile.region,
        credential_hint=hint,
    )


def ai_token_reader(profile: Profile, env: Mapping[str, str]) -> Callable[[], Secret] | None:
    """The token job URLs want, read when first needed (a token_command may prompt): the AI
    token on OVHcloud, the local job token on the local profile; None without a source."""
    if profile.is_local:
        from services.jobs.local_token import local_token

        return local_token
    if token_source(profile, env) is None:
        return None

    def token() -> Secret:
        resolved = resolve_token(profile, env)
        assert resolved is not None  # token_source found a source
        return resolved.value

    return token


def open_job_platform(profile: Profile, env: Mapping[str, str]) -> JobPlatform:
    """Local supervisor jobs on the local profile; the regional AI Training API otherwise."""
    if profile.is_local:
        from services.jobs.local import LocalJobPlatform

        return LocalJobPlatform()
    from services.jobs.ai_training import AITrainingPlatform

    token = ai_token_reader(profile, env)
    source = token_source(profile, env)
    if token is None or source is None:
        raise UserError(f"no AI Training token: set {TOKEN_ENV}, or token_command in profile '{profile.name}' (`triton-deck profile add`)")
    assert profile.ai_api_url is not None
    return AITrainingPlatform(profile.ai_api_url, token, source, region=profile.region, shared_registry=profile.registry)


def open_image_builder(env: Mapping[str, str]) -> ImageBuilder:
    """The engine the docker CLI would use (DOCKER_HOST, context, default sockets), on every profile."""
    from services.images.docker_builder import DockerImageBuilder
    from services.images.engine import discover_engine

    return DockerImageBuilder(discover_engine(env), env)


def open_inference(endpoint: Endpoint) -> InferenceClient:
    """tritonclient on every profile: a local job's server and an AI Training job's URL speak the same v2 protocol."""
    from services.inference.triton import TritonInferenceClient

    return TritonInferenceClient(endpoint)


def open_services(profile: Profile, env: Mapping[str, str] | None = None) -> ServiceSet:
    """The real implementations for `profile`.

    Each capability is wired in here as its implementation lands; until then the
    panel says plainly that it is not available in this build rather than faking it.
    A capability that cannot be opened (say, an unreadable credentials file) is
    unavailable with that reason, and the rest of the app still works.
    """
    env = os.environ if env is None else env
    not_yet = "not available in this build of triton-deck yet"
    unavailable = {capability: f"{CAPABILITY_TITLES[capability]}: {not_yet}" for capability in Capability}
    services = ServiceSet(profile=profile, unavailable=unavailable)
    try:
        services.object_store = open_object_store(profile, env)
        del unavailable[Capability.STORAGE]
    except UserError as error:
        unavailable[Capability.STORAGE] = f"{CAPABILITY_TITLES[Capability.STORAGE]}: {error.message}"
    try:
        services.job_platform = open_job_platform(profile, env)
        del unavailable[Capability.JOBS]
    except UserError as error:
        unavailable[Capability.JOBS] = f"{CAPABILITY_TITLES[Capability.JOBS]}: {error.message}"
    try:
        services.image_builder = open_image_builder(env)
        del unavailable[Capability.IMAGES]
    except UserError as error:
        unavailable[Capability.IMAGES] = f"{CAPABILITY_TITLES[Capability.IMAGES]}: {error.message}"
    services.inference = open_inference
    services.ai_token = ai_token_reader(profile, env)
    del unavailable[Capability.INFERENCE]
    return services
