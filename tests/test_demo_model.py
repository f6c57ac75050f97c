"""The shipped demo: a real ImageNet classifier served by a real tritonserver, answering
the recorded top-3 for the shipped sample photos over HTTP and gRPC."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.repository import validate_repository
from services.triton.runtime import TritonServer, prepare_runtime
from tests.helpers import EXPECTED_TOP3, imagenet_normalized

DEMO = Path(__file__).resolve().parent.parent / "demo"


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonServer]:
    scratch = tmp_path_factory.mktemp("demo")
    with TritonServer(prepare_runtime(scratch / "cache"), DEMO / "model_repository", scratch / "server.log").running() as server:
        yield server


def test_demo_repository_is_valid_and_samples_are_licensed() -> None:
    report = validate_repository(DEMO / "model_repository")
    assert report.ok and report.findings == [] and report.models == ["efficientnet_lite0", "simple"]
    licences = (DEMO / "SAMPLES-LICENSES.md").read_text()
    assert all(name in licences for name in EXPECTED_TOP3)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
@pytest.mark.parametrize("image", sorted(EXPECTED_TOP3))
def test_top3_of_the_sample_photos(demo_server: TritonServer, protocol: str, image: str) -> None:
    if protocol == "http":
        import tritonclient.http as client_module

        client = client_module.InferenceServerClient(f"127.0.0.1:{demo_server.ports.http}")
    else:
        import tritonclient.grpc as client_module  # type: ignore[no-redef]

        client = client_module.InferenceServerClient(f"127.0.0.1:{demo_server.ports.grpc}")
    batch = imagenet_normalized(DEMO / "samples" / image)[None]
    tensor = client_module.InferInput("input", list(batch.shape), "FP32")
    tensor.set_data_from_numpy(batch)
    answer = client.infer("efficientnet_lite0", [tensor], outputs=[client_module.InferRequestedOutput("logits", class_count=3)])
    client.close()
    assert [value.decode() for value in answer.as_numpy("logits")[0]] == EXPECTED_TOP3[image]
