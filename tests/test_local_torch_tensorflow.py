"""TorchScript and TensorFlow (GraphDef and SavedModel) models served for real on the local
profile through the generated python-backend layer, with the semantics of Triton's libtorch
and TensorFlow backends: the tutorial's `simple` add/sub, its string twin, and a sequence
model computing on the control inputs the sequence batcher delivers.

The model files are built here with the frameworks themselves: nothing is downloaded. The
frameworks are the optional extras `triton-deck[torch]` and `triton-deck[tensorflow]`; CI
installs them and sets TRITON_DECK_TEST_EXTRAS=required, which turns a missing one into a
failure instead of a skip."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from services.errors import UserError
from services.triton.frameworks import repository_serving, served_repository
from services.triton.runtime import TritonServer, prepare_runtime
from tests.helpers import sequence_batching


def framework(module: str) -> Any:
    if os.environ.get("TRITON_DECK_TEST_EXTRAS") == "required":
        return __import__(module)
    return pytest.importorskip(module)


# TorchScript is what Triton's libtorch backend loads, deprecated in torch or not.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
torch = framework("torch")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
tf = framework("tensorflow")

SIMPLE_IO = """
input [ { name: "%(i0)s" data_type: TYPE_%(t)s dims: [ 16 ] }, { name: "%(i1)s" data_type: TYPE_%(t)s dims: [ 16 ] } ]
output [ { name: "%(o0)s" data_type: TYPE_%(t)s dims: [ 16 ] }, { name: "%(o1)s" data_type: TYPE_%(t)s dims: [ 16 ] } ]
"""
NAMES = {"i0": "INPUT0", "i1": "INPUT1", "o0": "OUTPUT0", "o1": "OUTPUT1"}
TORCH_NAMES = {"i0": "INPUT__0", "i1": "INPUT__1", "o0": "OUTPUT__0", "o1": "OUTPUT__1"}  # libtorch's convention
SEQUENCE = sequence_batching("int32", "INT32", max_batch_size=2)


def write_config(model: Path, platform: str, body: str) -> None:
    model.mkdir(parents=True, exist_ok=True)
    (model / "config.pbtxt").write_text(f'name: "{model.name}"\nplatform: "{platform}"\n{body}\n')


class TorchSimple(torch.nn.Module):  # type: ignore[misc]
    def forward(self, first: torch.Tensor, second: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return first + second, first - second


class TorchStrings(torch.nn.Module):  # type: ignore[misc]
    def forward(self, first: list[str], second: list[str]) -> tuple[list[str], list[str]]:
        sums: list[str] = []
        differences: list[str] = []
        for index in range(len(first)):
            sums.append(str(int(first[index]) + int(second[index])))
            differences.append(str(int(first[index]) - int(second[index])))
        return sums, differences


class TorchDynaSequence(torch.nn.Module):  # type: ignore[misc]
    """simple_dyna_sequence's arithmetic: READY == 1 ? INPUT + START + END * CORRID : 0. Bound
    by argument name, in an order that is not the config's."""

    def forward(self, CORRID: torch.Tensor, READY: torch.Tensor, INPUT: torch.Tensor, END: torch.Tensor, START: torch.Tensor) -> torch.Tensor:  # noqa: N803 - the config's names
        total = INPUT.to(torch.int64) + START.to(torch.int64) + END.to(torch.int64) * CORRID.to(torch.int64)
        return torch.where(READY == 1, total, torch.zeros_like(total)).to(torch.int32)


def tf_graph(path: Path, build: Callable[[], None]) -> None:
    graph = tf.Graph()
    with graph.as_default():
        build()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(graph.as_graph_def().SerializeToString())


def tf_simple() -> None:
    first = tf.compat.v1.placeholder(tf.int32, [None, 16], name="INPUT0")
    second = tf.compat.v1.placeholder(tf.int32, [None, 16], name="INPUT1")
    tf.identity(first + second, name="OUTPUT0")
    tf.identity(first - second, name="OUTPUT1")


