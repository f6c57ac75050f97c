"""Profiles and the config file.

The config lives in `$XDG_CONFIG_HOME/triton-deck/config.toml`, is always written
atomically with mode 0600 (its directory 0700), and holds one table per profile:

    active_profile = "gra"
    theme = "ansi-dark"

    [profiles.gra]
    kind = "ovhcloud"
    region = "GRA"
    token_command = "pass show ovh/ai-token"
    s3_endpoint = "https://s3.gra.io.cloud.ovh.net"
    aws_profile = "ovh"

The `local` profile always exists and needs nothing. Which profile is active is decided
by, in order: the `--profile` flag, `TRITON_DECK_PROFILE`, `active_profile`, `local`.
Secrets are read into `Secret` objects so they never print; where a secret can come from
several places the environment wins over the file, as the AWS tools do.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from services import locations
from services.errors import UserError
from services.secrets import Secret
from services.shared_file import update_text, write_atomic

LOCAL_PROFILE = "local"
PROFILE_ENV = "TRITON_DECK_PROFILE"
TOKEN_ENV = "OVHAI_TOKEN"
AI_TRAINING_REGIONS = ("GRA", "BHS")
DEFAULT_THEME = ""  # empty: the app's own default theme
TOKEN_COMMAND_TIMEOUT_S = 15

_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
# host[:port] as docker writes a registry: a DNS name or IPv4 address, an optional port.
REGISTRY_ADDRESS = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?(?::[0-9]{1,5})?$")


class ProfileKind(StrEnum):
    LOCAL = "local"
    OVHCLOUD = "ovhcloud"


@dataclass(frozen=True)
class Profile:
    """One named set of endpoints and credential sources."""

    name: str
    kind: ProfileKind = ProfileKind.LOCAL
    region: str = "LOCAL"
    api_url: str | None = None
    token: Secret | None = None
    token_command: str | None = None
    s3_endpoint: str | None = None
    s3_region: str | None = None
    s3_access_key: Secret | None = None
    s3_secret_key: Secret | None = None
    aws_profile: str | None = None
    registry: str | None = None



def local_profile() -> Profile:
    return Profile(name=LOCAL_PROFILE)


@dataclass(frozen=True)
class RegistryEntry:
    """A registry the user added (any profile can push to it): where, and where its password comes from."""

    address: str
    username: str | None = None
    password_command: str | None = None


@dataclass(frozen=True)
class Config:
    """The whole config file, immutable; edits return a new `Config`."""

    profiles: Mapping[str, Profile] = field(default_factory=lambda: {LOCAL_PROFILE: local_profile()})
    active_profile: str = LOCAL_PROFILE
    theme: str = DEFAULT_THEME
    registries: Mapping[str, RegistryEntry] = field(default_factory=dict)
    log_times: bool = True  # the log view's `t` and `w`, as the user last left them
    log_wrap: bool = False

    def with_registry(self, entry: RegistryEntry) -> Config:
        return replace(self, registries={**self.registries, entry.address: entry})

    def without_registry(self, address: str) -> Config:
        if address not in self.registries:
            known = ", ".join(sorted(self.registries)) or "none"
            raise UserError(f"registry '{address}' was never added (added: {known}); `triton-deck registry list` shows them")
        return replace(self, registries={key: value for key, value in self.registries.items() if key != address})

    def profile(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles))
            raise UserError(
                f"unknown profile '{name}': use one of {known}, or add it with `triton-deck profile add {name}`"
            ) from None

    def with_profile(self, profile: Profile) -> Config:
        return replace(self, profiles={**self.profiles, profile.name: profile})

    def with_active(self, name: str) -> Config:
        self.profile(name)
        return replace(self, active_profile=name)

    def with_theme(self, theme: str) -> Config:
        return replace(self, theme=theme)

    def with_log_view(self, times: bool, wrap: bool) -> Config:
        return replace(self, log_times=times, log_wrap=wrap)


def select_profile_name(config: Config, flag: str | None, env: Mapping[str, str]) -> str:
    """The active profile: flag, then environment, then the file's choice."""
    return flag or env.get(PROFILE_ENV) or config.active_profile


# -- validation -----------------------------------------------------------------------------


def validate_profile_name(name: str) -> str:
    if not _PROFILE_NAME.match(name):
        raise UserError(
            f"invalid profile name '{name}': use letters, digits, '-' or '_' (at most 40, starting with a letter or digit)"
        )
    return name


def validate_region(region: str, *, api_url: str | None) -> str:
    upper = region.strip().upper()
    if api_url is None and upper not in AI_TRAINING_REGIONS:
        raise UserError(
            f"unknown AI Training region '{region}': use one of {', '.join(AI_TRAINING_REGIONS)} "
            "(or set api_url for another endpoint)"
        )
    if not re.fullmatch(r"[A-Z][A-Z0-9-]*", upper):
        raise UserError(f"invalid region '{region}': use a region code such as GRA")
    return upper


