"""A `ServiceSet` of seeded in-memory fakes: the tutorial's world, frozen in time.

Used by snapshot tests, Pilot tests and the benchmark so they all see the same
buckets, jobs and models, at a fixed instant, with fixed ids.
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.apps.fake import FakeAppPlatform
from services.apps.preset import triton_app
from services.apps.protocol import AppState, AutomaticScaling, CustomMetric
from services.backends import ServiceSet
from services.config import Profile
from services.fake_runs import triton_log_lines
from services.images.fake import FakeImageBuilder
from services.inference.fake import FakeInferenceClient, FakeStatsCounter
from services.inference.protocol import ModelIndexEntry
from services.jobs.fake import FakeJobPlatform
from services.jobs.protocol import JobSpec, JobState, VolumeSpec
from services.storage.fake import InMemoryObjectStore
from services.storage.protocol import BucketRef

FROZEN_NOW = datetime(2026, 11, 25, 14, 0, 0, tzinfo=UTC)
SERVER_IMAGE = "registry.gra.ai.cloud.ovh.net/0123456789abcdef/tritonserver:23.03-py3"
CLIENT_IMAGE = "registry.gra.ai.cloud.ovh.net/0123456789abcdef/tritonclient:23.03-py3-sdk"

# What the demo server answers for the shipped photos with -s INCEPTION (rocket left out:
# the fake shows an image it cannot answer, as a failed card).
SAMPLE_ANSWERS = {
    "coffee.png": ("10.768552:967:espresso", "7.385727:968:tea cup", "6.528270:504:coffee mug"),
    "chelsea.png": ("10.530498:285:Egyptian Mau", "8.326909:282:tiger cat", "8.103220:281:tabby cat"),
}

SAMPLE_MODELS = (
    ModelIndexEntry("densenet_onnx", "1", "UNAVAILABLE", "unable to find 'model.onnx' in version directory 1"),
    ModelIndexEntry("efficientnet_lite0", "1", "READY"),
    ModelIndexEntry("simple", "1", "READY"),
)


def server_spec(region: str = "GRA", name: str = "triton-server") -> JobSpec:
    return JobSpec(
        image=SERVER_IMAGE,
        command=("tritonserver", "--model-repository=/workspace/models"),
        name=name,
        gpu=1,
        default_http_port=8000,
        unsecure_http=True,
        volumes=(VolumeSpec("my-models", region, "/workspace/models", "RO"),),
    )


def seeded_store(region: str) -> InMemoryObjectStore:
    store = InMemoryObjectStore(FROZEN_NOW)
    models = BucketRef("my-models", region)
    store.add_bucket(models)
    store.add_bucket(BucketRef("my-results", region))
    store.put(models, "efficientnet_lite0/config.pbtxt", b'name: "efficientnet_lite0"\nbackend: "python"\n' * 8)
    store.put(models, "efficientnet_lite0/labels.txt", b"tench\n" * 1000)
    store.put(models, "efficientnet_lite0/1/model.onnx", b"\0" * 3_000_000)
    store.put(models, "efficientnet_lite0/1/model.py", b"import numpy\n" * 120)
    store.put(models, "simple/config.pbtxt", b'name: "simple"\n' * 10)
    store.put(models, "simple/1/model.py", b"pass\n" * 40)
    return store


def seeded_platform(region: str) -> FakeJobPlatform:
    platform = FakeJobPlatform(FROZEN_NOW)
    done = platform.add(server_spec(region, "triton-smoke"), JobState.DONE)
    platform.append_log(done.id, "2026-11-25T13:00:00Z [job] smoke test passed")
    platform.add(server_spec(region, "triton-broken"), JobState.FAILED, info="Job failed: image pull back-off")
    running = platform.add(server_spec(region), JobState.RUNNING)
    for line in triton_log_lines(FROZEN_NOW):
        platform.append_log(running.id, line)
    platform.add(
        JobSpec(image=CLIENT_IMAGE, command=("python", "image_client.py"), name="triton-client", gpu=0, cpu=1),
        JobState.QUEUED,
    )
    return platform


def seeded_apps(region: str) -> FakeAppPlatform:
    """A served model scaling on CPU, one scaling up on Triton's queue gauge, a stopped one."""
    apps = FakeAppPlatform(FROZEN_NOW)
    models = VolumeSpec("my-models", region, "/workspace/models", "RO")
    serving = apps.add(triton_app(SERVER_IMAGE, models, "triton-serving", AutomaticScaling(1, 3, "CPU", 75)), AppState.RUNNING, signal=42.0, replicas=2)
    for replica in serving.replicas:
        for line in triton_log_lines(FROZEN_NOW, replica.name):
            apps.append_log(serving.id, line)
    queue = CustomMetric("http://<SELF>:8002/metrics", 'nv_inference_pending_request_count{model="efficientnet_lite0"}', 4.0)
    canary = apps.add(triton_app(SERVER_IMAGE, models, "triton-queue", AutomaticScaling(1, 4, None, None, queue)), AppState.RUNNING, signal=6.0)
    apps.scale(canary.id, AutomaticScaling(2, 4, None, None, queue))
    apps.add(triton_app(SERVER_IMAGE, models, "triton-old"), AppState.STOPPED)
    return apps


def fake_services(profile: Profile) -> ServiceSet:
    region = profile.region
    stats = FakeStatsCounter()  # one server's counters, whichever client reads them
    return ServiceSet(
        profile=profile,
        object_store=seeded_store(region),
        image_builder=FakeImageBuilder(),
        job_platform=seeded_platform(region),
        app_platform=seeded_apps(region),
        inference=lambda chosen: FakeInferenceClient(chosen, SAMPLE_ANSWERS, SAMPLE_MODELS, stats=stats),
    )
