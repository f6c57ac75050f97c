"""Add a profile and check that its credentials work: one way for `profile add`/`profile check`
and the profile screen's `a` and `c`.

The rules decided here: `local` is built in and takes no settings; an existing profile is
overwritten only when asked (and that is decided again under the config's lock, where
another shell may just have added it); S3 keys come in pairs. A check tries each
credential with the cheapest real call it allows and says, per capability, what answered
or the one-line reason it did not; it never shows a secret, only where it came from.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from services.backends import Capability, ServiceSet, backend
from services.config import TOKEN_ENV, Config, Profile, ProfileKind, token_source, update_config, validate_profile_name, validate_region
from services.errors import FieldError, UserError
from services.secrets import MASK, Secret, redact


@dataclass(frozen=True)
class ProfileDraft:
    """What the user typed for a new profile of `kind`; `new_profile` checks it."""

    name: str
    region: str = "GRA"
    options: Mapping[str, str | None] | None = None  # the kind's ProfileOption keys (token_command, s3_endpoint, …)
    token: Secret | None = None
    s3_access_key: Secret | None = None
    s3_secret_key: Secret | None = None
    kind: ProfileKind = ProfileKind.OVHCLOUD


def _local_profile(name: str, draft: ProfileDraft, options: Mapping[str, str | None]) -> Profile:
    """A local profile takes no setting: directory buckets and the bundled server need none."""
    given = next((key for key, value in options.items() if value), None)
    if given is not None:
        raise FieldError(given, f"{given} is a setting of ovhcloud profiles: a local profile takes none")
    if draft.token or draft.s3_access_key or draft.s3_secret_key:
        raise FieldError("token", "a local profile has no AI token or S3 keys: its buckets are directories and its jobs carry their own token")
    return Profile(name=name, kind=ProfileKind.LOCAL, region="LOCAL")


def new_profile(draft: ProfileDraft) -> Profile:
    """The profile `draft` describes, or a `FieldError` naming the first bad field."""
    try:
        name = validate_profile_name(draft.name.strip())
    except UserError as error:
        raise FieldError("name", error.message) from None
    if name == "local":
        raise FieldError("name", "the local profile is built in and needs no settings: pick another name")
    options = {key: value.strip() or None for key, value in (draft.options or {}).items() if value is not None}
    if draft.kind is ProfileKind.LOCAL:
        return _local_profile(name, draft, options)
    try:
        region = validate_region(draft.region, api_url=options.get("api_url"))
    except UserError as error:
        raise FieldError("region", error.message) from None
    if bool(draft.s3_access_key) != bool(draft.s3_secret_key):
        field = "s3_secret_key" if draft.s3_access_key else "s3_access_key"
        raise FieldError(field, "S3 keys come in pairs: give the access key together with the secret key")
    return Profile(
        name=name,
        kind=ProfileKind.OVHCLOUD,
        region=region,
        token=draft.token,
        s3_access_key=draft.s3_access_key,
        s3_secret_key=draft.s3_secret_key,
        **options,
    )


def exists_error(name: str) -> UserError:
    return FieldError("name", f"profile '{name}' already exists: add --replace to overwrite it")


def save_profile(profile: Profile, replace: bool = False, path: Path | None = None) -> Path:
    """Write `profile` into the config (atomically, 0600, under the lock); the file's path."""

    def add(config: Config) -> Config:
        if profile.name in config.profiles and not replace:  # decided under the lock: another shell may just have added it
            raise exists_error(profile.name)
        return config.with_profile(profile)

    return update_config(add, path)[1]


# -- the credentials check ----------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """One credential or endpoint tried: what, whether it answered, and what it said."""

    what: str
    ok: bool
    detail: str


def _count(noun: str, count: int) -> str:
    return f"answers: {count} {noun}{'' if count == 1 else 's'}"


def _attempt(what: str, call: Callable[[], str]) -> CheckResult:
    try:
        return CheckResult(what, True, call())
    except UserError as error:
        return CheckResult(what, False, error.message)
    except Exception as error:  # noqa: BLE001 - whatever a backend raises is this check's answer, redacted
        return CheckResult(what, False, redact(f"{type(error).__name__}: {error}".splitlines()[0]))


def check_profile(services: ServiceSet, env: Mapping[str, str]) -> Iterator[CheckResult]:
    """Each capability's credentials tried for real, one result as each answers (a slow
    endpoint does not hide what the others said)."""
    profile = services.profile
    if services.backend.api_url(profile) is not None:
        source = token_source(profile, env)
        reader = services.ai_token
        if reader is None or source is None:
            fix = f"`triton-deck profile add {profile.name} --replace --token-command CMD`"
            yield CheckResult("AI token", False, f"not set: export {TOKEN_ENV}, or give the profile a token command ({fix})")
        else:
            def read() -> str:
                reader()  # runs the token command when that is the source: its failure is the answer
                return f"read from {source}"

            yield _attempt("AI token", read)
    stores = (
        ("Object storage", services.object_store, Capability.STORAGE, lambda: _count("bucket", len(services.storage().list_buckets()))),
        ("AI Training", services.job_platform, Capability.JOBS, lambda: _count("job", len(services.jobs().list()))),
        ("AI Deploy", services.app_platform, Capability.APPS, lambda: _count("app", len(services.apps().list()))),
    )
    for what, implementation, capability, call in stores:
        if implementation is None:
            yield CheckResult(what, False, services.reason(capability))
        else:
            yield _attempt(what, call)


def profile_add_command(profile: Profile) -> str:
    """The `triton-deck profile add …` line that saves `profile`: secrets as the stdin flags
    that read them, never their values."""
    if profile.kind is ProfileKind.LOCAL:
        return shlex.join(["triton-deck", "profile", "add", profile.name, "--kind", profile.kind.value])
    words = ["triton-deck", "profile", "add", profile.name, "--region", profile.region]
    for option in backend(profile).options:  # the flags `profile add` has: the kind's options
        if value := getattr(profile, option.key):
            words += [f"--{option.key.replace('_', '-')}", value]
    if profile.token:
        words.append("--token-stdin")
    line = shlex.join(words)
    return f"{line} --s3-access-key {MASK} --s3-secret-stdin" if profile.s3_access_key else line
