"""ONNX models served for real on the local profile, through the generated python-backend
layer (services/triton/frameworks.py), with Triton's semantics; what cannot be served is
refused before the server starts, in one line.

The model files are built here with `onnx.helper`: nothing is downloaded."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from services.errors import UserError
from services.triton.frameworks import SIDECAR, repository_serving, served_repository
from services.triton.runtime import TritonServer, prepare_runtime
from tests.helpers import DEMO, EXPECTED_TOP3, imagenet_normalized, sequence_batching
from tui.cli import main

onnx = pytest.importorskip("onnx")
helper = onnx.helper
TensorProto = onnx.TensorProto


def save_model(path: Path, nodes: list, inputs: list, outputs: list) -> None:
    graph = helper.make_graph(nodes, "g", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what the installed onnxruntime reads
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def add_sub_model(path: Path, element: int, batch: str | int = "batch", width: int = 16) -> None:
    """The tutorial's `simple`: OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1."""
    shape = [batch, width]
    tensors = [helper.make_tensor_value_info(name, element, shape) for name in ("INPUT0", "INPUT1")]
    results = [helper.make_tensor_value_info(name, element, shape) for name in ("OUTPUT0", "OUTPUT1")]
    nodes = [helper.make_node("Add", ["INPUT0", "INPUT1"], ["OUTPUT0"]), helper.make_node("Sub", ["INPUT0", "INPUT1"], ["OUTPUT1"])]
    save_model(path, nodes, tensors, results)


def config(name: str, body: str, platform: str = 'platform: "onnxruntime_onnx"') -> str:
    return f'name: "{name}"\n{platform}\n{body}\n'


SIMPLE_IO = """
input [ { name: "INPUT0" data_type: TYPE_%(t)s dims: [ 16 ] }, { name: "INPUT1" data_type: TYPE_%(t)s dims: [ 16 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_%(t)s dims: [ 16 ] }, { name: "OUTPUT1" data_type: TYPE_%(t)s dims: [ 16 ] } ]
"""


def framework_repository(root: Path) -> Path:
    """Python, ONNX (with and without a config, batched, INT8, BYTES) and an ensemble side by side."""
    repository = root / "model_repository"
    shutil.copytree(DEMO / "model_repository" / "efficientnet_lite0", repository / "efficientnet_lite0")
    classifier = repository / "efficientnet_onnx"
    (classifier / "1").mkdir(parents=True)
    shutil.copy(DEMO / "model_repository" / "efficientnet_lite0" / "1" / "model.onnx", classifier / "1" / "model.onnx")
    shutil.copy(DEMO / "model_repository" / "efficientnet_lite0" / "labels.txt", classifier / "labels.txt")
    demo_config = (DEMO / "model_repository" / "efficientnet_lite0" / "config.pbtxt").read_text()
    (classifier / "config.pbtxt").write_text(demo_config.replace('"efficientnet_lite0"', '"efficientnet_onnx"').replace('backend: "python"', 'platform: "onnxruntime_onnx"'))

    add_sub_model(repository / "simple_batched" / "1" / "model.onnx", TensorProto.INT32)
    batching = "max_batch_size: 8\ndynamic_batching { max_queue_delay_microseconds: 50000 }\n" + SIMPLE_IO % {"t": "INT32"}
    (repository / "simple_batched" / "config.pbtxt").write_text(config("simple_batched", batching))

    add_sub_model(repository / "simple_int8" / "1" / "model.onnx", TensorProto.INT8, batch=1)
    (repository / "simple_int8" / "config.pbtxt").write_text(config("simple_int8", "max_batch_size: 1\n" + SIMPLE_IO % {"t": "INT8"}))

    add_sub_model(repository / "no_config" / "1" / "model.onnx", TensorProto.FLOAT16)  # auto-completed

    strings = repository / "strings"
    identity = [helper.make_node("Identity", ["TEXT"], ["ECHO"])]
    save_model(strings / "3" / "model.onnx", identity, [helper.make_tensor_value_info("TEXT", TensorProto.STRING, [2])], [helper.make_tensor_value_info("ECHO", TensorProto.STRING, [2])])
    io_body = 'backend: "onnxruntime"\ndefault_model_filename: "model.onnx"\ninput [ { name: "TEXT" data_type: TYPE_STRING dims: [ 2 ] } ]\noutput [ { name: "ECHO" data_type: TYPE_STRING dims: [ 2 ] } ]'
    (strings / "config.pbtxt").write_text(config("strings", io_body, platform=""))
    return repository


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TritonServer, Path, Path]]:
    scratch = tmp_path_factory.mktemp("frameworks")
    source = framework_repository(scratch)
    before = sorted((str(p.relative_to(source)), p.stat().st_mtime_ns) for p in source.rglob("*"))
    lines: list[str] = []
    served = served_repository(source, scratch / "job" / "served-repository", lines.append)
    assert served != source and any("efficientnet_onnx" in line and "onnxruntime" in line for line in lines)
    assert sorted((str(p.relative_to(source)), p.stat().st_mtime_ns) for p in source.rglob("*")) == before  # the user's files untouched
    with TritonServer(prepare_runtime(scratch / "cache"), served, scratch / "server.log").running() as triton:
        yield triton, source, served


