"""Jobs by what a person types: the app and `demo` show 8-character ids, any unique prefix works."""

from __future__ import annotations

from services.errors import UserError
from services.jobs.protocol import Job, JobPlatform

FULL_ID_LENGTH = 36


def resolve_job(platform: JobPlatform, typed: str) -> Job:
    """The job whose id is `typed` or starts with it; one line naming the candidates when
    several do, or saying none does."""
    typed = typed.strip()
    if not typed:
        raise UserError("no job id given: `triton-deck job list` shows them")
    if len(typed) == FULL_ID_LENGTH:
        return platform.get(typed)
    matches = [job for job in platform.list() if job.id.startswith(typed)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UserError(f"no job id starts with '{typed}': `triton-deck job list` shows them")
    names = ", ".join(f"{job.id[: len(typed) + 4]}… ({job.name})" for job in matches[:8])
    raise UserError(f"'{typed}' matches {len(matches)} jobs: {names}; type more of the id")


def stop_job(platform: JobPlatform, job: Job) -> None:
    """Ask `job` to stop; a job that has already ended is refused with its state (not an API error)."""
    if job.state.is_terminal:
        raise UserError(f"job {job.short_id} is already {job.state}: nothing to stop")
    platform.stop(job.id)

