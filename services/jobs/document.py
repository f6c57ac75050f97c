"""A job as the AI Training API writes it (`ovhai job get -o json`), and back.

One codec for the regional API's bodies, the CLI's `-o json` (so `jq .status.url` works
as in the tutorial) and the local platform's `job.json`: field names exactly as in
`ovh-ai-training-api.md` §4 (`defaultHttpPort`, `resources.gpu`, a volume's `dataStore`).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from services.jobs.protocol import Job, JobSpec, JobState, RunSpec, StateChange, VolumeSpec

Change = TypeVar("Change")


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(text: str) -> datetime:
    """`2023-07-20T16:08:58Z`, with or without fractional seconds or an explicit offset."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def volume_document(volume: VolumeSpec) -> dict[str, Any]:
    """The official SDK's `Volume`: `dataStore` at the top (the regional API's schema has no
    `volumeSource`, and a volume whose source is ignored mounts nothing)."""
    store: dict[str, Any] = {"alias": volume.alias, "container": volume.container}
    if volume.prefix:
        store["prefix"] = volume.prefix
    return {"dataStore": store, "mountPath": volume.mount_path, "permission": volume.permission, "cache": volume.cache}


def volume_from_document(document: dict[str, Any]) -> VolumeSpec:
    """Reads both forms: the SDK's top-level `dataStore` and the main API's `volumeSource.dataStore`."""
    store = (document.get("volumeSource") or {}).get("dataStore") or document.get("dataStore") or {}
    return VolumeSpec(
        container=store.get("container", ""),
        alias=store.get("alias", ""),
        mount_path=document["mountPath"],
        permission=document.get("permission", "RO"),
        prefix=store.get("prefix") or "",
        cache=bool(document.get("cache", False)),
    )


def spec_document(spec: JobSpec) -> dict[str, Any]:
    """The body of `POST /v1/job`. A CPU job sends `gpu: 0`: no resources at all means one GPU."""
    resources: dict[str, Any] = {"gpu": spec.gpu} if spec.cpu is None else {"cpu": spec.cpu, "gpu": 0}
    if spec.flavor:
        resources["flavor"] = spec.flavor
    document: dict[str, Any] = {
        "image": spec.image,
        "defaultHttpPort": spec.default_http_port,
        "unsecureHttp": spec.unsecure_http,
        "resources": resources,
    }
    optional: dict[str, Any] = {  # unset fields are left out, as the SDK's to_dict does
        "name": spec.name,
        "command": list(spec.command) or None,
        "grpcPort": spec.grpc_port,
        "timeout": spec.timeout_s,
        "volumes": [volume_document(volume) for volume in spec.volumes] or None,
        "envVars": [{"name": name, "value": value} for name, value in spec.env] or None,
        "labels": dict(spec.labels) or None,
        "sshPublicKeys": list(spec.ssh_public_keys) or None,
    }
    document.update({key: value for key, value in optional.items() if value is not None})
    return document


def spec_from_document(document: dict[str, Any]) -> JobSpec:
    resources = document.get("resources") or {}
    gpu = int(resources.get("gpu") or 0)
    return JobSpec(
        image=document.get("image", ""),
        command=tuple(document.get("command") or ()),
        name=document.get("name"),
        gpu=gpu,
        cpu=None if gpu else resources.get("cpu"),
        flavor=resources.get("flavor"),
        default_http_port=int(document.get("defaultHttpPort") or 8080),
        grpc_port=document.get("grpcPort"),
        unsecure_http=bool(document.get("unsecureHttp", False)),
        volumes=tuple(volume_from_document(volume) for volume in document.get("volumes") or ()),
        env=tuple((pair["name"], pair.get("value", "")) for pair in document.get("envVars") or ()),
        labels=tuple((document.get("labels") or {}).items()),
        timeout_s=document.get("timeout"),
        ssh_public_keys=tuple(document.get("sshPublicKeys") or ()),
    )


def job_document(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "createdAt": stamp(job.created_at),
        "spec": spec_document(job.spec),
        "status": {
            "state": job.state.value,
            "history": [{"state": change.state.value, "date": stamp(change.at)} for change in job.history],
            "url": job.url,
            "ip": job.ip,
            "grpcAddress": job.grpc_address,
            "info": {"code": job.info_code, "message": job.info_message},
            "exitCode": job.exit_code,
        },
    }


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def created_at(document: dict[str, Any]) -> datetime:
    """A job's or an app's `createdAt`; the epoch where the record has none."""
    return parse_stamp(document["createdAt"]) if document.get("createdAt") else EPOCH


def state_history(status: dict[str, Any], change: Callable[[str, datetime], Change]) -> tuple[Change, ...]:
    """A job's or an app's `status.history` as `change(state, at)` values, lenient as the SDK:
    a missing state is UNKNOWN, a missing date the epoch, a malformed entry skipped."""
    entries = [entry for entry in status.get("history") or () if isinstance(entry, dict)]
    return tuple(change(entry.get("state") or "UNKNOWN", parse_stamp(entry["date"]) if entry.get("date") else EPOCH) for entry in entries)


def job_from_document(document: dict[str, Any]) -> Job:
    """Lenient where the SDK marks fields optional: no `status`, `createdAt` or history dates
    is a job still (state UNKNOWN, the epoch), never a KeyError that breaks a listing."""
    status = document.get("status") or {}
    info = status.get("info") or {}
    return Job(
        id=document["id"],
        spec=spec_from_document(document.get("spec") or {}),
        state=JobState(status.get("state") or "UNKNOWN"),
        created_at=created_at(document),
        history=state_history(status, lambda state, at: StateChange(JobState(state), at)),
        url=status.get("url"),
        ip=status.get("ip"),
        grpc_address=status.get("grpcAddress"),
        info_code=info.get("code"),
        info_message=info.get("message"),
        exit_code=status.get("exitCode"),
    )


def ovhai_run_line(noun: str, spec: RunSpec, own: Sequence[str] = (), own_last: Sequence[str] = (), grpc: bool = False) -> str:
    """`ovhai job run …` or `ovhai app run …` for `spec`: the flags every run takes, the kind's
    own (`own` before the volumes, `own_last` after the labels), the image, `--` and the command."""
    words = ["ovhai", noun, "run"]
    if spec.name:
        words += ["--name", spec.name]
    words += ["--cpu", str(spec.cpu)] if spec.cpu is not None else ["--gpu", str(spec.gpu)]
    if spec.flavor:
        words += ["--flavor", spec.flavor]
    words += ["--default-http-port", str(spec.default_http_port)]
    if grpc and spec.grpc_port is not None:
        words += ["--grpc-port", str(spec.grpc_port)]
    if spec.unsecure_http:
        words.append("--unsecure-http")
    words += own
    for volume in spec.volumes:
        words += ["--volume", str(volume)]
    for name, value in spec.env:
        words += ["--env", f"{name}={value}"]
    for name, value in spec.labels:
        words += ["--label", f"{name}={value}"]
    words += [*own_last, spec.image]
    if spec.command:
        words += ["--", *spec.command]
    return shlex.join(words)


def run_command_line(spec: JobSpec) -> str:
    """The `ovhai job run ...` that submits `spec`: what the detail view shows and the run form previews."""
    return ovhai_run_line("job", spec, own_last=["--timeout", f"{spec.timeout_s}s"] if spec.timeout_s is not None else [])
