"""The `JobPlatform` capability, its job model and job states.

Field names follow the AI Training API (`status.url`, `status.ip`, `status.info`), so a
job from the regional API, from the local platform or from the fake reads the same.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, TypeGuard, TypeVar, runtime_checkable

from services.cancel import CancelToken
from services.secrets import Secret

E = TypeVar("E", bound=StrEnum)


def kept_as_given(cls: type[E], value: object) -> E | None:
    """An open enum's unknown value, as a member of its own (for `_missing_`); None for a non-string."""
    if not isinstance(value, str) or not value:
        return None
    member = str.__new__(cls, value)
    member._name_ = value
    member._value_ = value
    return member


class JobState(StrEnum):
    QUEUED = "QUEUED"
    INITIALIZING = "INITIALIZING"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    RESTARTING = "RESTARTING"
    INTERRUPTING = "INTERRUPTING"
    TIMEOUT = "TIMEOUT"
    FINALIZING = "FINALIZING"
    DONE = "DONE"
    INTERRUPTED = "INTERRUPTED"
    FAILED = "FAILED"
    ERROR = "ERROR"
    SYNC_FAILED = "SYNC_FAILED"

    @classmethod
    def _missing_(cls, value: object) -> JobState | None:
        """A state the API added after this build (say `STOPPING`): kept as it is, shown as
        it is, and neither running nor finished, instead of breaking every listing."""
        return kept_as_given(cls, value)

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_starting(self) -> bool:
        """Before RUNNING: the phase where users watch most closely, so it is polled fastest."""
        return self in (JobState.QUEUED, JobState.INITIALIZING, JobState.PENDING, JobState.RESTARTING)

    @property
    def is_failure(self) -> bool:
        return self in (JobState.FAILED, JobState.ERROR, JobState.SYNC_FAILED)


_TERMINAL = frozenset({JobState.DONE, JobState.INTERRUPTED, JobState.FAILED, JobState.ERROR, JobState.SYNC_FAILED})


@dataclass(frozen=True)
class VolumeSpec:
    """`BUCKET@ALIAS[/prefix]:/mount/path:RO|RW|RWD[:cache]` as ovhai writes it."""

    container: str
    alias: str
    mount_path: str
    permission: str = "RO"
    prefix: str = ""
    cache: bool = False

    def __str__(self) -> str:
        source = f"{self.container}@{self.alias}" + (f"/{self.prefix}" if self.prefix else "")
        return f"{source}:{self.mount_path}:{self.permission}" + (":cache" if self.cache else "")


def parse_volume(text: str) -> VolumeSpec:
    """`container@alias[/prefix]:/mount/path[:RO|RW|RWD][:cache|no-cache]`, as `ovhai job run -v`."""
    from services.errors import UserError

    parts = text.split(":")
    mount_index = next((i for i, part in enumerate(parts) if i > 0 and part.startswith("/")), None)
    if mount_index is None:
        raise UserError(f"volume '{text}' has no mount path: write it as my-models@GRA:/workspace/models:RO")
    source = ":".join(parts[:mount_index])
    container, at, alias_prefix = source.partition("@")
    if not at or not container or not alias_prefix:
        raise UserError(f"volume source '{source}' must be container@ALIAS, e.g. my-models@GRA")
    alias, _, prefix = alias_prefix.partition("/")
    permission, cache = "RO", False
    for flag in parts[mount_index + 1 :]:
        if flag.upper() in ("RO", "RW", "RWD"):
            permission = flag.upper()
        elif flag.lower() in ("cache", "no-cache"):
            cache = flag.lower() == "cache"
        else:
            raise UserError(f"volume '{text}': unknown flag '{flag}' (use RO, RW, RWD, cache or no-cache)")
    return VolumeSpec(container, alias, parts[mount_index], permission, prefix, cache)  # the alias as typed: aliases are names


def parse_pairs(words: Iterable[str], label: str, hint: str = "") -> tuple[tuple[str, str], ...]:
    """`NAME=VALUE` words, as `ovhai job run --env/--label` take them."""
    from services.errors import UserError

    pairs = []
    for word in words:
        name, equals, value = word.partition("=")
        if not equals or not name:
            raise UserError(f"{label} '{word}' must be NAME=VALUE{hint}")
        pairs.append((name, value))
    return tuple(pairs)


MAX_GPUS = 4
MAX_CPUS = 12  # AI Training's limits per job: 12 CPUs, 4 GPUs


def job_resources(gpu: int | None, cpu: int | None) -> tuple[int, int | None]:
    """(gpu, cpu) for a job, the one rule every front end applies: a GPU job takes 1 to
    MAX_GPUS GPUs (1 by default) and its CPUs come with them; a CPU job (`--cpu N`, or
    `--gpu 0` together with it) takes N ≥ 1 CPUs. `--gpu 0` alone would be a job with
    neither, which AI Training cannot schedule."""
    from services.errors import UserError

    if cpu is not None and not 1 <= cpu <= MAX_CPUS:
        raise UserError(f"--cpu {cpu}: a CPU job takes 1 to {MAX_CPUS} CPUs")
    if gpu is not None and not 0 <= gpu <= MAX_GPUS:
        raise UserError(f"--gpu {gpu}: a job takes 1 to {MAX_GPUS} GPUs (or --cpu N for a CPU job)")
    if gpu == 0 and cpu is None:
        raise UserError("--gpu 0 leaves the job without GPUs or CPUs: give --cpu N for a CPU job")
    if gpu and cpu is not None:  # as ovhai: the GPU count wins (see `resources_note`)
        return gpu, None
    if cpu is not None:
        return 0, cpu
    return (1 if gpu is None else gpu), None


