"""The JobPlatform contract: the same assertions on the in-memory fake, the local supervisor
platform (real processes) and the AI Training client against the fake regional API. A new
platform proves itself by passing them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.errors import UserError
from services.jobs.fake import FakeJobPlatform
from services.jobs.local import LocalJobPlatform
from services.jobs.protocol import JobPlatform, JobSpec, JobState, RegistryListing
from services.usecases.jobs import resolve_job
from tests.conftest import SNAPSHOT_NOW
from tests.helpers import Contracted, contracted, platform_for

SPEC = JobSpec(image="local/tools", command=("sleep", "30"), name="contract", gpu=0, cpu=1)


Backend = Contracted[JobPlatform]


@pytest.fixture(params=["fake", "local", "ai-training"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    yield from contracted(request.param, lambda: FakeJobPlatform(SNAPSHOT_NOW), LocalJobPlatform, 0.1, lambda api: (platform_for(api), api.advance))


def until(backend: Backend, job_id: str, wanted: set[JobState]) -> JobState:
    state: JobState = backend.until(job_id, lambda job: job.state in wanted, f"a state in {wanted}").state
    return state


def test_a_job_runs_is_listed_stops_and_is_deleted(backend: Backend) -> None:
    platform = backend.platform
    job = platform.run(SPEC)
    assert job.state is JobState.QUEUED and job.spec.image == SPEC.image and job.name == "contract"
    assert job.id in [listed.id for listed in platform.list()]
    assert until(backend, job.id, {JobState.RUNNING}) is JobState.RUNNING
    assert [listed.id for listed in platform.list((JobState.RUNNING,))] == [job.id]
    assert platform.list((JobState.DONE,)) == []
    assert resolve_job(platform, job.id[:12]).id == job.id
    with pytest.raises(UserError):
        platform.delete(job.id)  # a running job needs a stop or force
    platform.stop(job.id)
    assert until(backend, job.id, {JobState.INTERRUPTED}) is JobState.INTERRUPTED
    history = [change.state for change in platform.get(job.id).history]
    assert history[0] is JobState.QUEUED and history[-1] is JobState.INTERRUPTED and JobState.RUNNING in history
    platform.delete(job.id)
    assert job.id not in [listed.id for listed in platform.list()]
    with pytest.raises(UserError):
        platform.get(job.id)


def test_logs_are_lines_and_registries_a_listing(backend: Backend) -> None:
    platform = backend.platform
    job = platform.run(SPEC)
    until(backend, job.id, {JobState.RUNNING})
    assert all(isinstance(line, str) for line in platform.logs(job.id))
    assert all(isinstance(line, str) for line in platform.logs(job.id, tail=1))
    assert isinstance(platform.registries(), RegistryListing)
    platform.delete(job.id, force=True)


def test_an_unknown_job_is_one_clear_error(backend: Backend) -> None:
    with pytest.raises(UserError, match="not found|no job"):
        backend.platform.get("00000000-0000-0000-0000-00000000dead")
