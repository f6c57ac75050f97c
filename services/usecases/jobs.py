"""Jobs as a person names them and acts on them: one rule for the CLI, the Jobs panel and the pipeline."""

from __future__ import annotations

from services.errors import UserError
from services.jobs.protocol import Job, JobPlatform, JobSpec
from services.storage.protocol import ObjectStore
from services.usecases.ids import by_prefix
from services.usecases.volumes import check_volume_buckets


def resolve_job(platform: JobPlatform, typed: str) -> Job:
    """The job whose id is `typed` or starts with it (see `by_prefix`)."""
    return by_prefix(typed, platform.get, platform.list, "job")


def run_job(platform: JobPlatform, spec: JobSpec, store: ObjectStore | None) -> Job:
    """Submit `spec` once its RO volumes' buckets are known to exist (see `check_volume_buckets`)."""
    check_volume_buckets(store, spec.volumes)
    return platform.run(spec)


def stop_job(platform: JobPlatform, job: Job) -> None:
    """Ask `job` to stop; a job that has already ended is refused with its state (not an API error)."""
    if job.state.is_terminal:
        raise UserError(f"job {job.short_id} is already {job.state}: nothing to stop")
    platform.stop(job.id)

