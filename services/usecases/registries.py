"""Add and remove a registry: one way for `registry add/remove` and the Images panel's `a` and `ctrl+d`.

The rules decided here: an address is host[:port] as docker writes it; credentials come as a
username with a password command (never the password itself, which would sit in the file);
where the platform lets jobs pull from attached registries (AI Training), adding one attaches
it, as `ovhai registry add` does, and removing it detaches every attachment of that address.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.backends import ServiceSet
from services.config import REGISTRY_ADDRESS, Config, RegistryEntry, run_secret_command, update_config
from services.errors import FieldError, UserError


@dataclass(frozen=True)
class RegistryAdded:
    entry: RegistryEntry
    attached_id: str | None  # the platform's id when it was attached to the project
    path: Path

    @property
    def address(self) -> str:
        return self.entry.address


@dataclass(frozen=True)
class RegistryRemoved:
    address: str
    detached_ids: tuple[str, ...]
    path: Path | None  # None: it was only attached, never added to the config


def registry_entry(address: str, username: str | None, password_command: str | None) -> RegistryEntry:
    """The entry typed, or a `FieldError` naming the first bad field."""
    address, username, password_command = address.strip(), (username or "").strip() or None, (password_command or "").strip() or None
    if not REGISTRY_ADDRESS.match(address):
        raise FieldError("address", f"'{address}' is not a registry address: give host[:port], e.g. 127.0.0.1:5000 or registry.gra.ai.cloud.ovh.net")
    if bool(username) != bool(password_command):
        raise FieldError("password_command" if username else "username", "credentials come in pairs: give -u USER with --password-command CMD, or neither")
    return RegistryEntry(address, username, password_command)


def add_registry(services: ServiceSet, entry: RegistryEntry, path: Path | None = None) -> RegistryAdded:
    platform = services.job_platform
    attached_id = None
    if platform is not None and platform.capabilities.registries:  # jobs pull from it with these credentials
        if not (entry.username and entry.password_command):
            raise FieldError("username", f"jobs pull from {entry.address} with credentials: give -u USER and --password-command CMD")
        try:
            password = run_secret_command(entry.password_command, f"the password of {entry.address}", "fix --password-command")
        except UserError as error:
            raise FieldError("password_command", error.message) from None
        try:
            attached_id = platform.attach_registry(entry.address, entry.username, password).id
        except UserError as error:
            raise FieldError("address", error.message) from None
    _, written = update_config(lambda config: config.with_registry(entry), path)
    return RegistryAdded(entry, attached_id, written)


def remove_registry(services: ServiceSet, config: Config, address: str, path: Path | None = None) -> RegistryRemoved:
    platform = services.job_platform
    detached: list[str] = []
    if platform is not None and platform.capabilities.registries:
        for row in platform.registries().rows:
            if row.url == address and row.id:
                platform.detach_registry(row.id)
                detached.append(row.id)
    if detached and address not in config.registries:
        return RegistryRemoved(address, tuple(detached), None)
    _, written = update_config(lambda current: current.without_registry(address), path)
    return RegistryRemoved(address, tuple(detached), written)
