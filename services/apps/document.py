"""An app as the AI Deploy API writes it (`ovhai app get -o json`), and back.

One codec for the regional API's bodies, the CLI's `-o json` and the local platform's
`app.json`: field names as in `ovh-ai-deploy.md` §2. Reading is lenient where the SDK is
not: a custom-metric strategy without `averageUsageTarget`, an unknown resource type or
state, a missing status or date are all an app still (SDK 0.1a4 raises on the first two).
"""

from __future__ import annotations

from typing import Any

from services.apps.protocol import (
    App,
    AppSpec,
    AppState,
    AppStateChange,
    AutomaticScaling,
    CustomMetric,
    FixedScaling,
    Probe,
    Replica,
    Scaling,
)
from services.jobs.document import created_at, ovhai_run_line, stamp, state_history, volume_document, volume_from_document


def scaling_document(scaling: Scaling) -> dict[str, Any]:
    """The body of `PUT /v1/app/{id}/scalingstrategy` and the spec's `scalingStrategy`."""
    if isinstance(scaling, FixedScaling):
        return {"fixed": {"replicas": scaling.replicas}}
    automatic: dict[str, Any] = {"replicasMin": scaling.replicas_min, "replicasMax": scaling.replicas_max}
    if scaling.custom_metric is not None:  # the Control Panel leaves resourceType and the target out then
        metric = scaling.custom_metric
        automatic["customMetrics"] = {
            "apiUrl": metric.api_url, "format": metric.format, "valueLocation": metric.value_location,
            "targetValue": metric.target_value, "aggregationType": metric.aggregation,
        }  # fmt: skip
    else:
        automatic["resourceType"] = scaling.resource_type
        automatic["averageUsageTarget"] = scaling.average_usage_target
    if scaling.scale_up_window_s:
        automatic["scaleUpStabilizationWindowSeconds"] = scaling.scale_up_window_s
    if scaling.scale_down_window_s != AutomaticScaling.scale_down_window_s:
        automatic["scaleDownStabilizationWindowSeconds"] = scaling.scale_down_window_s
    if scaling.replicas_min == 0 and scaling.cooldown_s is not None:
        automatic["cooldownPeriodSeconds"] = scaling.cooldown_s
    return {"automatic": automatic}


