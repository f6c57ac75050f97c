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
from pathlib import Path
from typing import Any

from services import locations
from services.jobs.document import job_document, job_from_document
from services.jobs.protocol import Job


def jobs_root() -> Path:
    return locations.data_dir() / "jobs"


def job_to_record(job: Job, supervisor_pid: int | None) -> dict[str, Any]:
    return {**job_document(job), "supervisorPid": supervisor_pid}


def record_to_job(record: dict[str, Any]) -> Job:
    return job_from_document(record)


def write_record(job_dir: Path, record: dict[str, Any]) -> None:
    fd, temp = tempfile.mkstemp(dir=job_dir, prefix=".job-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2)
    os.replace(temp, job_dir / "job.json")


def read_record(job_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((job_dir / "job.json").read_text(encoding="utf-8"))
    return data
