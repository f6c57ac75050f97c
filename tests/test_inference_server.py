"""TritonInferenceClient and the health/classify commands against a real local tritonserver.

The server holds the demo repository plus a copy of the classifier without its labels file.
Every scaling mode is checked against a reference preprocessing written here from
triton-client.md §1 (not imported from the code under test) and sent with raw tritonclient.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from services.errors import UserError
from services.inference.protocol import ClassifyRequest, Endpoint, Scaling, Transport, image_files
from services.inference.triton import TritonInferenceClient
from services.ports import free_port
from services.secrets import Secret
from services.triton.runtime import TritonServer, prepare_runtime
from tests.auth_proxy import AuthProxy
from tui.cli import main

DEMO = Path(__file__).resolve().parent.parent / "demo"
SAMPLES = DEMO / "samples"
MODEL = "efficientnet_lite0"
# `classify -s INCEPTION` on the shipped photos, recorded from the demo server (Triton 2.51, onnxruntime CPU).
RECORDED_INCEPTION_TOP3 = {
    "chelsea.png": ["10.530498:285:Egyptian Mau", "8.326909:282:tiger cat", "8.103220:281:tabby cat"],
    "coffee.png": ["10.768552:967:espresso", "7.385727:968:tea cup", "6.528270:504:coffee mug"],
    "rocket.png": ["7.801931:540:drilling rig", "6.553446:657:missile", "5.995908:744:projectile"],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonServer]:
    scratch = tmp_path_factory.mktemp("inference")
    repository = scratch / "models"
    shutil.copytree(DEMO / "model_repository", repository, ignore=shutil.ignore_patterns("__pycache__"))
    unlabelled = repository / "unlabelled"
    (unlabelled / "1").mkdir(parents=True)
    (unlabelled / "1" / "model.onnx").symlink_to(repository / MODEL / "1" / "model.onnx")
    shutil.copy(repository / MODEL / "1" / "model.py", unlabelled / "1" / "model.py")
    config = (repository / MODEL / "config.pbtxt").read_text().replace(f'"{MODEL}"', '"unlabelled"').replace('label_filename: "labels.txt"', "")
    (unlabelled / "config.pbtxt").write_text(config)
    with TritonServer(prepare_runtime(scratch / "cache"), repository, scratch / "server.log").running() as triton:
        yield triton


def client_for(server: TritonServer, transport: Transport, **options: float) -> TritonInferenceClient:
    port = server.ports.http if transport is Transport.HTTP else server.ports.grpc
    return TritonInferenceClient(Endpoint(f"127.0.0.1:{port}", transport), **options)


def strings(result_classes: tuple) -> list[str]:  # type: ignore[type-arg]
    return [f"{c.score}:{c.index}" + (f":{c.label}" if c.label is not None else "") for c in result_classes]


def reference_preprocess(path: Path, scaling: str) -> np.ndarray:
    """image_client's preprocess for a 3-channel FP32 NCHW 224x224 input, per triton-client.md §1."""
    from PIL import Image

    pixels = np.array(Image.open(path).convert("RGB").resize((224, 224), Image.BILINEAR)).astype(np.float32)
    if scaling == "INCEPTION":
        pixels = (pixels / 127.5) - 1
    elif scaling == "VGG":
        pixels = pixels - np.asarray((123, 117, 104), dtype=np.float32)
    return np.transpose(pixels, (2, 0, 1))


def raw_top3(server: TritonServer, transport: Transport, tensor: np.ndarray) -> list[str]:
    if transport is Transport.HTTP:
        import tritonclient.http as module

        client = module.InferenceServerClient(f"127.0.0.1:{server.ports.http}")
    else:
        import tritonclient.grpc as module  # type: ignore[no-redef]

        client = module.InferenceServerClient(f"127.0.0.1:{server.ports.grpc}")
    batch = tensor[np.newaxis]
    tensor_input = module.InferInput("input", list(batch.shape), "FP32")
    tensor_input.set_data_from_numpy(batch)
    answer = client.infer(MODEL, [tensor_input], outputs=[module.InferRequestedOutput("logits", class_count=3)])
    client.close()
    return [value.decode() for value in answer.as_numpy("logits")[0]]


def cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), env={}, out=out)
    return code, out.getvalue()


@pytest.mark.parametrize("transport", list(Transport))
def test_the_samples_give_the_recorded_top3(server: TritonServer, transport: Transport) -> None:
    client = client_for(server, transport)
    request = ClassifyRequest(MODEL, tuple(image_files([SAMPLES])), top_k=3, scaling=Scaling.INCEPTION)
    results = list(client.classify(request))
    client.close()
    assert {Path(r.image).name: strings(r.classes) for r in results} == RECORDED_INCEPTION_TOP3
    assert [r.request for r in results] == [0, 1, 2] and all(r.latency_ms and r.latency_ms > 0 for r in results)


