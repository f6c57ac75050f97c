"""On-disk records of local apps, shared by the platform (any process) and each app's supervisor.

    $XDG_DATA_HOME/triton-deck/apps/<id>/app.json      the app as AI Deploy returns it, plus `local`
    $XDG_DATA_HOME/triton-deck/apps/<id>/control.json  what the platform asks for: scaling, image
    $XDG_DATA_HOME/triton-deck/apps/<id>/log.txt       `<UTC time>Z [<replica>] <line>`, every replica merged
    $XDG_DATA_HOME/triton-deck/apps/<id>/workspace/    the synced volumes, shared read-only by the replicas

One writer per file: the supervisor writes `app.json` while it lives (the platform only
before it starts and after it is gone), the platform alone writes `control.json`; both are
replaced atomically, so no reader sees half a record and no update is lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from services import locations
from services.apps.document import app_document, app_from_document, scaling_document, scaling_from_document
from services.apps.protocol import App, Replica, Scaling
from services.shared_file import write_atomic


def apps_root() -> Path:
    return locations.data_dir() / "apps"


@dataclass(frozen=True)
class LocalEndpoint:
    """The app's own loopback ports: kept across stop/start, so its URL stays the same."""

    http_port: int
    grpc_port: int | None = None


@dataclass(frozen=True)
class LocalRecord:
    app: App
    endpoint: LocalEndpoint
    supervisor_pid: int | None = None
    generation: int = 0  # the control generation the supervisor last applied


def write_record(app_dir: Path, record: LocalRecord) -> None:
    app = record.app
    replicas = [
        {
            "name": r.name, "state": r.state, "ready": r.ready, "reason": r.reason, "cpuPercent": r.cpu_percent, "ramPercent": r.ram_percent, "url": r.url,
            "requestsLastMinute": r.requests, "failedLastMinute": r.failed, "meanLatencyMs": r.latency_ms,
        }
        for r in app.replicas
    ]  # fmt: skip
    local = {
        "httpPort": record.endpoint.http_port, "grpcPort": record.endpoint.grpc_port, "desiredReplicas": app.desired_replicas,
        "signal": app.signal, "replicas": replicas, "generation": record.generation,
    }  # fmt: skip
    document = {**app_document(app), "local": local, "supervisorPid": record.supervisor_pid}
    write_atomic(app_dir / "app.json", json.dumps(document, indent=1))


def read_record(app_dir: Path) -> LocalRecord:
    document: dict[str, Any] = json.loads((app_dir / "app.json").read_text(encoding="utf-8"))
    local = document.get("local") or {}
    replicas = tuple(
        Replica(
            str(r.get("name", "")), str(r.get("state", "")), bool(r.get("ready")), str(r.get("reason") or ""), r.get("cpuPercent"), r.get("ramPercent"), r.get("url"),
            r.get("requestsLastMinute"), r.get("failedLastMinute"), r.get("meanLatencyMs"),
        )
        for r in local.get("replicas") or ()
    )  # fmt: skip
    app = replace(app_from_document(document, replicas), desired_replicas=local.get("desiredReplicas"), signal=local.get("signal"), raw=None)
    endpoint = LocalEndpoint(int(local["httpPort"]), local.get("grpcPort"))
    return LocalRecord(app, endpoint, document.get("supervisorPid"), int(local.get("generation") or 0))


@dataclass(frozen=True)
class Control:
    """The changes asked of a running app; `generation` grows with each."""

    generation: int = 0
    scaling: Scaling | None = None
    image: str | None = None


def write_control(app_dir: Path, control: Control) -> None:
    document = {"generation": control.generation, "scaling": scaling_document(control.scaling) if control.scaling else None, "image": control.image}
    write_atomic(app_dir / "control.json", json.dumps(document))


def read_control(app_dir: Path) -> Control:
    try:
        document = json.loads((app_dir / "control.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Control()
    scaling = scaling_from_document(document["scaling"]) if document.get("scaling") else None
    return Control(int(document.get("generation") or 0), scaling, document.get("image"))