# -- reading ---------------------------------------------------------------------------------

_SECRET_FIELDS = ("token", "s3_access_key", "s3_secret_key")
_TEXT_FIELDS = ("api_url", "token_command", "s3_endpoint", "s3_region", "aws_profile", "registry")


def _profile_from_table(name: str, table: Mapping[str, object], where: Path) -> Profile:
    def text(key: str) -> str | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise UserError(f"{where}: profiles.{name}.{key} must be a string; fix the value in the file")
        return value

    unknown = set(table) - {"kind", "region", *_SECRET_FIELDS, *_TEXT_FIELDS}
    if unknown:
        raise UserError(f"{where}: profiles.{name} has unknown key '{sorted(unknown)[0]}'; remove it or fix its spelling")
    kind_text = text("kind") or (ProfileKind.LOCAL if name == LOCAL_PROFILE else ProfileKind.OVHCLOUD)
    try:
        kind = ProfileKind(kind_text)
    except ValueError:
        raise UserError(f"{where}: profiles.{name}.kind must be 'local' or 'ovhcloud'") from None
    if name == LOCAL_PROFILE and (kind is not ProfileKind.LOCAL or set(table) - {"kind"}):
        raise UserError(f"{where}: profiles.local is the built-in local profile and takes no settings; give your profile another name")
    if kind is ProfileKind.LOCAL:
        return Profile(name=name)
    api_url = text("api_url")
    try:
        region = validate_region(text("region") or "GRA", api_url=api_url)
    except UserError as error:
        raise UserError(f"{where}: profiles.{name}: {error}") from None
    secrets = {key: Secret(value) for key in _SECRET_FIELDS if (value := text(key))}
    fields: dict[str, Any] = {**{key: text(key) for key in _TEXT_FIELDS}, **secrets}
    return Profile(name=name, kind=kind, region=region, **fields)


def parse_config(text: str, where: Path) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{where}: not valid TOML ({error}); fix or remove the file") from None
    tables = data.get("profiles", {})
    if not isinstance(tables, dict):
        raise UserError(f"{where}: 'profiles' must be a table of profiles")
    profiles: dict[str, Profile] = {LOCAL_PROFILE: local_profile()}
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise UserError(f"{where}: profiles.{name} must be a table")
        validate_profile_name(name)
        profiles[name] = _profile_from_table(name, table, where)
    active = data.get("active_profile", LOCAL_PROFILE)
    theme = data.get("theme", DEFAULT_THEME)
    if not isinstance(active, str) or not isinstance(theme, str):
        raise UserError(f"{where}: active_profile and theme must be strings")
    times, wrap = data.get("log_times", True), data.get("log_wrap", False)
    if not isinstance(times, bool) or not isinstance(wrap, bool):
        raise UserError(f"{where}: log_times and log_wrap must be true or false")
    registries = _registries_from(data.get("registries", {}), where)
    return Config(profiles=profiles, active_profile=active, theme=theme, registries=registries, log_times=times, log_wrap=wrap)


def _registries_from(tables: object, where: Path) -> dict[str, RegistryEntry]:
    if not isinstance(tables, dict):
        raise UserError(f"{where}: 'registries' must be a table of registries")
    entries: dict[str, RegistryEntry] = {}
    for address, table in tables.items():
        if not isinstance(table, dict) or set(table) - {"username", "password_command"}:
            raise UserError(f"{where}: registries.\"{address}\" may only hold username and password_command")
        if not all(isinstance(value, str) for value in table.values()):
            raise UserError(f"{where}: registries.\"{address}\" values must be strings")
        entries[address] = RegistryEntry(address, table.get("username"), table.get("password_command"))
    return entries


def load_config(path: Path | None = None) -> Config:
    """Read the config file; a missing file is the default config (local profile only)."""
    path = path or locations.config_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config()
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror}; check its permissions") from None
    return parse_config(text, path)


# -- writing ---------------------------------------------------------------------------------


def _toml_string(value: str) -> str:
    # JSON string escapes are a subset of TOML basic-string escapes.
    return json.dumps(value, ensure_ascii=False)


def render_config(config: Config) -> str:
    lines = [
        "# triton-deck configuration; written by triton-deck (mode 0600).",
        f"active_profile = {_toml_string(config.active_profile)}",
        f"theme = {_toml_string(config.theme)}",
        f"log_times = {'true' if config.log_times else 'false'}",
        f"log_wrap = {'true' if config.log_wrap else 'false'}",
    ]
    for name in sorted(config.profiles):
        profile = config.profiles[name]
        lines += ["", f"[profiles.{name}]", f"kind = {_toml_string(profile.kind.value)}"]
        if profile.kind is ProfileKind.LOCAL:  # the built-in profile takes no settings
            continue
        lines.append(f"region = {_toml_string(profile.region)}")
        for key in _TEXT_FIELDS:
            value = getattr(profile, key)
            if value:
                lines.append(f"{key} = {_toml_string(value)}")
        for key in _SECRET_FIELDS:
            secret: Secret | None = getattr(profile, key)
            if secret:
                lines.append(f"{key} = {_toml_string(secret.reveal())}")
    for address in sorted(config.registries):
        entry = config.registries[address]
        lines += ["", f"[registries.{_toml_string(address)}]"]
        lines += [f"{key} = {_toml_string(value)}" for key in ("username", "password_command") if (value := getattr(entry, key))]
    return "\n".join(lines) + "\n"


