"""The deploy flow on an OVHcloud profile, every service local and real where it can be:
the AI Training API is the test's fake (it follows ovh-ai-training-api.md), storage is moto's
S3 server, the image is built on a real dockerd and pushed to a real registry, and the job's
`status.url` points at a real tritonserver serving what was uploaded."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.backends import open_services
from services.cancel import CancelToken
from services.config import Profile, ProfileKind
from services.pipeline.plan import DeployPlan, Step
from services.pipeline.runner import PipelineRunner
from services.pipeline.state import PipelineStore, StepStatus
from services.storage.listing import iter_objects
from services.triton.runtime import TritonServer, prepare_runtime
from tests.container_engine import Dockerd, Registry, import_base_image, start_dockerd, start_registry
from tests.fake_ai_api import TOKEN, FakeAITrainingAPI

DEMO = Path(__file__).resolve().parent.parent / "demo"


@pytest.fixture
def engine_and_registry() -> Iterator[tuple[Dockerd, Registry]]:
    engine = start_dockerd()
    registry = start_registry()
    try:
        import_base_image(engine)
        yield engine, registry
    finally:
        registry.stop()
        engine.stop()


def test_the_flow_on_an_ovhcloud_profile(
    engine_and_registry: tuple[Dockerd, Registry], moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, registry = engine_and_registry
    triton = TritonServer(prepare_runtime(tmp_path / "cache"), DEMO / "model_repository", tmp_path / "server.log")
    triton.start()
    api = FakeAITrainingAPI().start()
    stop = threading.Event()

    def platform_time() -> None:
        """Jobs move one state every tick, as AI Training schedules them; a server job's URL
        is where the real tritonserver listens."""
        while not stop.wait(0.1):
            for job_id, job in list(api.jobs.items()):
                if job.state in ("QUEUED", "INITIALIZING", "PENDING"):
                    job.document["status"]["url"] = triton.url
                    api.advance(job_id)

    ticker = threading.Thread(target=platform_time, daemon=True)
    ticker.start()
    try:
        triton.wait_ready()
        env = {"OVHAI_TOKEN": TOKEN, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "DOCKER_HOST": engine.base_url, "HOME": str(tmp_path)}
        profile = Profile(name="gra", kind=ProfileKind.OVHCLOUD, region="GRA", api_url=api.base_url, s3_endpoint=moto_endpoint, s3_region="us-east-1")
        services = open_services(profile, env)
        assert services.unavailable == {}, services.unavailable
        plan = DeployPlan(
            repository=str(DEMO / "model_repository"), bucket="my-models@GRA", images=str(DEMO / "samples"),
            server_image=f"{registry.address}/tritonserver:23.03-py3", build_image=True, base_image="local/busybox:1",
            build_context=str(DEMO / "model_repository"),
        )  # fmt: skip
        state = PipelineRunner(services, PipelineStore("gra"), lambda step, record: None, CancelToken(), poll_s=0.1).run(plan)
        assert state.finished, {step.value: record.detail for step, record in state.steps.items()}
        assert state.steps[Step.BUILD].status is StepStatus.DONE and state.steps[Step.PUSH].status is StepStatus.DONE
        digest = registry.get("/v2/tritonserver/manifests/23.03-py3", accept="application/vnd.docker.distribution.manifest.v2+json", method="HEAD")[1]
        assert state.steps[Step.PUSH].result.digest == digest["Docker-Content-Digest"]
        assert state.steps[Step.CLIENT].status is StepStatus.SKIPPED
        (job,) = api.jobs.values()
        spec = job.document["spec"]
        assert spec["image"] == plan.server_image and spec["unsecureHttp"] is True and spec["defaultHttpPort"] == 8000
        store = spec["volumes"][0]["dataStore"]
        assert (store["alias"], store["container"], spec["volumes"][0]["mountPath"]) == ("GRA", "my-models", "/workspace/models")
        assert services.object_store is not None
        keys = sorted(obj.key for obj in iter_objects(services.object_store, plan.bucket_ref, ""))
        assert keys == ["efficientnet_lite0/1/model.onnx", "efficientnet_lite0/1/model.py", "efficientnet_lite0/config.pbtxt", "efficientnet_lite0/labels.txt", "simple/1/model.py", "simple/config.pbtxt"]
        answers = state.steps[Step.CLASSIFY].result.answers
        assert [a.classes[0][2] for a in answers] == ["Egyptian Mau", "espresso", "drilling rig"]
    finally:
        stop.set()
        ticker.join()
        api.stop()
        triton.stop()