def _number(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def scaling_from_document(document: dict[str, Any] | None) -> Scaling:
    """No strategy is fixed 1 replica, as the API documents."""
    document = document or {}
    automatic = document.get("automatic")
    if not isinstance(automatic, dict):
        fixed = document.get("fixed") or {}
        return FixedScaling(int(_number(fixed.get("replicas"), 1)))
    custom = automatic.get("customMetrics")
    metric = None
    if isinstance(custom, dict):
        metric = CustomMetric(
            api_url=str(custom.get("apiUrl", "")), value_location=str(custom.get("valueLocation", "")),
            target_value=_number(custom.get("targetValue"), 0.0), format=str(custom.get("format") or "PROMETHEUS"),
            aggregation=str(custom.get("aggregationType") or "AVERAGE"),
        )  # fmt: skip
    target = automatic.get("averageUsageTarget")
    return AutomaticScaling(
        replicas_min=int(_number(automatic.get("replicasMin"), 1)),
        replicas_max=int(_number(automatic.get("replicasMax"), 1)),
        resource_type=None if automatic.get("resourceType") is None else str(automatic["resourceType"]),
        average_usage_target=None if target is None else int(_number(target, 0)),
        custom_metric=metric,
        scale_up_window_s=int(_number(automatic.get("scaleUpStabilizationWindowSeconds"), 0)),
        scale_down_window_s=int(_number(automatic.get("scaleDownStabilizationWindowSeconds"), 300)),
        cooldown_s=None if automatic.get("cooldownPeriodSeconds") is None else int(_number(automatic["cooldownPeriodSeconds"], 300)),
    )


def spec_document(spec: AppSpec) -> dict[str, Any]:
    """The body of `POST /v1/app`: `defaultHttpPort` and `unsecureHttp` always (as the SDK
    sends them), the rest only when set."""
    resources: dict[str, Any] = {"gpu": spec.gpu} if spec.cpu is None else {"cpu": spec.cpu, "gpu": 0}
    if spec.flavor:
        resources["flavor"] = spec.flavor
    document: dict[str, Any] = {"image": spec.image, "defaultHttpPort": spec.default_http_port, "unsecureHttp": spec.unsecure_http, "resources": resources}
    probe = None
    if spec.probe is not None:
        probe = {"path": spec.probe.path} | ({"port": spec.probe.port} if spec.probe.port is not None else {})
    optional: dict[str, Any] = {
        "name": spec.name,
        "command": list(spec.command) or None,
        "grpcPort": spec.grpc_port,
        "probe": probe,
        "scalingStrategy": scaling_document(spec.scaling),
        "volumes": [volume_document(volume) for volume in spec.volumes] or None,
        "envVars": [{"name": name, "value": value} for name, value in spec.env] or None,
        "labels": dict(spec.labels) or None,
    }
    document.update({key: value for key, value in optional.items() if value is not None})
    return document


def spec_from_document(document: dict[str, Any]) -> AppSpec:
    resources = document.get("resources") or {}
    gpu = int(_number(resources.get("gpu"), 0))
    probe = document.get("probe")
    return AppSpec(
        image=str(document.get("image", "")),
        command=tuple(document.get("command") or ()),
        name=document.get("name"),
        gpu=gpu,
        cpu=None if gpu else resources.get("cpu"),
        flavor=resources.get("flavor"),
        default_http_port=int(_number(document.get("defaultHttpPort"), 8080)),
        grpc_port=document.get("grpcPort"),
        unsecure_http=bool(document.get("unsecureHttp", False)),
        volumes=tuple(volume_from_document(volume) for volume in document.get("volumes") or ()),
        env=tuple((pair.get("name", ""), pair.get("value", "")) for pair in document.get("envVars") or ()),
        labels=tuple((str(k), "" if v is None else str(v)) for k, v in (document.get("labels") or {}).items()),
        probe=Probe(str(probe.get("path") or "/"), probe.get("port")) if isinstance(probe, dict) else None,
        scaling=scaling_from_document(document.get("scalingStrategy")),
    )


def app_document(app: App) -> dict[str, Any]:
    """The API's App shape, for `-o json` on every backend (`jq .status.url` works everywhere)."""
    status: dict[str, Any] = {
        "state": app.state.value,
        "availableReplicas": app.available_replicas,
        "history": [{"state": change.state.value, "date": stamp(change.at)} for change in app.history],
        "info": {"code": app.info_code, "message": app.info_message},
    }
    for key, value in (("url", app.url), ("grpcAddress", app.grpc_address)):
        if value is not None:
            status[key] = value
    if app.history:
        status["lastTransitionDate"] = stamp(app.history[-1].at)
    if app.replicas:  # what a local app's supervisor reports per replica, the endpoint's spread included
        status["replicas"] = [
            {"name": r.name, "state": r.state, "ready": r.ready, "requestsLastMinute": r.requests, "failedLastMinute": r.failed, "meanLatencyMs": r.latency_ms}
            for r in app.replicas
        ]  # fmt: skip
    return {"id": app.id, "createdAt": stamp(app.created_at), "updatedAt": stamp(app.history[-1].at if app.history else app.created_at), "spec": spec_document(app.spec), "status": status}


def app_from_document(document: dict[str, Any], replicas: tuple[Replica, ...] = ()) -> App:
    status = document.get("status") or {}
    info = status.get("info") or {}
    return App(
        id=str(document["id"]),
        spec=spec_from_document(document.get("spec") or {}),
        state=AppState(status.get("state") or "UNKNOWN"),
        created_at=created_at(document),
        history=state_history(status, lambda state, at: AppStateChange(AppState(state), at)),
        url=status.get("url"),
        grpc_address=status.get("grpcAddress"),
        available_replicas=int(_number(status.get("availableReplicas"), 0)),
        info_code=info.get("code"),
        info_message=info.get("message"),
        replicas=replicas,
        raw=document,
    )


def scaling_flags(scaling: Scaling) -> list[str]:
    """`ovhai app run/scale`'s flags for `scaling`."""
    if isinstance(scaling, FixedScaling):
        return ["--replicas", str(scaling.replicas)]
    words = ["--auto-min-replicas", str(scaling.replicas_min), "--auto-max-replicas", str(scaling.replicas_max)]
    if scaling.custom_metric is not None:
        metric = scaling.custom_metric
        words += [
            "--auto-custom-api-url", metric.api_url, "--auto-custom-metric-format", metric.format,
            "--auto-custom-value-location", metric.value_location, "--auto-custom-target-value", f"{metric.target_value:g}",
            "--auto-custom-metric-aggregation-type", metric.aggregation,
        ]  # fmt: skip
    else:
        words += ["--auto-resource-type", str(scaling.resource_type), "--auto-resource-usage-threshold", str(scaling.average_usage_target)]
    if scaling.scale_up_window_s:
        words += ["--auto-scale-up-stabilization-window-seconds", str(scaling.scale_up_window_s)]
    if scaling.scale_down_window_s != AutomaticScaling.scale_down_window_s:
        words += ["--auto-scale-down-stabilization-window-seconds", str(scaling.scale_down_window_s)]
    return words


def run_command_line(spec: AppSpec) -> str:
    """The `ovhai app run ...` that creates `spec`: what the detail view and the run form show."""
    probe = ["--probe-path", spec.probe.path] + (["--probe-port", str(spec.probe.port)] if spec.probe.port is not None else []) if spec.probe else []
    return ovhai_run_line("app", spec, own=probe + scaling_flags(spec.scaling), grpc=True)
