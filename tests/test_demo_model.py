"""The shipped demo: a real ImageNet classifier served by a real tritonserver, answering
the recorded top-3 for the shipped sample photos over HTTP and gRPC."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from services.repository import validate_repository
from services.triton.runtime import TritonServer, prepare_runtime

# The preprocessing the demo EfficientNet was trained with (short side to 256, centre crop 224,
# ImageNet mean and standard deviation, NCHW): what the recorded answers below were made with.
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def imagenet_normalized(path: Path, size: int = 224, resize_to: int = 256) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as opened:
        image = opened.convert("RGB")
    width, height = image.size
    scale = resize_to / min(width, height)
    image = image.resize((round(width * scale), round(height * scale)), Image.BILINEAR)
    left, top = (image.width - size) // 2, (image.height - size) // 2
    image = image.crop((left, top, left + size, top + size))
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    return ((pixels - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1).astype(np.float32)


DEMO = Path(__file__).resolve().parent.parent / "demo"
EXPECTED_TOP3 = {
    "coffee.png": ["10.410741:967:espresso", "8.048911:968:tea cup", "6.919769:504:coffee mug"],
    "chelsea.png": ["8.611941:285:Egyptian Mau", "8.287271:281:tabby cat", "8.063459:282:tiger cat"],
    "rocket.png": ["7.336833:657:missile", "6.719066:744:projectile", "5.226316:812:space shuttle"],
}


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
