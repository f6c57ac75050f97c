"""The OVHcloud kind: S3 Object Storage, the regional AI Training and AI Deploy APIs, the AI
token. Jobs and apps need the token: without one they are unavailable, saying where it goes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, cast

from services.backends.kind import BackendKind, Deferred, ProfileOption
from services.config import TOKEN_ENV, Profile, ProfileKind, resolve_s3_credentials, resolve_token, token_source
from services.errors import UserError
from services.secrets import MASK, Secret

if TYPE_CHECKING:
    from services.apps.protocol import AppPlatform
    from services.jobs.protocol import JobPlatform
    from services.storage.protocol import ObjectStore


def _api_url(profile: Profile) -> str:
    return profile.api_url or f"https://{profile.region.lower()}.ai.cloud.ovh.net/v1"


def _store(profile: Profile, env: Mapping[str, str]) -> ObjectStore:
    from services.storage.s3 import S3ObjectStore

    hint = f"set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or aws_profile in profile '{profile.name}'"
    return S3ObjectStore(
        resolve_s3_credentials(profile, env),
        endpoint_url=profile.s3_endpoint,
        signing_region=profile.s3_region,
        default_region=profile.region,
        credential_hint=hint,
    )


def _token(profile: Profile, env: Mapping[str, str]) -> Callable[[], Secret] | None:
    """The AI token, read when first needed (a token_command may prompt); None without a source."""
    if token_source(profile, env) is None:
        return None

    def token() -> Secret:
        resolved = resolve_token(profile, env)
        assert resolved is not None  # token_source found a source
        return resolved.value

    return token


def _credentials(profile: Profile, env: Mapping[str, str], product: str) -> tuple[Callable[[], Secret], str]:
    """The token reader and where it reads from, or why `product` ("AI Training") cannot open."""
    token, source = _token(profile, env), token_source(profile, env)
    if token is None or source is None:
        raise UserError(f"no {product} token: set {TOKEN_ENV}, or token_command in profile '{profile.name}' (`triton-deck profile add`)")
    return token, source


def _jobs(profile: Profile, env: Mapping[str, str]) -> JobPlatform:
    token, source = _credentials(profile, env, "AI Training")

    def build() -> JobPlatform:
        from services.jobs.ai_training import AITrainingPlatform

        return AITrainingPlatform(_api_url(profile), token, source, region=profile.region, shared_registry=profile.registry)

    return cast("JobPlatform", Deferred(build))


def _apps(profile: Profile, env: Mapping[str, str]) -> AppPlatform:
    token, source = _credentials(profile, env, "AI Deploy")

    def build() -> AppPlatform:
        from services.apps.ai_deploy import AIDeployPlatform

        return AIDeployPlatform(_api_url(profile), token, source)

    return cast("AppPlatform", Deferred(build))


def _rows(profile: Profile, env: Mapping[str, str]) -> list[tuple[str, str]]:
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
        ("api", _api_url(profile)),
        ("token", token),
        ("s3 endpoint", profile.s3_endpoint or f"https://s3.{profile.region.lower()}.io.cloud.ovh.net"),
        ("s3 keys", s3_text),
        ("registry", profile.registry or "(from the AI Training API)"),
    ]


def _classifier(server_url: str, arguments: Sequence[str]) -> tuple[str, ...]:
    return ("/workspace/install/bin/image_client", "-u", server_url.removeprefix("https://") + ":443", *arguments)


OVHCLOUD = BackendKind(
    kind=ProfileKind.OVHCLOUD,
    options=(
        ProfileOption("api_url", "regional AI Training API base URL (default https://<region>.ai.cloud.ovh.net/v1)"),
        ProfileOption("token_command", "command that prints the AI token (e.g. 'pass show ovh/ai')"),
        ProfileOption("s3_endpoint", "S3 endpoint (default https://s3.<region>.io.cloud.ovh.net)"),
        ProfileOption("s3_region", "S3 signing region (default: the region, lowercase)"),
        ProfileOption("aws_profile", "profile of ~/.aws/credentials holding the S3 keys"),
        ProfileOption("registry", "registry address for images (default: the shared one from the API)"),
    ),
    open_object_store=_store,
    open_job_platform=_jobs,
    open_app_platform=_apps,
    open_token=_token,
    describe=_rows,
    api_url=_api_url,
    builds_images=True,
    no_images_reason="",
    runs_demo=False,
    classifier_command=_classifier,
    inference_host="<job-url-host>",
)