def tf_strings() -> None:
    """simple_string: the inputs are numbers written as strings, and so are the answers."""
    first = tf.strings.to_number(tf.compat.v1.placeholder(tf.string, [None, 16], name="INPUT0"), tf.int32)
    second = tf.strings.to_number(tf.compat.v1.placeholder(tf.string, [None, 16], name="INPUT1"), tf.int32)
    tf.identity(tf.strings.as_string(first + second), name="OUTPUT0")
    tf.identity(tf.strings.as_string(first - second), name="OUTPUT1")


def tf_dyna_sequence() -> None:
    values = {name: tf.compat.v1.placeholder(tf.int32, [None, 1], name=name) for name in ("INPUT", "START", "END", "READY")}
    corrid = tf.compat.v1.placeholder(tf.uint64, [None, 1], name="CORRID")
    total = values["INPUT"] + values["START"] + values["END"] * tf.cast(corrid, tf.int32)
    tf.identity(tf.where(tf.equal(values["READY"], 1), total, tf.zeros_like(total)), name="OUTPUT")


class TfSimple(tf.Module):  # type: ignore[misc]
    @tf.function(input_signature=[tf.TensorSpec([None, 16], tf.int32, name="INPUT0"), tf.TensorSpec([None, 16], tf.int32, name="INPUT1")])
    def serve(self, INPUT0: Any, INPUT1: Any) -> dict[str, Any]:  # noqa: N803 - the signature's keys
        return {"OUTPUT0": INPUT0 + INPUT1, "OUTPUT1": INPUT0 - INPUT1}


def build_repository(root: Path) -> Path:
    repository = root / "model_repository"
    batched = "max_batch_size: 8\ndynamic_batching { max_queue_delay_microseconds: 50000 }\n"
    write_config(repository / "torch_simple", "pytorch_libtorch", batched + SIMPLE_IO % {**TORCH_NAMES, "t": "INT32"})
    (repository / "torch_simple" / "1").mkdir()
    torch.jit.script(TorchSimple()).save(str(repository / "torch_simple" / "1" / "model.pt"))
    write_config(repository / "torch_string", "pytorch_libtorch", "max_batch_size: 0\n" + SIMPLE_IO % {**TORCH_NAMES, "t": "STRING"})
    (repository / "torch_string" / "1").mkdir()
    torch.jit.script(TorchStrings()).save(str(repository / "torch_string" / "1" / "model.pt"))
    write_config(repository / "torch_dyna_sequence", "pytorch_libtorch", SEQUENCE)
    (repository / "torch_dyna_sequence" / "1").mkdir()
    torch.jit.script(TorchDynaSequence()).save(str(repository / "torch_dyna_sequence" / "1" / "model.pt"))

    write_config(repository / "graphdef_simple", "tensorflow_graphdef", batched + SIMPLE_IO % {**NAMES, "t": "INT32"})
    tf_graph(repository / "graphdef_simple" / "1" / "model.graphdef", tf_simple)
    write_config(repository / "graphdef_string", "tensorflow_graphdef", "max_batch_size: 8\n" + SIMPLE_IO % {**NAMES, "t": "STRING"})
    tf_graph(repository / "graphdef_string" / "1" / "model.graphdef", tf_strings)
    write_config(repository / "graphdef_dyna_sequence", "tensorflow_graphdef", SEQUENCE)
    tf_graph(repository / "graphdef_dyna_sequence" / "1" / "model.graphdef", tf_dyna_sequence)

    write_config(repository / "savedmodel_simple", "tensorflow_savedmodel", "max_batch_size: 8\n" + SIMPLE_IO % {**NAMES, "t": "INT32"})
    module = TfSimple()
    tf.saved_model.save(module, str(repository / "savedmodel_simple" / "1" / "model.savedmodel"), signatures={"serving_default": module.serve})
    return repository


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TritonServer, Path]]:
    scratch = tmp_path_factory.mktemp("torch_tensorflow")
    source = build_repository(scratch)
    lines: list[str] = []
    served = served_repository(source, scratch / "job" / "served-repository", lines.append)
    assert any("torch_simple" in line and "through torch" in line for line in lines), lines
    assert any("graphdef_simple" in line and "through tensorflow" in line for line in lines), lines
    with TritonServer(prepare_runtime(scratch / "cache"), served, scratch / "server.log").running() as triton:
        yield triton, source


