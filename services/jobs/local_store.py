"""On-disk records of local jobs, shared by the platform (any process) and each job's supervisor.

    $XDG_DATA_HOME/triton-deck/jobs/<id>/job.json    the job, as AI Training would return it
    $XDG_DATA_HOME/triton-deck/jobs/<id>/log.txt     `<UTC time>Z [job] <line>`, as `ovhai job logs` prints
    $XDG_DATA_HOME/triton-deck/jobs/<id>/workspace/  what `/workspace` means for this job

`job.json` is always replaced atomically, so readers never see half a record.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services import locations
from services.jobs.protocol import Job, JobSpec, JobState, StateChange, VolumeSpec


def jobs_root() -> Path:
    return locations.data_dir() / "jobs"


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def job_to_record(job: Job, supervisor_pid: int | None) -> dict[str, Any]:
    spec = asdict(job.spec)
    return {
        "id": job.id,
        "createdAt": stamp(job.created_at),
        "spec": spec,
        "status": {
            "state": job.state.value,
            "history": [{"state": change.state.value, "date": stamp(change.at)} for change in job.history],
            "url": job.url,
            "ip": job.ip,
            "grpcAddress": job.grpc_address,
            "info": {"code": job.info_code, "message": job.info_message},
            "exitCode": job.exit_code,
        },
        "supervisorPid": supervisor_pid,
    }


def record_to_job(record: dict[str, Any]) -> Job:
    spec = dict(record["spec"])
    spec["volumes"] = tuple(VolumeSpec(**volume) for volume in spec.get("volumes", ()))
    for key in ("command", "env", "labels", "ssh_public_keys"):
        spec[key] = tuple(tuple(item) if isinstance(item, list) else item for item in spec.get(key, ()))
    status = record["status"]
    return Job(
        id=record["id"],
        spec=JobSpec(**spec),
        state=JobState(status["state"]),
        created_at=parse_stamp(record["createdAt"]),
        history=tuple(StateChange(JobState(entry["state"]), parse_stamp(entry["date"])) for entry in status["history"]),
        url=status.get("url"),
        ip=status.get("ip"),
        grpc_address=status.get("grpcAddress"),
        info_code=status.get("info", {}).get("code"),
        info_message=status.get("info", {}).get("message"),
        exit_code=status.get("exitCode"),
    )


def write_record(job_dir: Path, record: dict[str, Any]) -> None:
    fd, temp = tempfile.mkstemp(dir=job_dir, prefix=".job-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2)
    os.replace(temp, job_dir / "job.json")


def read_record(job_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((job_dir / "job.json").read_text(encoding="utf-8"))
    return data