def http_client(triton: TritonServer):  # type: ignore[no-untyped-def]
    import tritonclient.http as httpclient

    return httpclient, httpclient.InferenceServerClient(f"127.0.0.1:{triton.ports.http}", concurrency=8)


@pytest.mark.parametrize("image", sorted(EXPECTED_TOP3))
def test_the_onnx_classifier_answers_the_top3_of_the_python_demo_model(server: tuple[TritonServer, Path, Path], image: str) -> None:
    import tritonclient.grpc as grpcclient

    triton = server[0]
    client = grpcclient.InferenceServerClient(f"127.0.0.1:{triton.ports.grpc}")
    batch = imagenet_normalized(DEMO / "samples" / image)[None]
    answers = []
    for model in ("efficientnet_lite0", "efficientnet_onnx"):
        tensor = grpcclient.InferInput("input", list(batch.shape), "FP32")
        tensor.set_data_from_numpy(batch)
        answer = client.infer(model, [tensor], outputs=[grpcclient.InferRequestedOutput("logits", class_count=3)])
        answers.append([value.decode() for value in answer.as_numpy("logits")[0]])
    client.close()
    assert answers[0] == answers[1] == EXPECTED_TOP3[image]


def test_dynamic_batching_runs_concurrent_requests_as_one_batch(server: tuple[TritonServer, Path, Path]) -> None:
    httpclient, client = http_client(server[0])
    chooser = np.random.default_rng(7)
    pairs = [(chooser.integers(-1000, 1000, (1, 16), dtype=np.int32), chooser.integers(-1000, 1000, (1, 16), dtype=np.int32)) for _ in range(16)]
    results: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    pending = []
    for first, second in pairs:  # all in flight at once (tritonclient's own greenlets: one client is not for threads)
        tensors = [httpclient.InferInput("INPUT0", [1, 16], "INT32"), httpclient.InferInput("INPUT1", [1, 16], "INT32")]
        tensors[0].set_data_from_numpy(first)
        tensors[1].set_data_from_numpy(second)
        pending.append(client.async_infer("simple_batched", tensors))
    for index, request in enumerate(pending):
        answer = request.get_result(timeout=30)
        results[index] = (answer.as_numpy("OUTPUT0"), answer.as_numpy("OUTPUT1"))
    for index, (first, second) in enumerate(pairs):
        assert np.array_equal(results[index][0], first + second) and np.array_equal(results[index][1], first - second)
    stats = client.get_inference_statistics("simple_batched")["model_stats"][0]
    client.close()
    assert int(stats["inference_count"]) == 16 and int(stats["execution_count"]) < 16  # batches of more than one
    assert any(int(item["batch_size"]) > 1 for item in stats["batch_stats"])


