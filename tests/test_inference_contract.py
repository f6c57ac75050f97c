"""The InferenceClient contract: the same assertions on the fake and on tritonclient against
a real tritonserver serving the demo repository (HTTP and gRPC)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.demo import CLASSIFIER, MODEL_REPOSITORY, SAMPLES_DIR
from services.errors import UserError
from services.fake_set import SAMPLE_ANSWERS, SAMPLE_MODELS
from services.inference.fake import FakeInferenceClient
from services.inference.protocol import ClassifyRequest, Endpoint, InferenceClient, OutputRequest, Scaling, Transport
from services.inference.triton import TritonInferenceClient
from services.triton.runtime import TritonServer, prepare_runtime


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonServer]:
    scratch = tmp_path_factory.mktemp("contract")
    with TritonServer(prepare_runtime(scratch / "cache"), MODEL_REPOSITORY, scratch / "server.log").running() as triton:
        yield triton


@pytest.fixture(params=["fake", "triton-http", "triton-grpc"])
def client(request: pytest.FixtureRequest) -> InferenceClient:
    if request.param == "fake":
        return FakeInferenceClient(Endpoint("127.0.0.1:8000", Transport.HTTP), SAMPLE_ANSWERS, SAMPLE_MODELS)
    server: TritonServer = request.getfixturevalue("server")
    transport = Transport.HTTP if request.param == "triton-http" else Transport.GRPC
    port = server.ports.http if transport is Transport.HTTP else server.ports.grpc
    return TritonInferenceClient(Endpoint(f"127.0.0.1:{port}", transport))


def test_health_metadata_and_the_model_index(client: InferenceClient) -> None:
    health = client.health()
    assert health.live and health.ready and health.latency_ms >= 0
    assert client.server_metadata().name == "triton"
    ready = {entry.name for entry in client.model_index() if entry.state == "READY"}
    assert CLASSIFIER in ready
    metadata = client.model_metadata(CLASSIFIER)
    assert metadata.name == CLASSIFIER and metadata.inputs and metadata.outputs


def test_classify_answers_each_image_in_order_with_the_top_k(client: InferenceClient, tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    images = (SAMPLES_DIR / "coffee.png", broken, SAMPLES_DIR / "chelsea.png")
    results = list(client.classify(ClassifyRequest(CLASSIFIER, images, top_k=2, scaling=Scaling.INCEPTION)))
    assert [Path(result.image).name for result in results] == ["coffee.png", "broken.png", "chelsea.png"]
    coffee, failed, cat = results
    assert failed.error and not failed.classes, "a bad image fails alone, one line"
    assert [c.label for c in coffee.classes] == ["espresso", "tea cup"] and cat.classes[0].label == "Egyptian Mau"
    assert all(float(a.score) >= float(b.score) for a, b in zip(coffee.classes, coffee.classes[1:], strict=False)), "best first"


def test_an_unknown_model_is_one_clear_error(client: InferenceClient) -> None:
    with pytest.raises(UserError, match="nope"):
        list(client.classify(ClassifyRequest("nope", (SAMPLES_DIR / "coffee.png",))))


def test_generic_inference_answers_simple_and_names_a_refusal(client: InferenceClient) -> None:
    import numpy as np

    from services.inference.protocol import InputData
    from services.usecases.infer import infer

    first = np.arange(32, dtype=np.int32).reshape(2, 16)
    second = np.ones((2, 16), np.int32)
    result = client.infer("simple", [InputData("INPUT0", "INT32", first), InputData("INPUT1", "INT32", second)])
    outputs = {output.name: output for output in result.outputs}
    assert (outputs["OUTPUT0"].datatype, outputs["OUTPUT0"].shape) == ("INT32", (2, 16))
    assert (outputs["OUTPUT0"].array == first + 1).all() and (outputs["OUTPUT1"].array == first - 1).all()
    assert [output.name for output in infer(client, "simple", fill="zero", outputs=[OutputRequest("OUTPUT1")]).outputs] == ["OUTPUT1"]
    with pytest.raises(UserError, match="model 'simple' has no output 'OUTPUT9'"):
        infer(client, "simple", fill="zero", outputs=[OutputRequest("OUTPUT9")])