def pair(client_module: Any, names: tuple[str, str], first: np.ndarray, second: np.ndarray, datatype: str) -> list[Any]:
    tensors = [client_module.InferInput(name, list(first.shape), datatype) for name in names]
    tensors[0].set_data_from_numpy(first)
    tensors[1].set_data_from_numpy(second)
    return tensors


@pytest.mark.parametrize(("model", "names"), [
    ("torch_simple", ("INPUT__0", "INPUT__1", "OUTPUT__0", "OUTPUT__1")),
    ("graphdef_simple", ("INPUT0", "INPUT1", "OUTPUT0", "OUTPUT1")),
    ("savedmodel_simple", ("INPUT0", "INPUT1", "OUTPUT0", "OUTPUT1")),
])  # fmt: skip
def test_simple_adds_and_subtracts_as_the_tutorial_model(server: tuple[TritonServer, Path], model: str, names: tuple[str, ...]) -> None:
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(f"127.0.0.1:{server[0].ports.grpc}")
    first, second = np.arange(32, dtype=np.int32).reshape(2, 16), np.full((2, 16), 7, dtype=np.int32)
    answer = client.infer(model, pair(grpcclient, names[:2], first, second, "INT32"))
    client.close()
    assert answer.as_numpy(names[2]).dtype == np.int32
    assert np.array_equal(answer.as_numpy(names[2]), first + second) and np.array_equal(answer.as_numpy(names[3]), first - second)


def test_torch_dynamic_batching_runs_concurrent_requests_as_one_batch(server: tuple[TritonServer, Path]) -> None:
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(f"127.0.0.1:{server[0].ports.http}", concurrency=8)
    chooser = np.random.default_rng(3)
    pairs = [(chooser.integers(-99, 99, (1, 16), dtype=np.int32), chooser.integers(-99, 99, (1, 16), dtype=np.int32)) for _ in range(12)]
    pending = [client.async_infer("torch_simple", pair(httpclient, ("INPUT__0", "INPUT__1"), first, second, "INT32")) for first, second in pairs]
    for request, (first, second) in zip(pending, pairs, strict=True):
        answer = request.get_result(timeout=30)
        assert np.array_equal(answer.as_numpy("OUTPUT__0"), first + second)
    stats = client.get_inference_statistics("torch_simple")["model_stats"][0]
    client.close()
    assert any(int(item["batch_size"]) > 1 for item in stats["batch_stats"]), stats["batch_stats"]


@pytest.mark.parametrize(("model", "names", "shape"), [
    ("torch_string", ("INPUT__0", "INPUT__1", "OUTPUT__0", "OUTPUT__1"), (16,)),
    ("graphdef_string", ("INPUT0", "INPUT1", "OUTPUT0", "OUTPUT1"), (1, 16)),
])  # fmt: skip
def test_the_string_twin_answers_numbers_written_as_strings(server: tuple[TritonServer, Path], model: str, names: tuple[str, ...], shape: tuple[int, ...]) -> None:
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(f"127.0.0.1:{server[0].ports.http}")
    numbers = np.arange(16, dtype=np.int32).reshape(shape)
    first = np.array([str(value).encode() for value in numbers.reshape(-1)], dtype=np.object_).reshape(shape)
    second = np.array([b"1"] * 16, dtype=np.object_).reshape(shape)
    answer = client.infer(model, pair(httpclient, names[:2], first, second, "BYTES"))
    client.close()
    assert [int(value) for value in answer.as_numpy(names[2]).reshape(-1)] == list(range(1, 17))
    assert [int(value) for value in answer.as_numpy(names[3]).reshape(-1)] == list(range(-1, 15))