def test_int8_and_strings_keep_their_types(server: tuple[TritonServer, Path, Path]) -> None:
    httpclient, client = http_client(server[0])
    first, second = np.arange(16, dtype=np.int8)[None], np.full((1, 16), 3, dtype=np.int8)
    tensors = [httpclient.InferInput("INPUT0", [1, 16], "INT8"), httpclient.InferInput("INPUT1", [1, 16], "INT8")]
    tensors[0].set_data_from_numpy(first)
    tensors[1].set_data_from_numpy(second)
    answer = client.infer("simple_int8", tensors)
    assert answer.as_numpy("OUTPUT0").dtype == np.int8 and np.array_equal(answer.as_numpy("OUTPUT1"), first - second)
    text = httpclient.InferInput("TEXT", [2], "BYTES")
    text.set_data_from_numpy(np.array(["espresso ☕".encode(), b"tea"], dtype=np.object_))
    echoed = client.infer("strings", [text], model_version="3").as_numpy("ECHO")
    client.close()
    assert list(echoed) == ["espresso ☕".encode(), b"tea"]


def test_a_model_without_config_is_auto_completed_as_triton_does(server: tuple[TritonServer, Path, Path]) -> None:
    httpclient, client = http_client(server[0])
    completed = client.get_model_config("no_config")
    assert completed["max_batch_size"] == 4 and "dynamic_batching" in completed
    assert [(item["name"], item["data_type"], item["dims"]) for item in completed["input"]] == [("INPUT0", "TYPE_FP16", [16]), ("INPUT1", "TYPE_FP16", [16])]
    halves = np.linspace(0, 1, 32, dtype=np.float16).reshape(2, 16)
    tensors = [httpclient.InferInput("INPUT0", [2, 16], "FP16"), httpclient.InferInput("INPUT1", [2, 16], "FP16")]
    tensors[0].set_data_from_numpy(halves)
    tensors[1].set_data_from_numpy(halves)
    answer = client.infer("no_config", tensors)
    client.close()
    assert answer.as_numpy("OUTPUT0").dtype == np.float16 and np.array_equal(answer.as_numpy("OUTPUT0"), halves + halves)


def test_a_shape_mismatch_is_the_requests_own_one_line_error(server: tuple[TritonServer, Path, Path]) -> None:
    from tritonclient.utils import InferenceServerException

    httpclient, client = http_client(server[0])
    tensors = [httpclient.InferInput("TEXT", [3], "BYTES")]
    tensors[0].set_data_from_numpy(np.array([b"a", b"b", b"c"], dtype=np.object_))
    with pytest.raises(InferenceServerException) as refused:
        client.infer("strings", tensors)
    assert "TEXT" in str(refused.value) and "\n" not in str(refused.value)
    assert client.is_model_ready("strings")  # the model survives a bad request
    client.close()


def test_the_generated_repository_links_to_the_users_files(server: tuple[TritonServer, Path, Path]) -> None:
    _, source, served = server
    assert (served / "efficientnet_lite0").resolve() == source / "efficientnet_lite0"
    assert (served / "efficientnet_onnx" / "1" / "model.onnx").resolve() == source / "efficientnet_onnx" / "1" / "model.onnx"
    assert (served / "efficientnet_onnx" / "labels.txt").is_symlink() and (served / "strings" / "3" / SIDECAR).is_file()
    assert not (source / "efficientnet_onnx" / "1" / "model.py").exists()


def unsupported_repository(root: Path) -> Path:
    repository = root / "mixed"
    shutil.copytree(DEMO / "model_repository" / "simple", repository / "simple")
    add_sub_model(repository / "simple_onnx" / "1" / "model.onnx", TensorProto.INT32)
    (repository / "simple_onnx" / "config.pbtxt").write_text(config("simple_onnx", "max_batch_size: 8\n" + SIMPLE_IO % {"t": "INT32"}))
    (repository / "resnet_trt" / "1").mkdir(parents=True)
    (repository / "resnet_trt" / "1" / "model.plan").write_bytes(b"\x00plan")
    (repository / "resnet_trt" / "config.pbtxt").write_text(config("resnet_trt", "max_batch_size: 8", platform='platform: "tensorrt_plan"'))
    return repository


