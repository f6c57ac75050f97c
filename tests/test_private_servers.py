"""Private local servers (not `--unsecure-http`): the token is checked by the guard in front of
each tritonserver, never put on a command line, and the server itself listens only inside a
network namespace of its own (services/triton/guard.py)."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import replace

from services.apps.local import LocalAppPlatform
from services.apps.protocol import AppSpec, AppState, FixedScaling, Probe
from services.jobs.local import LocalJobPlatform
from services.jobs.protocol import JobState, VolumeSpec
from services.storage.protocol import BucketRef
from services.supervised.token import local_token
from tests.helpers import http_status, tutorial_spec, wait_for


def ready_within(url: str, token: str, seconds: float = 90) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if http_status(f"{url}/v2/health/ready", token) == 200:
            return True
        time.sleep(0.2)
    return False


def grpc_ready(address: str, token: str | None) -> bool | str:
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    client = grpcclient.InferenceServerClient(address)
    headers = {"authorization": f"Bearer {token}"} if token else None
    try:
        return bool(client.is_server_ready(headers=headers, client_timeout=10))
    except InferenceServerException as error:
        return str(error.status())
    finally:
        client.close()


def test_no_token_on_any_command_line_and_the_guard_checks_both_protocols(models_bucket: BucketRef) -> None:
    token = local_token().reveal()
    jobs, apps = LocalJobPlatform(), LocalAppPlatform()
    job = jobs.run(replace(tutorial_spec(), unsecure_http=False))
    app = apps.run(AppSpec(
        image="local/tritonserver", command=("tritonserver", "--model-repository=/workspace/models"), name="private", grpc_port=8001,
        volumes=(VolumeSpec("my-models", "LOCAL", "/workspace/models", "RO"),), probe=Probe("/v2/health/ready", 8000), scaling=FixedScaling(2),
    ))  # fmt: skip
    try:
        assert wait_for(jobs, job.id, {JobState.RUNNING, JobState.FAILED}) is JobState.RUNNING
        deadline = time.monotonic() + 120
        while (running := apps.get(app.id)).available_replicas != 2 and time.monotonic() < deadline:
            assert running.state is not AppState.FAILED, running.info_message
            time.sleep(0.3)
        assert running.available_replicas == 2, running.info_message
        job_url = jobs.get(job.id).url
        assert job_url and running.url and running.grpc_address
        assert ready_within(job_url, token) and ready_within(running.url, token)

        arguments = subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, text=True, check=True).stdout
        assert arguments.count("--model-repository=") >= 3, "the three servers run"
        assert token not in arguments, "no token on any command line"

        for url in (job_url, running.url):
            assert http_status(f"{url}/v2/health/ready") == 403 and http_status(f"{url}/v2/health/ready", "not-the-token") == 403
            assert http_status(f"{url}/v2/models/simple", token) == 200
        job_grpc = jobs.get(job.id).grpc_address
        assert job_grpc is not None
        for address in (job_grpc, running.grpc_address):
            assert grpc_ready(address, token) is True
            assert grpc_ready(address, None) is not True and grpc_ready(address, "not-the-token") is not True
        assert grpc_ready(running.grpc_address, "not-the-token") == "StatusCode.UNAUTHENTICATED"  # refused at the app's endpoint

        ours = os.readlink("/proc/self/ns/net")
        servers = subprocess.run(["pgrep", "-f", f"{job.id}|{app.id}"], capture_output=True, text=True).stdout.split()
        inner = [pid for pid in servers if "tritonserver" in open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")]
        assert inner and all(os.readlink(f"/proc/{pid}/ns/net") != ours for pid in inner), "each server listens in a namespace of its own"
    finally:
        jobs.delete(job.id, force=True)
        apps.delete(app.id, force=True)


def test_a_killed_guard_takes_its_server_along(models_bucket: BucketRef) -> None:
    import signal

    jobs = LocalJobPlatform()
    job = jobs.run(replace(tutorial_spec(), unsecure_http=False))
    try:
        assert wait_for(jobs, job.id, {JobState.RUNNING, JobState.FAILED}) is JobState.RUNNING

        def ours(pattern: str) -> list[int]:
            found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
            return [int(pid) for pid in found if str(jobs.root / job.id) in open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")]

        deadline = time.monotonic() + 30
        while not ours("services.triton.guard") and time.monotonic() < deadline:
            time.sleep(0.2)
        (guard,) = ours("services.triton.guard")
        os.kill(guard, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while ours("bin/tritonserver") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not ours("bin/tritonserver"), "no server outlives its guard"
    finally:
        jobs.delete(job.id, force=True)