def check_image(image: str, flag: str = "IMAGE") -> str:
    """The one rule for an image reference a user types (jobs, apps, the run forms): not
    empty, no whitespace or control character, not an option in disguise."""
    from services.errors import UserError
    from services.text import visible

    if not image.strip():
        raise UserError(f"{flag} is empty: give an image, e.g. nvcr.io/nvidia/tritonserver:23.03-py3")
    if image.startswith("-") or any(char.isspace() or not char.isprintable() for char in image) or len(image) > 512:
        raise UserError(f"{flag} '{visible(image[:80])}' is not an image reference: no spaces, e.g. nvcr.io/nvidia/tritonserver:23.03-py3")
    return image


def resources_note(gpu: int | None, cpu: int | None) -> str | None:
    """What `job_resources` decided that the user may not expect, in one line."""
    if gpu and cpu is not None:
        return f"--gpu {gpu} and --cpu {cpu}: a GPU job gets its CPUs with the GPUs, so the job takes {gpu} GPU(s) and --cpu is ignored"
    return None


@dataclass(frozen=True)
class RunSpec:
    """What `ovhai job run` and `ovhai app run` both send: an image, its command, resources,
    ports, access, volumes, environment and labels (AppSpec and JobSpec add what is theirs)."""

    image: str
    command: tuple[str, ...] = ()
    name: str | None = None
    gpu: int = 1
    cpu: int | None = None
    flavor: str | None = None
    default_http_port: int = 8000
    grpc_port: int | None = None
    unsecure_http: bool = False
    volumes: tuple[VolumeSpec, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()


class Named:
    """`name` and `short_id` of what runs (a job, an app): the spec's name, else the id's first 8."""

    id: str
    spec: RunSpec

    @property
    def name(self) -> str:
        return self.spec.name or self.id[:8]

    @property
    def short_id(self) -> str:
        return self.id[:8]


@dataclass(frozen=True)
class JobSpec(RunSpec):
    """What `ovhai job run` sends: a run, stopped after `timeout_s`, reachable over SSH with the keys."""

    timeout_s: int | None = None
    ssh_public_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class StateChange:
    state: JobState
    at: datetime


@dataclass(frozen=True)
class Job(Named):
    id: str
    spec: JobSpec
    state: JobState
    created_at: datetime
    history: tuple[StateChange, ...] = ()
    url: str | None = None
    ip: str | None = None
    grpc_address: str | None = None
    info_code: str | None = None
    info_message: str | None = None
    exit_code: int | None = None
    # The API's own document when the job came from the AI Training API: `job get -o json`
    # prints it whole (infoUrl, sshUrl, dataSync…), not only the fields modelled here.
    raw: dict[str, object] | None = field(default=None, compare=False, repr=False)


class LogMarker(StrEnum):
    """Not a log line: an event in the stream that a log view shows between lines."""

    RECONNECTED = "reconnected"


LogItem = str | LogMarker


def is_marker(item: LogItem) -> TypeGuard[LogMarker]:
    return isinstance(item, LogMarker)


@dataclass(frozen=True)
class RegistryInfo:
    """A registry a job can pull from; the shared one has no id, as in `ovhai registry list`."""

    url: str
    kind: str = "SHARED"
    id: str | None = None


@dataclass(frozen=True)
class RegistryListing:
    """What could be listed, and one line per part that could not (a failing `/v1/me` hides
    only the shared registry, not the attached ones)."""

    rows: tuple[RegistryInfo, ...]
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlatformCapabilities:
    """What a platform can do, so the UI hides what it cannot (harlequin's capability flags)."""

    registries: bool = True


@runtime_checkable
class JobPlatform(Protocol):
    """Where jobs run."""

    capabilities: PlatformCapabilities

    def run(self, spec: JobSpec) -> Job: ...

    def get(self, job_id: str) -> Job: ...

    def list(self, states: tuple[JobState, ...] = ()) -> builtins.list[Job]:
        """Jobs, newest first; only those in `states` when given."""
        ...

    def stop(self, job_id: str) -> None: ...

    def delete(self, job_id: str, force: bool = False) -> None: ...

    def logs(self, job_id: str, tail: int | None = None) -> Iterable[str]:
        """The log so far (its last `tail` lines when given), read as it is iterated where
        the platform can: a long log never has to fit in memory."""
        ...

    def follow_logs(self, job_id: str, cancel: CancelToken) -> Iterator[LogItem]:
        """Log lines as they come, from the start, until the job ends or `cancel` is set.

        Implementations reconnect on a dropped stream, never repeat or skip a line, and
        yield a `LogMarker.RECONNECTED` where the stream was resumed.
        """
        ...

    def registries(self) -> RegistryListing: ...

    def attach_registry(self, url: str, username: str, password: Secret) -> RegistryInfo:
        """Make a private registry pullable by jobs (`ovhai registry add`)."""
        ...

    def detach_registry(self, registry_id: str) -> None: ...
