"""Apps as a person names them and scales them: one rule for `app` commands, the Apps panel
(its scale dialog and run form) and the deploy pipeline's `serve as: app`."""

from __future__ import annotations

from services.apps.protocol import App, AppPlatform, AppSpec, AutomaticScaling, CustomMetric, FixedScaling, Scaling, check_scaling
from services.errors import UserError
from services.storage.protocol import ObjectStore
from services.usecases.ids import by_prefix
from services.usecases.volumes import check_volume_buckets


def resolve_app(platform: AppPlatform, typed: str) -> App:
    """The app whose id is `typed` or starts with it (see `by_prefix`)."""
    return by_prefix(typed, platform.get, platform.list, "app")


def stop_app(platform: AppPlatform, app: App) -> None:
    """Ask `app` to stop; one already down (or stopping) is refused with its state."""
    if app.state.is_down or app.state.value == "STOPPING":
        raise UserError(f"app {app.short_id} is already {app.state}: nothing to stop")
    platform.stop(app.id)


def scaling_from_flags(
    replicas: int | None = None,
    auto_min: int | None = None,
    auto_max: int | None = None,
    resource_type: str | None = None,
    threshold: int | None = None,
    custom_url: str | None = None,
    custom_format: str | None = None,
    custom_location: str | None = None,
    custom_target: float | None = None,
    custom_aggregation: str | None = None,
    up_window_s: int | None = None,
    down_window_s: int | None = None,
) -> Scaling:
    """ovhai's scaling flags as a strategy: `--replicas N`, or the `--auto-*` ones (a custom
    metric needs its URL, value location and target; it replaces the CPU/RAM target)."""
    custom = (custom_url, custom_format, custom_location, custom_target, custom_aggregation)
    automatic = (auto_min, auto_max, resource_type, threshold, up_window_s, down_window_s, *custom)
    if replicas is not None and any(value is not None for value in automatic):
        raise UserError("--replicas and --auto-* both set the scaling: keep --replicas for a fixed count, or the --auto-* flags")
    if all(value is None for value in automatic):
        return FixedScaling(1 if replicas is None else replicas)
    low = 1 if auto_min is None else auto_min
    high = max(low, 1) if auto_max is None else auto_max
    metric = None
    if any(value is not None for value in custom):
        if not (custom_url and custom_location and custom_target is not None):
            raise UserError("a custom metric needs --auto-custom-api-url, --auto-custom-value-location and --auto-custom-target-value")
        if resource_type is not None or threshold is not None:
            raise UserError("--auto-custom-* replaces --auto-resource-type/--auto-resource-usage-threshold: keep one signal")
        metric = CustomMetric(custom_url, custom_location, custom_target, (custom_format or "PROMETHEUS").upper(), (custom_aggregation or "AVERAGE").upper())
    return AutomaticScaling(
        replicas_min=low, replicas_max=high,
        resource_type=None if metric else (resource_type or "CPU").upper(), average_usage_target=None if metric else (75 if threshold is None else threshold),
        custom_metric=metric, scale_up_window_s=up_window_s or 0, scale_down_window_s=300 if down_window_s is None else down_window_s,
    )  # fmt: skip


def run_app(platform: AppPlatform, spec: AppSpec, store: ObjectStore | None = None) -> App:
    """Submit `spec` once its scaling is sound and its RO volumes' buckets exist."""
    check_scaling(spec.scaling)
    check_volume_buckets(store, spec.volumes)
    return platform.run(spec)


def scale_app(platform: AppPlatform, app: App, scaling: Scaling) -> None:
    """Apply `scaling` to a running or stopped app (a stopped one keeps it for its next start)."""
    check_scaling(scaling)
    platform.scale(app.id, scaling)
