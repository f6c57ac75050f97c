"""The local kind: directory buckets, supervisor jobs and app replicas of the bundled
tritonserver, the local job token. Every capability is here and nothing needs a credential."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, cast

from services.backends.kind import BackendKind, Deferred
from services.config import Profile, ProfileKind
from services.secrets import Secret

if TYPE_CHECKING:
    from services.apps.protocol import AppPlatform
    from services.jobs.protocol import JobPlatform
    from services.storage.protocol import ObjectStore


def _store(profile: Profile, env: Mapping[str, str]) -> ObjectStore:
    def build() -> ObjectStore:
        from services.storage.local import LocalObjectStore

        return LocalObjectStore()

    return cast("ObjectStore", Deferred(build))


def _jobs(profile: Profile, env: Mapping[str, str]) -> JobPlatform:
    def build() -> JobPlatform:
        from services.jobs.local import LocalJobPlatform

        return LocalJobPlatform()

    return cast("JobPlatform", Deferred(build))


def _apps(profile: Profile, env: Mapping[str, str]) -> AppPlatform:
    def build() -> AppPlatform:
        from services.apps.local import LocalAppPlatform

        return LocalAppPlatform()

    return cast("AppPlatform", Deferred(build))


def _token(profile: Profile, env: Mapping[str, str]) -> Callable[[], Secret] | None:
    def token() -> Secret:
        from services.supervised.token import local_token

        return local_token()

    return token


def _rows(profile: Profile, env: Mapping[str, str]) -> list[tuple[str, str]]:
    return [("storage", "local buckets (name@LOCAL)"), ("jobs", "local tritonserver"), ("apps", "local tritonserver replicas behind a loopback balancer")]


def _classifier(server_url: str, arguments: Sequence[str]) -> tuple[str, ...]:
    return ("triton-deck", "classify", "-u", server_url, *arguments)


LOCAL = BackendKind(
    kind=ProfileKind.LOCAL,
    options=(),
    open_object_store=_store,
    open_job_platform=_jobs,
    open_app_platform=_apps,
    open_token=_token,
    describe=_rows,
    api_url=lambda _profile: None,
    builds_images=False,
    no_images_reason="the local profile runs the bundled tritonserver: no image to build",
    runs_demo=True,
    classifier_command=_classifier,
    inference_host="localhost:8000",
    pipeline_poll_s=0.05,  # a file read, not an API call: the first answer should not wait on it
)