def test_a_tensorrt_plan_is_refused_before_the_server_starts_and_named_by_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repository = unsupported_repository(tmp_path)
    with pytest.raises(UserError) as refused:
        served_repository(repository, tmp_path / "served", lambda _line: None)
    assert refused.value.message == (
        "model 'resnet_trt' cannot be served locally: a TensorRT plan needs an NVIDIA GPU: it runs on an OVHcloud GPU job, not on the local profile"
    )
    assert not (tmp_path / "served").exists()
    local = {serving.model: serving for serving in repository_serving(repository, "local")}
    assert local["simple"].servable and local["simple_onnx"].servable and not local["resnet_trt"].servable
    remote = repository_serving(repository, "ovhcloud")
    assert all(serving.servable for serving in remote)
    out = io.StringIO()
    assert main(["repo", "validate", str(repository), "--target", "local"], env={}, out=out) == 1
    text = out.getvalue()
    assert "resnet_trt: cannot be served locally: a TensorRT plan needs an NVIDIA GPU" in text
    assert "simple_onnx: served locally through onnxruntime" in text and "simple: served locally by the python backend" in text
    out = io.StringIO()
    assert main(["repo", "validate", str(repository), "--target", "ovhcloud"], env={}, out=out) == 0
    assert "resnet_trt: served on the GPU job by Triton's tensorrt_plan backend" in out.getvalue()


def test_an_ensemble_is_servable_only_when_its_steps_are(tmp_path: Path) -> None:
    repository = unsupported_repository(tmp_path)
    for name, step in (("pipeline_ok", "simple_onnx"), ("pipeline_trt", "resnet_trt"), ("pipeline_gone", "nosuch")):
        (repository / name / "1").mkdir(parents=True)
        steps = f'ensemble_scheduling {{ step [ {{ model_name: "{step}" model_version: -1 }} ] }}'
        (repository / name / "config.pbtxt").write_text(config(name, steps, platform='platform: "ensemble"'))
    local = {serving.model: serving for serving in repository_serving(repository, "local")}
    assert local["pipeline_ok"].servable
    assert local["pipeline_trt"].line == "its step 'resnet_trt' cannot be served locally"
    assert local["pipeline_gone"].line == "its step 'nosuch' is not in the repository"


@pytest.mark.parametrize(("platform", "extra"), [("pytorch_libtorch", "torch"), ("tensorflow_graphdef", "tensorflow")])
def test_a_framework_without_its_extra_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: str, extra: str) -> None:
    from services.triton import frameworks

    monkeypatch.setattr(frameworks, "installed", lambda module: False)  # as on a machine without the extra
    (tmp_path / "repo" / "adder" / "1").mkdir(parents=True)
    (tmp_path / "repo" / "adder" / "1" / "model.pt").write_bytes(b"pt")
    (tmp_path / "repo" / "adder" / "config.pbtxt").write_text(config("adder", "max_batch_size: 8", platform=f'platform: "{platform}"'))
    with pytest.raises(UserError) as refused:
        served_repository(tmp_path / "repo", tmp_path / "served", lambda _line: None)
    assert refused.value.message.endswith(f"needs the {extra} extra locally: pip install 'triton-deck[{extra}]'")