def direct_dyna_sequence(model: str, source: Path, controls: dict[str, int], value: int) -> int:
    """The framework run directly on the control values a GPU server's backend would pass."""
    column = {name: np.array([[number]], dtype=np.int32) for name, number in {**controls, "INPUT": value}.items()}
    corrid = np.array([[controls["CORRID"]]], dtype=np.uint64)
    if model.startswith("torch"):
        module = torch.jit.load(str(source / model / "1" / "model.pt"))
        tensors = {name: torch.from_numpy(array) for name, array in column.items()}
        answer = module(CORRID=torch.from_numpy(corrid), READY=tensors["READY"], INPUT=tensors["INPUT"], END=tensors["END"], START=tensors["START"])
        return int(answer.numpy()[0][0])
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString((source / model / "1" / "model.graphdef").read_bytes())
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as session:
        feeds = {f"{name}:0": array for name, array in column.items() if name != "CORRID"} | {"CORRID:0": corrid}
        return int(session.run("OUTPUT:0", feeds)[0][0])


@pytest.mark.parametrize("model", ["torch_dyna_sequence", "graphdef_dyna_sequence"])
def test_sequence_controls_arrive_as_the_real_backend_passes_them(server: tuple[TritonServer, Path], model: str) -> None:
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(f"127.0.0.1:{server[0].ports.grpc}")
    sequences = {1001: [5, 6, 7], 2002: [50, 60, 70]}
    answers: dict[int, list[int]] = {corrid: [] for corrid in sequences}
    for step in range(3):  # two sequences interleaved, request by request
        for corrid, values in sequences.items():
            tensor = grpcclient.InferInput("INPUT", [1, 1], "INT32")
            tensor.set_data_from_numpy(np.array([[values[step]]], dtype=np.int32))
            answer = client.infer(model, [tensor], sequence_id=corrid, sequence_start=step == 0, sequence_end=step == 2)
            answers[corrid].append(int(answer.as_numpy("OUTPUT")[0][0]))
    client.close()
    for corrid, values in sequences.items():
        expected = [
            direct_dyna_sequence(model, server[1], {"START": int(step == 0), "END": int(step == 2), "READY": 1, "CORRID": corrid}, value)
            for step, value in enumerate(values)
        ]
        assert answers[corrid] == expected, (model, corrid, answers[corrid])
        assert expected[0] == values[0] + 1 and expected[2] == values[2] + corrid  # START on the first, END·CORRID on the last


def test_validate_says_each_target_serves_them(server: tuple[TritonServer, Path]) -> None:
    local = {serving.model: serving for serving in repository_serving(server[1], "local")}
    assert all(serving.servable for serving in local.values())
    assert local["torch_simple"].line.startswith("served locally through torch ") and local["torch_simple"].line.endswith("(CPU)")
    assert local["savedmodel_simple"].line.startswith("served locally through tensorflow ")
    gpu = {serving.model: serving.line for serving in repository_serving(server[1], "ovhcloud")}
    assert gpu["torch_simple"] == "served on the GPU job by Triton's pytorch_libtorch backend"


def test_a_torchscript_model_without_config_is_refused_as_triton_refuses_it(tmp_path: Path) -> None:
    (tmp_path / "repo" / "bare" / "1").mkdir(parents=True)
    torch.jit.script(TorchSimple()).save(str(tmp_path / "repo" / "bare" / "1" / "model.pt"))
    (tmp_path / "repo" / "bare" / "config.pbtxt").write_text('platform: "pytorch_libtorch"\nmax_batch_size: 8\n')
    with pytest.raises(UserError) as refused:
        served_repository(tmp_path / "repo", tmp_path / "served", lambda _line: None)
    assert refused.value.message == "model 'bare': a TorchScript model needs its inputs and outputs in config.pbtxt: Triton cannot derive them from model.pt"
