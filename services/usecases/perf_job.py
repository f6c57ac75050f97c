"""`perf --client-job`: the sweep run by perf_analyzer in a client job beside the server.

From a jump host, a sweep against an OVHcloud job measures the internet between the two. The
tutorial's own client job runs the SDK image, which ships perf_analyzer, next to the server:
that is where the load comes from here. The job's command is perf_analyzer with the sweep's
flags, pointed at the server's address, writing its CSV into a read-write volume of the
results bucket; its printed levels come back through the job's log as the same events as
any sweep (services/perf/analyzer.py reads them), its CSV is fetched from the bucket once it
is DONE, and the job is deleted afterwards unless kept. On the local profile the same job
runs the installed perf_analyzer as a local job.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from services.cancel import CancelToken
from services.errors import UserError
from services.inference.endpoint import parse_address
from services.inference.protocol import InferenceClient, SequencePlan
from services.jobs.local import LOCAL_CLIENT_IMAGE
from services.jobs.protocol import JobPlatform, JobSpec, JobState, VolumeSpec
from services.perf.analyzer import INSTALL_HINT, command, find_binary, parse_output, read_csv, with_csv
from services.perf.sweep import LevelDone, LevelResult, PerfEvent, SweepConfig, SweepEnded
from services.storage.protocol import BucketRef, ObjectStore

SDK_IMAGE = "nvcr.io/nvidia/tritonserver:23.03-py3-sdk"  # the tutorial's client image, perf_analyzer on its PATH
RESULTS_MOUNT = "/workspace/results"
CSV_NAME = "perf.csv"
JOB_NAME = "triton-deck-perf"


@dataclass(frozen=True)
class ClientJobPlan:
    """Where the client job runs and keeps its CSV."""

    image: str
    binary: str  # perf_analyzer as the job runs it
    results: BucketRef
    keep: bool = False


RESULTS_BUCKET = "perf-results"


def client_job_plan(local: bool, region: str, binary: str | None = None, keep: bool = False) -> ClientJobPlan:
    """Where the client job runs: the SDK image on OVHcloud; the installed perf_analyzer in a
    local job on the local profile (one line saying how to install it when it is not)."""
    if not local:
        return ClientJobPlan(SDK_IMAGE, "perf_analyzer", BucketRef(RESULTS_BUCKET, region), keep)
    found = find_binary(binary)
    if found is None:
        raise UserError(INSTALL_HINT)
    return ClientJobPlan(LOCAL_CLIENT_IMAGE, str(found), BucketRef(RESULTS_BUCKET, region), keep)


def client_job_spec(plan: ClientJobPlan, client: InferenceClient, config: SweepConfig, prefix: str, sequence: SequencePlan | None = None) -> JobSpec:
    """The client job's body: the SDK image, one CPU, perf_analyzer's command, the results volume."""
    if client.endpoint.bearer is not None:
        raise UserError(
            "a client job would carry the token on its command line, stored with the job: start the server with --unsecure-http, "
            "or measure from here (without --client-job)"
        )
    address = parse_address(client.endpoint.url, client.endpoint.transport)
    words = command(Path(plan.binary), address, config, Path(RESULTS_MOUNT) / CSV_NAME, sequence=sequence)
    volume = VolumeSpec(plan.results.name, plan.results.region, RESULTS_MOUNT, "RW", prefix=prefix)
    return JobSpec(image=plan.image, command=tuple(words), name=JOB_NAME, gpu=0, cpu=1, volumes=(volume,))


def _job_line(item: object) -> str | None:
    """The job's own output in a log item (local logs tag it `[job] `; markers are not lines)."""
    if not isinstance(item, str):
        return None
    return item.split("[job] ", 1)[1] if "[job] " in item else item


def client_job_sweep(
    platform: JobPlatform, store: ObjectStore, plan: ClientJobPlan, client: InferenceClient, config: SweepConfig, cancel: CancelToken,
    sequence: SequencePlan | None = None,
) -> Iterator[PerfEvent]:  # fmt: skip
    """Run the client job, its levels as events while its log streams, then its CSV; the job is
    deleted afterwards (unless `plan.keep`), also when the sweep is cancelled or fails."""
    if not store.bucket_exists(plan.results):
        store.create_bucket(plan.results)
    prefix = f"perf/{time.strftime('%Y%m%dT%H%M%S')}-{config.model}/"
    job = platform.run(client_job_spec(plan, client, config, prefix, sequence))
    results: list[LevelResult] = []
    try:
        lines = (line for line in map(_job_line, platform.follow_logs(job.id, cancel)) if line is not None)
        for event in parse_output(lines, config):
            if isinstance(event, LevelDone):
                results.append(event.result)
            yield event
        if cancel.cancelled:
            yield SweepEnded(tuple(results), "cancelled")
            return
        finished = _wait_terminal(platform, job.id, cancel)
        if finished is not JobState.DONE:
            yield SweepEnded(tuple(results), f"client job {job.short_id} ended {finished}: `triton-deck job logs {job.short_id}` says why")
            return
        rows = _fetch_csv(store, plan.results, prefix, config.mode)
        yield SweepEnded(tuple(sorted((with_csv(result, rows.get(result.level)) for result in results), key=lambda result: result.level)))
    finally:
        if not plan.keep:
            _delete(platform, job.id)


def _wait_terminal(platform: JobPlatform, job_id: str, cancel: CancelToken, timeout_s: float = 120.0) -> JobState:
    """The job's end state (its log ended, the platform may lag a moment behind)."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = platform.get(job_id).state
        if state.is_terminal or time.monotonic() > deadline or cancel.wait(0.5):
            return state


def _fetch_csv(store: ObjectStore, bucket: BucketRef, prefix: str, mode: str) -> dict[float, dict[str, float]]:
    info = store.head(bucket, prefix + CSV_NAME)
    if info is None:
        return {}
    with tempfile.TemporaryDirectory(prefix="triton-deck-perf-job-") as scratch:
        result = store.download(bucket, [info], Path(scratch), lambda _progress: None, CancelToken(), remove_prefix=prefix)
        if result.failed:
            return {}
        return read_csv(Path(scratch) / CSV_NAME, mode)


def _delete(platform: JobPlatform, job_id: str) -> None:
    try:
        if not platform.get(job_id).state.is_terminal:
            platform.stop(job_id)
        platform.delete(job_id, force=True)
    except UserError:
        pass  # already gone
