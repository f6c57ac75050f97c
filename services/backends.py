"""The backend registry: what each profile kind offers, and how the app and CLI obtain it.

Like harlequin's adapters and plugins, each profile kind (`local`, `ovhcloud`) is one
`BackendKind` entry in `KINDS`: the capabilities it offers, how each one opens, its profile
options, and how the deploy pipeline behaves on it. Nothing else asks which kind a profile
is; a new kind is one more entry. Each capability is optional: a `ServiceSet` holds an
implementation or, in `unavailable`, a one-line reason the UI shows in its place.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar, cast

from services.config import TOKEN_ENV, Profile, ProfileKind, resolve_s3_credentials, resolve_token, token_source
from services.errors import UserError
from services.secrets import MASK, Secret

if TYPE_CHECKING:  # annotations only: startup does not pay for every service's types
    from services.apps.protocol import AppPlatform
    from services.images.protocol import ImageBuilder
    from services.inference.protocol import Endpoint, InferenceClient
    from services.jobs.protocol import JobPlatform
    from services.storage.protocol import ObjectStore


class Capability(StrEnum):
    STORAGE = "storage"
    IMAGES = "images"
    JOBS = "jobs"
    APPS = "apps"
    INFERENCE = "inference"


CAPABILITY_TITLES = {
    Capability.STORAGE: "Object storage",
    Capability.IMAGES: "Image builds",
    Capability.JOBS: "Jobs",
    Capability.APPS: "Apps",
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
    app_platform: AppPlatform | None = None
    inference: InferenceFactory | None = None
    ai_token: Callable[[], Secret] | None = None  # sent to job URLs that are not --unsecure-http
    unavailable: dict[Capability, str] = field(default_factory=dict)

    def has(self, capability: Capability) -> bool:
        """Whether the profile offers `capability` (else `reason` says why, in one line)."""
        return {
            Capability.STORAGE: self.object_store, Capability.IMAGES: self.image_builder, Capability.JOBS: self.job_platform,
            Capability.APPS: self.app_platform, Capability.INFERENCE: self.inference,
        }[capability] is not None  # fmt: skip

    def reason(self, capability: Capability) -> str:
        return self.unavailable.get(capability, f"{CAPABILITY_TITLES[capability]} is not available on this profile")

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


# -- the local kind: directory buckets, supervisor jobs, the bundled tritonserver ---------------


def _local_store(profile: Profile, env: Mapping[str, str]) -> ObjectStore:
    from services.storage.local import LocalObjectStore

    return LocalObjectStore()


def _local_jobs(profile: Profile, env: Mapping[str, str]) -> JobPlatform:
    def build() -> JobPlatform:
        from services.jobs.local import LocalJobPlatform

        return LocalJobPlatform()

    return cast("JobPlatform", Deferred(build))


def _local_apps(profile: Profile, env: Mapping[str, str]) -> AppPlatform:
    def build() -> AppPlatform:
        from services.apps.local import LocalAppPlatform

        return LocalAppPlatform()

    return cast("AppPlatform", Deferred(build))


def _local_token(profile: Profile, env: Mapping[str, str]) -> Callable[[], Secret] | None:
    from services.jobs.local_token import local_token

    return local_token


def _local_rows(profile: Profile, env: Mapping[str, str]) -> list[tuple[str, str]]:
    return [("storage", "local buckets (name@LOCAL)"), ("jobs", "local tritonserver"), ("apps", "local tritonserver replicas behind a loopback balancer")]


def _local_classifier(server_url: str, arguments: Sequence[str]) -> tuple[str, ...]:
    return ("triton-deck", "classify", "-u", server_url, *arguments)


# -- the OVHcloud kind: S3 Object Storage, the regional AI Training API --------------------------


def _ovh_api_url(profile: Profile) -> str:
    return profile.api_url or f"https://{profile.region.lower()}.ai.cloud.ovh.net/v1"


def _ovh_store(profile: Profile, env: Mapping[str, str]) -> ObjectStore:
    from services.storage.s3 import S3ObjectStore

    hint = f"set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or aws_profile in profile '{profile.name}'"
    return S3ObjectStore(
        resolve_s3_credentials(profile, env),
        endpoint_url=profile.s3_endpoint,
        signing_region=profile.s3_region,
        default_region=profile.region,
        credential_hint=hint,
    )


def _ovh_token(profile: Profile, env: Mapping[str, str]) -> Callable[[], Secret] | None:
    """The AI token, read when first needed (a token_command may prompt); None without a source."""
    if token_source(profile, env) is None:
        return None

    def token() -> Secret:
        resolved = resolve_token(profile, env)
        assert resolved is not None  # token_source found a source
        return resolved.value

    return token


def _ovh_jobs(profile: Profile, env: Mapping[str, str]) -> JobPlatform:
    token = _ovh_token(profile, env)
    source = token_source(profile, env)
    if token is None or source is None:
        raise UserError(f"no AI Training token: set {TOKEN_ENV}, or token_command in profile '{profile.name}' (`triton-deck profile add`)")

    def build() -> JobPlatform:
        from services.jobs.ai_training import AITrainingPlatform

        assert token is not None and source is not None
        return AITrainingPlatform(_ovh_api_url(profile), token, source, region=profile.region, shared_registry=profile.registry)

    return cast("JobPlatform", Deferred(build))


def _ovh_apps(profile: Profile, env: Mapping[str, str]) -> AppPlatform:
    token = _ovh_token(profile, env)
    source = token_source(profile, env)
    if token is None or source is None:
        raise UserError(f"no AI Deploy token: set {TOKEN_ENV}, or token_command in profile '{profile.name}' (`triton-deck profile add`)")

    def build() -> AppPlatform:
        from services.apps.ai_deploy import AIDeployPlatform

        assert token is not None and source is not None
        return AIDeployPlatform(_ovh_api_url(profile), token, source)

    return cast("AppPlatform", Deferred(build))


def _ovh_rows(profile: Profile, env: Mapping[str, str]) -> list[tuple[str, str]]:
    if env.get(TOKEN_ENV):
        token = f"{MASK} (env {TOKEN_ENV})"
    elif profile.token_command:
        token = f"from command `{profile.token_command}`"
    elif profile.token:
        token = f"{MASK} (config file)"
    else:
        token = f"not set: export {TOKEN_ENV}, or set token_command"
    try:
        s3 = resolve_s3_credentials(profile, env)
        s3_text = f"{MASK} ({s3.source})" if s3 else "not set: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or aws_profile"
    except UserError as error:
        s3_text = str(error)
    return [
        ("api", _ovh_api_url(profile)),
        ("token", token),
        ("s3 endpoint", profile.s3_endpoint or f"https://s3.{profile.region.lower()}.io.cloud.ovh.net"),
        ("s3 keys", s3_text),
        ("registry", profile.registry or "(from the AI Training API)"),
    ]


def _ovh_classifier(server_url: str, arguments: Sequence[str]) -> tuple[str, ...]:
    return ("/workspace/install/bin/image_client", "-u", server_url.removeprefix("https://") + ":443", *arguments)


# -- the registry ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileOption:
    """A setting a profile of this kind takes (`profile add --NAME`, the config table's key)."""

    key: str
    help: str


@dataclass(frozen=True)
class BackendKind:
    """One profile kind: what it offers, how each capability opens, how the pipeline runs on it."""

    kind: ProfileKind
    capabilities: frozenset[Capability]
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


KINDS: dict[ProfileKind, BackendKind] = {
    ProfileKind.LOCAL: BackendKind(
        kind=ProfileKind.LOCAL,
        capabilities=frozenset(Capability),
        options=(),
        open_object_store=_local_store,
        open_job_platform=_local_jobs,
        open_app_platform=_local_apps,
        open_token=_local_token,
        describe=_local_rows,
        api_url=lambda _profile: None,
        builds_images=False,
        no_images_reason="the local profile runs the bundled tritonserver: no image to build",
        runs_demo=True,
        classifier_command=_local_classifier,
        inference_host="localhost:8000",
        pipeline_poll_s=0.05,  # a file read, not an API call: the first answer should not wait on it
    ),
    ProfileKind.OVHCLOUD: BackendKind(
        kind=ProfileKind.OVHCLOUD,
        capabilities=frozenset(Capability),
        options=(
            ProfileOption("api_url", "regional AI Training API base URL (default https://<region>.ai.cloud.ovh.net/v1)"),
            ProfileOption("token_command", "command that prints the AI token (e.g. 'pass show ovh/ai')"),
            ProfileOption("s3_endpoint", "S3 endpoint (default https://s3.<region>.io.cloud.ovh.net)"),
            ProfileOption("s3_region", "S3 signing region (default: the region, lowercase)"),
            ProfileOption("aws_profile", "profile of ~/.aws/credentials holding the S3 keys"),
            ProfileOption("registry", "registry address for images (default: the shared one from the API)"),
        ),
        open_object_store=_ovh_store,
        open_job_platform=_ovh_jobs,
        open_app_platform=_ovh_apps,
        open_token=_ovh_token,
        describe=_ovh_rows,
        api_url=_ovh_api_url,
        builds_images=True,
        no_images_reason="",
        runs_demo=False,
        classifier_command=_ovh_classifier,
        inference_host="<job-url-host>",
    ),
}


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
        services.app_platform = open_app_platform(profile, env)
        del unavailable[Capability.APPS]
    except UserError as error:
        unavailable[Capability.APPS] = f"{CAPABILITY_TITLES[Capability.APPS]}: {error.message}"
    try:
        services.image_builder = open_image_builder(env)
        del unavailable[Capability.IMAGES]
    except UserError as error:
        unavailable[Capability.IMAGES] = f"{CAPABILITY_TITLES[Capability.IMAGES]}: {error.message}"
    services.inference = open_inference
    services.ai_token = ai_token_reader(profile, env)
    del unavailable[Capability.INFERENCE]
    return services
