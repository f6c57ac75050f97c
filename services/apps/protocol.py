"""The `AppPlatform` capability: long-running, scalable apps (OVHcloud AI Deploy), their model and states.

Field names follow the AI Deploy API (`ovh-ai-deploy.md` §2), so an app from the regional
API, from the local platform or from the fake reads the same. Where the API may grow
(states, resource types, aggregation types) values are kept as strings or open enums:
an app the platform describes in a way this build does not know is shown, never dropped.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from services.cancel import CancelToken
from services.jobs.protocol import LogItem, Named, RunSpec, kept_as_given

MAX_REPLICAS = 10
TRITON_HTTP_PORT = 8000
TRITON_GRPC_PORT = 8001
TRITON_METRICS_PORT = 8002
TRITON_PROBE_PATH = "/v2/health/ready"
MODELS_MOUNT = "/workspace/models"


class AppState(StrEnum):
    QUEUED = "QUEUED"
    INITIALIZING = "INITIALIZING"
    SCALING = "SCALING"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    FAILED = "FAILED"
    ERROR = "ERROR"
    DELETING = "DELETING"
    DELETED = "DELETED"

    @classmethod
    def _missing_(cls, value: object) -> AppState | None:
        """A state added after this build: kept and shown as it is (see `JobState._missing_`)."""
        return kept_as_given(cls, value)

    @property
    def is_up(self) -> bool:
        """Billed and (at least partly) serving: RUNNING, or SCALING with replicas already up."""
        return self in (AppState.RUNNING, AppState.SCALING)

    @property
    def is_down(self) -> bool:
        """Nothing runs: a start (or a delete) is what it can take next."""
        return self in (AppState.STOPPED, AppState.FAILED, AppState.ERROR, AppState.DELETED)

    @property
    def is_failure(self) -> bool:
        return self in (AppState.FAILED, AppState.ERROR)


@dataclass(frozen=True)
class Probe:
    """The readiness probe: a replica gets traffic only while `GET path` on `port` answers 2xx."""

    path: str = "/"
    port: int | None = None  # None: the app's default HTTP port


@dataclass(frozen=True)
class FixedScaling:
    replicas: int = 1


@dataclass(frozen=True)
class CustomMetric:
    """A number read from each replica (`<SELF>` in the URL is the replica), combined over replicas."""

    api_url: str
    value_location: str
    target_value: float
    format: str = "PROMETHEUS"  # JSON | XML | YAML | PROMETHEUS
    aggregation: str = "AVERAGE"  # AVERAGE | MIN | MAX | SUM


@dataclass(frozen=True)
class AutomaticScaling:
    """Between `replicas_min` and `replicas_max` on CPU or RAM use per replica against
    `average_usage_target` %, or on a custom metric against its target value."""

    replicas_min: int = 1
    replicas_max: int = 1
    resource_type: str | None = "CPU"  # CPU | RAM (None with a custom metric)
    average_usage_target: int | None = 75  # % of one replica's allocation
    custom_metric: CustomMetric | None = None
    scale_up_window_s: int = 0
    scale_down_window_s: int = 300
    cooldown_s: int | None = None  # only with replicas_min 0

    @property
    def target(self) -> float | None:
        """The number the scaling signal is held against."""
        if self.custom_metric is not None:
            return self.custom_metric.target_value
        return None if self.average_usage_target is None else float(self.average_usage_target)

    @property
    def signal_name(self) -> str:
        if self.custom_metric is not None:
            return self.custom_metric.value_location
        return f"{self.resource_type or '?'} %"


Scaling = FixedScaling | AutomaticScaling


def scaling_summary(scaling: Scaling) -> str:
    """One cell: `fixed 2`, `auto 1-3 CPU≥75%`, `auto 1-3 nv_inference_pending_request_count≥4` (the
    metric's name without its labels; the aggregation when it is not AVERAGE)."""
    if isinstance(scaling, FixedScaling):
        return f"fixed {scaling.replicas}"
    bounds = f"auto {scaling.replicas_min}-{scaling.replicas_max}"
    if scaling.custom_metric is not None:
        metric = scaling.custom_metric
        name = metric.value_location.split("{", 1)[0] or metric.value_location
        how = "" if metric.aggregation.upper() == "AVERAGE" else f" {metric.aggregation}"
        return f"{bounds} {name}≥{metric.target_value:g}{how}"
    return f"{bounds} {scaling.resource_type}≥{scaling.average_usage_target}%"


def check_scaling(scaling: Scaling) -> None:
    """AI Deploy's bounds (§5), refused in one line before anything is sent or started."""
    from services.errors import UserError

    if isinstance(scaling, FixedScaling):
        if not 1 <= scaling.replicas <= MAX_REPLICAS:
            raise UserError(f"--replicas {scaling.replicas}: an app runs 1 to {MAX_REPLICAS} replicas")
        return
    if not 0 <= scaling.replicas_min <= scaling.replicas_max <= MAX_REPLICAS or scaling.replicas_max < 1:
        raise UserError(f"--auto-min-replicas {scaling.replicas_min} / --auto-max-replicas {scaling.replicas_max}: use 0 ≤ min ≤ max ≤ {MAX_REPLICAS}, max ≥ 1")
    if scaling.custom_metric is not None:
        from services.bounded_get import check_url

        check_url(scaling.custom_metric.api_url, "--auto-custom-api-url")
    if scaling.custom_metric is None and not 1 <= (scaling.average_usage_target or 0) <= 100:
        raise UserError(f"--auto-resource-usage-threshold {scaling.average_usage_target}: give a percentage, 1 to 100")
    if scaling.custom_metric is None and (scaling.resource_type or "").upper() not in ("CPU", "RAM"):
        raise UserError(f"--auto-resource-type {scaling.resource_type}: use CPU or RAM (or a custom metric)")
    for window, flag in ((scaling.scale_up_window_s, "up"), (scaling.scale_down_window_s, "down")):
        if not 0 <= window <= 3600:
            raise UserError(f"--auto-scale-{flag}-stabilization-window-seconds {window}: use 0 to 3600")


@dataclass(frozen=True)
class AppSpec(RunSpec):
    """What `ovhai app run` sends: a run (on port 8080 unless told), its probe and its scaling."""

    default_http_port: int = 8080
    probe: Probe | None = None
    scaling: Scaling = field(default_factory=FixedScaling)

    @property
    def probe_or_default(self) -> Probe:
        probe = self.probe or Probe()
        return Probe(probe.path, probe.port or self.default_http_port)


@dataclass(frozen=True)
class AppStateChange:
    state: AppState
    at: datetime


@dataclass(frozen=True)
class Replica:
    """One replica as the platform reports it; `ready` is its readiness probe now. `url` is
    where it answers by itself (local replicas, behind the app's own token); None where only
    the app's URL reaches the replicas, through the platform's balancer (AI Deploy)."""

    name: str
    state: str
    ready: bool
    reason: str = ""
    cpu_percent: float | None = None
    ram_percent: float | None = None
    url: str | None = None
    requests: int | None = None  # answered through the app's endpoint over the last minute (local apps)
    failed: int | None = None
    latency_ms: float | None = None  # their mean, endpoint to replica and back


@dataclass(frozen=True)
class App(Named):
    id: str
    spec: AppSpec
    state: AppState
    created_at: datetime
    history: tuple[AppStateChange, ...] = ()
    url: str | None = None
    grpc_address: str | None = None
    available_replicas: int = 0
    desired_replicas: int | None = None  # where the platform says; else the fixed count
    info_code: str | None = None
    info_message: str | None = None
    replicas: tuple[Replica, ...] = ()
    signal: float | None = None  # the scaling signal now (CPU %, RAM % or the custom metric)
    raw: dict[str, object] | None = field(default=None, compare=False, repr=False)

    @property
    def desired(self) -> int:
        if self.desired_replicas is not None:
            return self.desired_replicas
        scaling = self.spec.scaling
        return scaling.replicas if isinstance(scaling, FixedScaling) else scaling.replicas_min


@runtime_checkable
class AppPlatform(Protocol):
    """Where apps run."""

    def run(self, spec: AppSpec) -> App: ...

    def get(self, app_id: str) -> App: ...

    def list(self, states: tuple[AppState, ...] = (), label: str | None = None) -> builtins.list[App]:
        """Every app (all pages), newest first; only those in `states` / matching `label` (`k=v`)."""
        ...

    def scale(self, app_id: str, scaling: Scaling) -> None: ...

    def set_image(self, app_id: str, image: str) -> None: ...

    def start(self, app_id: str) -> None: ...

    def stop(self, app_id: str) -> None: ...

    def delete(self, app_id: str, force: bool = False) -> None: ...

    def logs(self, app_id: str, replica: str | None = None, tail: int | None = None) -> Iterable[str]:
        """The log so far, every replica merged (each line tagged with its replica), or one replica's."""
        ...

    def follow_logs(self, app_id: str, cancel: CancelToken, replica: str | None = None) -> Iterator[LogItem]:
        """Lines as they come until the app is down or `cancel` is set; no line lost or repeated."""
        ...