@pytest.mark.parametrize("scaling", list(Scaling))
@pytest.mark.parametrize("transport", list(Transport))
def test_every_scaling_mode_matches_the_reference_preprocessing(server: TritonServer, transport: Transport, scaling: Scaling) -> None:
    client = client_for(server, transport)
    for image in sorted(RECORDED_INCEPTION_TOP3):
        (result,) = client.classify(ClassifyRequest(MODEL, (SAMPLES / image,), top_k=3, scaling=scaling))
        assert strings(result.classes) == raw_top3(server, transport, reference_preprocess(SAMPLES / image, scaling.value)), image
    client.close()


def test_batches_and_concurrent_requests_answer_like_one_at_a_time(server: TritonServer) -> None:
    images = tuple(sorted(SAMPLES.glob("*.png"))) * 3
    client = client_for(server, Transport.HTTP)
    single = [strings(r.classes) for r in client.classify(ClassifyRequest(MODEL, images, scaling=Scaling.INCEPTION))]
    batched = list(client.classify(ClassifyRequest(MODEL, images, scaling=Scaling.INCEPTION, batch_size=4)))
    concurrent = list(client.classify(ClassifyRequest(MODEL, images, scaling=Scaling.INCEPTION, concurrency=4)))
    client.close()
    assert [strings(r.classes) for r in concurrent] == single
    assert [r.request for r in concurrent] == list(range(9))
    # 9 images in batches of 4: the last batch is filled by cycling back to the first images
    assert [r.request for r in batched] == [0] * 4 + [1] * 4 + [2] * 4
    assert [strings(r.classes) for r in batched] == (single + single[:3])
    assert {r.batch_size for r in batched} == {4}


def test_health_metadata_and_the_repository_index(server: TritonServer) -> None:
    for transport in Transport:
        client = client_for(server, transport)
        health = client.health()
        assert health.live and health.ready and health.latency_ms > 0
        metadata = client.server_metadata()
        assert metadata.version == "2.51.0" and "classification" in metadata.extensions
        assert [(m.name, m.state) for m in client.model_index()] == [(MODEL, "READY"), ("simple", "READY"), ("unlabelled", "READY")]
        model = client.model_metadata(MODEL)
        assert model.inputs[0].shape == (-1, 3, 224, 224) and model.outputs[0].name == "logits"
        assert client.model_config(MODEL)["max_batch_size"] == 8
        client.close()


def test_a_model_without_labels_gives_score_and_index_only(server: TritonServer) -> None:
    code, out = cli("classify", "-m", "unlabelled", "-s", "INCEPTION", "-u", f"127.0.0.1:{server.ports.http}", str(SAMPLES / "coffee.png"))
    assert code == 0
    assert out.splitlines()[2:] == ["    10.768552 (967)", "    7.385727 (968)", "    6.528270 (504)"]


def test_classify_prints_the_tutorials_format(server: TritonServer) -> None:
    image = SAMPLES / "coffee.png"
    code, out = cli("classify", "-m", MODEL, "-c", "3", "-s", "INCEPTION", "-u", f"127.0.0.1:{server.ports.http}", str(image))
    assert code == 0
    assert out == (
        f"Request 0, batch size 1\nImage '{image}':\n    10.768552 (967) = espresso\n    7.385727 (968) = tea cup\n    6.528270 (504) = coffee mug\n"
    )
    code, out = cli("classify", "-m", MODEL, "-s", "inception", "-i", "GRPC", "-u", f"127.0.0.1:{server.ports.grpc}", "-c", "1", "-o", "json", str(image))
    assert code == 0
    assert json.loads(out) == [
        {"image": str(image), "request": 0, "error": None, "latencyMs": json.loads(out)[0]["latencyMs"], "classes": [{"score": 10.768552, "index": 967, "label": "espresso"}]}
    ]


def test_health_command_lists_models_and_exits_zero_when_ready(server: TritonServer) -> None:
    code, out = cli("health", "-u", f"http://127.0.0.1:{server.ports.http}")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"endpoint    http://127.0.0.1:{server.ports.http} (-u)"
    assert lines[1:3] == ["live        yes", lines[2]] and lines[2].startswith("ready       yes (")
    assert lines[3] == "server      triton 2.51.0"
    assert lines[-3:] == [f"{MODEL}  1        READY", "simple              1        READY", "unlabelled          1        READY"]