def save_config(config: Config, path: Path | None = None) -> Path:
    """Write the config atomically (temp file + rename), mode 0600, directory 0700.

    A crash mid-write leaves the previous file untouched: never a half-written config.
    Writers that start from what they read earlier use `update_config` instead.
    """
    path = path or locations.config_file()
    write_atomic(path, render_config(config))
    return path


def update_config(change: Callable[[Config], Config], path: Path | None = None) -> tuple[Config, Path]:
    """Apply `change` to the config as it is on disk now, under the config's lock.

    Another process's update between our read and our write cannot be lost: the read,
    the change and the write happen while no other triton-deck can write the file."""
    path = path or locations.config_file()
    changed: list[Config] = []

    def apply(old: str | None) -> str:
        changed.append(change(parse_config(old, path) if old is not None else Config()))
        return render_config(changed[0])

    update_text(path, apply)
    return changed[0], path


# -- credential resolution ---------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedSecret:
    """A secret plus where it came from, so screens can say `env OVHAI_TOKEN` instead of the value."""

    value: Secret
    source: str


def token_source(profile: Profile, env: Mapping[str, str]) -> str | None:
    """Where the AI Training token comes from (`OVHAI_TOKEN`, then `token_command`, then
    `token` in the file), found without running anything. Only OVHcloud profiles have one."""
    if profile.kind is not ProfileKind.OVHCLOUD:
        return None
    if env.get(TOKEN_ENV):
        return f"env {TOKEN_ENV}"
    if profile.token_command:
        return "token_command"
    return "config file" if profile.token else None


def resolve_token(profile: Profile, env: Mapping[str, str]) -> ResolvedSecret | None:
    """The AI Training token from the first source `token_source` names (this may run `token_command`)."""
    source = token_source(profile, env)
    if source is None:
        return None
    if source == "token_command":
        return ResolvedSecret(_run_token_command(profile), source)
    value = Secret(env[TOKEN_ENV]) if source == f"env {TOKEN_ENV}" else profile.token
    assert value is not None
    return ResolvedSecret(value, source)


def _run_token_command(profile: Profile) -> Secret:
    label = f"token_command of profile '{profile.name}'"
    return run_secret_command(profile.token_command or "", label, f"`triton-deck profile add {profile.name}`")


def run_secret_command(command: str, label: str, fix: str) -> Secret:
    """A secret printed by a command (`pass show ...`); its output is never quoted in errors."""
    import shlex
    import subprocess

    try:
        result = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=TOKEN_COMMAND_TIMEOUT_S, check=False)
    except (OSError, ValueError) as error:
        raise UserError(f"{label} could not start ({error}); fix it with {fix}") from None
    except subprocess.TimeoutExpired:
        raise UserError(f"{label} took longer than {TOKEN_COMMAND_TIMEOUT_S}s; check that it does not prompt") from None
    value = result.stdout.strip()
    if result.returncode != 0 or not value:
        raise UserError(f"{label} exited with status {result.returncode} and printed nothing; run it by hand to see why")
    return Secret(value)


@dataclass(frozen=True)
class S3Credentials:
    access_key: Secret
    secret_key: Secret
    source: str


def resolve_s3_credentials(profile: Profile, env: Mapping[str, str]) -> S3Credentials | None:
    """S3 keys: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, then the profile's own keys,
    then a profile of the shared credentials file (`aws_profile`, else `AWS_PROFILE`, else
    `default`; the file is `AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`). Only OVHcloud profiles have them."""
    if profile.kind is not ProfileKind.OVHCLOUD:
        return None
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return S3Credentials(Secret(env["AWS_ACCESS_KEY_ID"]), Secret(env["AWS_SECRET_ACCESS_KEY"]), "env AWS_ACCESS_KEY_ID")
    if profile.s3_access_key and profile.s3_secret_key:
        return S3Credentials(profile.s3_access_key, profile.s3_secret_key, "config file")
    import configparser

    section = profile.aws_profile or env.get("AWS_PROFILE") or "default"
    path = Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or Path.home() / ".aws" / "credentials")
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error:
        raise UserError(f"{path} is not a valid credentials file; fix it or set the keys in the profile") from None
    if parser.has_option(section, "aws_access_key_id") and parser.has_option(section, "aws_secret_access_key"):
        return S3Credentials(
            Secret(parser.get(section, "aws_access_key_id")),
            Secret(parser.get(section, "aws_secret_access_key")),
            f"{path} [{section}]",
        )
    return None
