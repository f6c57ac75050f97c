"""A job as the AI Training API writes it (`ovhai job get -o json`), and back.

One shape for the CLI's `-o json` and the local platform's `job.json`.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from services.jobs.protocol import Job, JobSpec, JobState, StateChange, VolumeSpec


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def job_document(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "createdAt": stamp(job.created_at),
        "spec": asdict(job.spec),
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


def job_from_document(document: dict[str, Any]) -> Job:
    spec = dict(document["spec"])
    spec["volumes"] = tuple(VolumeSpec(**volume) for volume in spec.get("volumes", ()))
    for key in ("command", "env", "labels", "ssh_public_keys"):
        spec[key] = tuple(tuple(item) if isinstance(item, list) else item for item in spec.get(key, ()))
    status = document["status"]
    return Job(
        id=document["id"],
        spec=JobSpec(**spec),
        state=JobState(status["state"]),
        created_at=parse_stamp(document["createdAt"]),
        history=tuple(StateChange(JobState(entry["state"]), parse_stamp(entry["date"])) for entry in status["history"]),
        url=status.get("url"),
        ip=status.get("ip"),
        grpc_address=status.get("grpcAddress"),
        info_code=status.get("info", {}).get("code"),
        info_message=status.get("info", {}).get("message"),
        exit_code=status.get("exitCode"),
    )