def test_a_local_job_and_app_serve_an_onnx_repository_and_refuse_a_plan(tmp_path: Path) -> None:
    """The user's own ONNX model, uploaded and served by `job run` and `app run` on the local
    profile, answers `infer`; a repository holding a TensorRT plan fails before the server
    starts, with the reason on the job."""
    import json
    import time

    from services.apps.local import LocalAppPlatform
    from services.apps.protocol import AppSpec, AppState, FixedScaling, Probe
    from services.cancel import CancelToken
    from services.jobs.local import LocalJobPlatform
    from services.jobs.protocol import JobSpec, JobState, VolumeSpec
    from services.storage.local import LocalObjectStore
    from services.storage.planning import plan_upload
    from services.storage.protocol import BucketRef, UploadOptions

    repository = unsupported_repository(tmp_path)
    store = LocalObjectStore()
    for name, models in (("mine", ["simple_onnx"]), ("mixed", ["simple_onnx", "resnet_trt"])):
        bucket = BucketRef(name, "LOCAL")
        store.create_bucket(bucket)
        items = [item for model in models for item in plan_upload([str(repository / model)], str(repository) + "/")]
        assert store.upload(bucket, items, UploadOptions(), lambda _p: None, CancelToken()).ok

    def spec(bucket: str) -> JobSpec:
        volume = (VolumeSpec(bucket, "LOCAL", "/workspace/models", "RO"),)
        return JobSpec(image="local/tritonserver", command=("bash", "-c", "tritonserver --model-repository=/workspace/models"), gpu=0, cpu=1, unsecure_http=True, volumes=volume)

    def wait(get, done, timeout: float = 90):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while not done(item := get()) and time.monotonic() < deadline:
            time.sleep(0.2)
        return item

    jobs, apps = LocalJobPlatform(), LocalAppPlatform()
    served = jobs.run(spec("mine"))
    refused = jobs.run(spec("mixed"))
    app = apps.run(AppSpec(image="local/tritonserver", command=spec("mine").command, name="onnx", unsecure_http=True, volumes=spec("mine").volumes,
                           probe=Probe("/v2/health/ready", 8000), scaling=FixedScaling(1)))  # fmt: skip
    try:
        failed = wait(lambda: jobs.get(refused.id), lambda job: job.state.is_terminal)
        assert failed.state is JobState.FAILED and failed.info_message == (
            "model 'resnet_trt' cannot be served locally: a TensorRT plan needs an NVIDIA GPU: it runs on an OVHcloud GPU job, not on the local profile"
        )
        running = wait(lambda: jobs.get(served.id), lambda job: job.state.is_terminal or job.state is JobState.RUNNING)
        assert running.state is JobState.RUNNING and running.url
        ready = wait(lambda: apps.get(app.id), lambda a: a.state in (AppState.RUNNING, AppState.FAILED))
        assert ready.state is AppState.RUNNING, ready.info_message
        ones = "[" + ",".join(["1"] * 16) + "]"
        for url in (running.url, ready.url):
            deadline = time.monotonic() + 60
            while True:
                out = io.StringIO()
                code = main(["infer", "-u", str(url), "-m", "simple_onnx", "--input", f"INPUT0={ones}", "--input", f"INPUT1={ones}", "-o", "json"], env={}, out=out)
                if code == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert code == 0, url
            assert json.loads(out.getvalue())["outputs"][0]["data"] == [2] * 16
        assert "model 'simple_onnx': served locally through onnxruntime" in "".join(jobs.logs(served.id))
    finally:
        for job_id in (served.id, refused.id):
            jobs.delete(job_id, force=True)
        apps.delete(app.id, force=True)


SEQUENCE_CONFIG = 'name: "seq_onnx"\nplatform: "onnxruntime_onnx"\n' + sequence_batching("fp32", "FP32", max_batch_size=4)