def test_an_unreadable_image_fails_alone_and_the_run_goes_on(server: TritonServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(SAMPLES / "coffee.png", folder / "b-coffee.png")
    (folder / "a-notes.txt").write_text("not a picture")
    code, out = cli("classify", "-m", MODEL, "-s", "INCEPTION", "-u", f"127.0.0.1:{server.ports.http}", str(folder))
    assert code == 1
    assert f"Image '{folder / 'b-coffee.png'}':\n    10.768552 (967) = espresso" in out
    assert capsys.readouterr().err.strip() == f"triton-deck: image '{folder / 'a-notes.txt'}': not an image file PIL can read: pass JPEG, PNG or another picture"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-m", "nope"], "model 'nope' is not in the repository of http://127.0.0.1:{http} (it has: efficientnet_lite0, simple, unlabelled): check -m"),
        (["-m", MODEL, "-x", "7"], "model 'efficientnet_lite0' version 7 is not in the repository (versions: 1): check -x"),
        (["-m", "simple"], "model 'simple' is not an image classifier: expecting 1 input, got 2"),
        (["-m", MODEL, "-b", "9"], "batch size 9 is above model 'efficientnet_lite0' max_batch_size 8: use -b 8 or less"),
        (["-m", MODEL, "-c", "0"], "class count 0 is not valid: use 1 or more (-c)"),
        (["-m", MODEL, "-u", "127.0.0.1:{grpc}"], "http://127.0.0.1:{grpc} did not answer as a Triton HTTP server: is {grpc} the HTTP port (8000 by default) and not the gRPC one?"),
        (["-m", MODEL, "-i", "grpc", "-u", "127.0.0.1:{http}"], "grpc://127.0.0.1:{http} did not answer as a Triton gRPC server: is {http} the gRPC port (8001 by default) and not the HTTP one?"),
        (["-m", MODEL, "-u", "127.0.0.1:{closed}"], "nothing listens on 127.0.0.1:{closed} (http://127.0.0.1:{closed}): is the server job RUNNING? is {closed} the HTTP port (8000 by default) and not the gRPC one?"),
        (["-m", MODEL, "-i", "grpc", "-u", "127.0.0.1:{closed}"], "nothing listens on 127.0.0.1:{closed} (grpc://127.0.0.1:{closed}): is the server job RUNNING? is {closed} the gRPC port (8001 by default) and not the HTTP one?"),
        (["-m", MODEL, "-u", "https://127.0.0.1:{http}"], "TLS handshake with 127.0.0.1:{http} failed"),
        (["-m", MODEL, "-u", "no-such-host.invalid:8000"], "cannot resolve host 'no-such-host.invalid'"),
    ],
)
def test_each_failure_is_one_clear_line(server: TritonServer, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    ports = {"http": server.ports.http, "grpc": server.ports.grpc, "closed": free_port()}
    argv = [arg.format(**ports) for arg in argv]
    if "-u" not in argv:
        argv += ["-u", f"127.0.0.1:{server.ports.http}"]
    code, out = cli("classify", *argv, str(SAMPLES / "coffee.png"))
    err = capsys.readouterr().err
    assert (code, out) == (1, "")
    assert err.startswith(f"triton-deck: {message.format(**ports)}") and err.count("\n") == 1, err


def test_a_stopped_server_is_named_as_such(server: TritonServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    second = TritonServer(server.runtime, DEMO / "model_repository", tmp_path / "second.log", extra_args=("--model-control-mode=explicit",))
    with second.running():
        assert cli("health", "-u", f"127.0.0.1:{second.ports.http}")[0] == 0
    for transport in Transport:
        port = second.ports.http if transport is Transport.HTTP else second.ports.grpc
        with pytest.raises(UserError, match=f"nothing listens on 127.0.0.1:{port}"):
            TritonInferenceClient(Endpoint(f"127.0.0.1:{port}", transport)).health()


def test_a_proxy_401_says_a_token_is_needed_and_the_token_gets_through(server: TritonServer, capsys: pytest.CaptureFixture[str]) -> None:
    token = "proxy-token-4f7a9c"
    with AuthProxy(server.ports.http, token) as proxy:
        url = f"http://127.0.0.1:{proxy.port}"
        code, _ = cli("health", "-u", url)
        err = capsys.readouterr().err
        assert code == 1 and err.startswith(f"triton-deck: HTTP 401 from {url}: the endpoint wants the AI token"), err
        with pytest.raises(UserError, match="HTTP 401"):
            list(TritonInferenceClient(Endpoint(url)).classify(ClassifyRequest(MODEL, (SAMPLES / "coffee.png",))))
        authorised = TritonInferenceClient(Endpoint(url, Transport.HTTP, Secret(token)))
        assert authorised.health().ready
        (result,) = authorised.classify(ClassifyRequest(MODEL, (SAMPLES / "coffee.png",), scaling=Scaling.INCEPTION))
        assert strings(result.classes) == RECORDED_INCEPTION_TOP3["coffee.png"]
        wrong = TritonInferenceClient(Endpoint(url, Transport.HTTP, Secret("wrong-token-000")))
        with pytest.raises(UserError) as failure:
            wrong.health()
        assert "HTTP 401" in failure.value.message and "wrong-token-000" not in failure.value.message
        assert proxy.rejected >= 3