def test_sequence_batching_delivers_the_control_inputs_as_the_real_backend_does(tmp_path: Path) -> None:
    """OUTPUT = INPUT·READY + 1000·START + 100·END + CORRID, run by onnxruntime on what Triton's
    sequence batcher hands the model: two sequences interleaved answer what the framework
    computes on the control values a GPU server's onnxruntime backend would get."""
    import tritonclient.grpc as grpcclient

    nodes = [
        helper.make_node("Mul", ["INPUT", "READY"], ["ready_input"]),
        helper.make_node("Mul", ["START", "k1000"], ["start_part"]),
        helper.make_node("Mul", ["END", "k100"], ["end_part"]),
        helper.make_node("Cast", ["CORRID"], ["corrid_float"], to=TensorProto.FLOAT),
        helper.make_node("Sum", ["ready_input", "start_part", "end_part", "corrid_float"], ["OUTPUT"]),
    ]
    graph = helper.make_graph(
        nodes, "seq",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", 1]) for name in ("INPUT", "START", "END", "READY")]
        + [helper.make_tensor_value_info("CORRID", TensorProto.UINT64, ["batch", 1])],
        [helper.make_tensor_value_info("OUTPUT", TensorProto.FLOAT, ["batch", 1])],
        initializer=[helper.make_tensor("k1000", TensorProto.FLOAT, [], [1000.0]), helper.make_tensor("k100", TensorProto.FLOAT, [], [100.0])],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    (tmp_path / "repo" / "seq_onnx" / "1").mkdir(parents=True)
    onnx.save(model, str(tmp_path / "repo" / "seq_onnx" / "1" / "model.onnx"))
    (tmp_path / "repo" / "seq_onnx" / "config.pbtxt").write_text(SEQUENCE_CONFIG)
    served = served_repository(tmp_path / "repo", tmp_path / "served", lambda _line: None)
    with TritonServer(prepare_runtime(tmp_path / "cache"), served, tmp_path / "server.log").running() as triton:
        client = grpcclient.InferenceServerClient(f"127.0.0.1:{triton.ports.grpc}")
        sequences = {11: [1.0, 2.0, 3.0], 22: [10.0, 20.0, 30.0]}
        answers: dict[int, list[float]] = {11: [], 22: []}
        for step in range(3):
            for corrid, values in sequences.items():
                tensor = grpcclient.InferInput("INPUT", [1, 1], "FP32")
                tensor.set_data_from_numpy(np.array([[values[step]]], dtype=np.float32))
                answer = client.infer("seq_onnx", [tensor], sequence_id=corrid, sequence_start=step == 0, sequence_end=step == 2)
                answers[corrid].append(float(answer.as_numpy("OUTPUT")[0][0]))
        client.close()
    for corrid, values in sequences.items():
        expected = [value + 1000 * (step == 0) + 100 * (step == 2) + corrid for step, value in enumerate(values)]
        assert answers[corrid] == expected, (corrid, answers[corrid])


def test_a_broken_onnx_file_fails_the_server_with_a_one_line_reason(tmp_path: Path) -> None:
    """As on a GPU server (Triton exits when a model fails to load): the reason the job or app
    shows is onnxruntime's, on one line, not the python stub's traceback."""
    import subprocess

    model = tmp_path / "repo" / "broken"
    (model / "1").mkdir(parents=True)
    (model / "1" / "model.onnx").write_bytes(b"this is not an onnx file")
    (model / "config.pbtxt").write_text(config("broken", "max_batch_size: 8\n" + SIMPLE_IO % {"t": "INT32"}))
    served = served_repository(tmp_path / "repo", tmp_path / "served", lambda _line: None)
    server = TritonServer(prepare_runtime(tmp_path / "cache"), served, tmp_path / "server.log")
    runtime = server.runtime
    with (tmp_path / "server.log").open("wb") as log:
        process = subprocess.Popen(server.command(), stdout=log, stderr=subprocess.STDOUT, env=runtime.environment())
        try:
            process.wait(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
    reason = server.log_tail()
    assert process.returncode != 0 and "onnxruntime cannot load model.onnx" in reason and "Traceback" not in reason and "\n" not in reason, reason


def test_a_default_model_filename_that_leads_out_of_the_version_directory_is_refused(tmp_path: Path) -> None:
    """Confinement: the generated model opens its file inside the version directory, never `../..`."""
    add_sub_model(tmp_path / "repo" / "escape" / "1" / "model.onnx", TensorProto.INT32)
    body = 'default_model_filename: "../../../outside.onnx"\nmax_batch_size: 8\n' + SIMPLE_IO % {"t": "INT32"}
    (tmp_path / "repo" / "escape" / "config.pbtxt").write_text(config("escape", body))
    with pytest.raises(UserError) as refused:
        served_repository(tmp_path / "repo", tmp_path / "served", lambda _line: None)
    assert refused.value.message == "model 'escape': default_model_filename '../../../outside.onnx' must be a file name in the version directory, not a path"
