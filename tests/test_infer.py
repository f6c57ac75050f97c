"""`triton-deck infer` against a real local tritonserver: any model, over HTTP and gRPC.

The repository holds the demo's `simple` (INT32 add/sub, batching), a BYTES model that
upper-cases its strings, and an FP16 model that halves its input without batching.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from services.inference.protocol import Transport
from services.triton.runtime import TritonServer, prepare_runtime
from tui.cli import main

DEMO = Path(__file__).resolve().parent.parent / "demo"
ONE_TO_16 = "[" + ",".join(str(n) for n in range(1, 17)) + "]"

MODELS = {
    "upper": (
        'backend: "python"\nmax_batch_size: 4\n'
        'input [ { name: "TEXT" data_type: TYPE_STRING dims: [ -1 ] } ]\noutput [ { name: "UPPER" data_type: TYPE_STRING dims: [ -1 ] } ]\n',
        """
        import numpy as np
        import triton_python_backend_utils as pb_utils

        class TritonPythonModel:
            def execute(self, requests):
                responses = []
                for request in requests:
                    text = pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy()
                    upper = np.vectorize(lambda b: b.upper(), otypes=[np.object_])(text)
                    responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("UPPER", upper)]))
                return responses
        """,
    ),
    "half": (
        'backend: "python"\nmax_batch_size: 0\n'
        'input [ { name: "X" data_type: TYPE_FP16 dims: [ 2, 2 ] } ]\noutput [ { name: "Y" data_type: TYPE_FP16 dims: [ 2, 2 ] } ]\n',
        """
        import numpy as np
        import triton_python_backend_utils as pb_utils

        class TritonPythonModel:
            def execute(self, requests):
                responses = []
                for request in requests:
                    x = pb_utils.get_input_tensor_by_name(request, "X").as_numpy()
                    responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("Y", (x / 2).astype(np.float16))]))
                return responses
        """,
    ),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonServer]:
    scratch = tmp_path_factory.mktemp("infer")
    repository = scratch / "models"
    repository.mkdir()
    shutil.copytree(DEMO / "model_repository" / "simple", repository / "simple", ignore=shutil.ignore_patterns("__pycache__"))
    for name, (config, code) in MODELS.items():
        (repository / name / "1").mkdir(parents=True)
        (repository / name / "config.pbtxt").write_text(f'name: "{name}"\n{config}')
        (repository / name / "1" / "model.py").write_text(textwrap.dedent(code))
    with TritonServer(prepare_runtime(scratch / "cache"), repository, scratch / "server.log").running() as triton:
        yield triton


def url(server: TritonServer, transport: Transport) -> list[str]:
    port = server.ports.http if transport is Transport.HTTP else server.ports.grpc
    return ["-u", f"127.0.0.1:{port}", "-i", transport.value]


def infer(server: TritonServer, transport: Transport, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(["infer", *argv, *url(server, transport)], env={}, out=out), out.getvalue()


@pytest.mark.parametrize("transport", list(Transport))
def test_simple_adds_and_subtracts_and_json_reads_back(server: TritonServer, transport: Transport, tmp_path: Path) -> None:
    np.save(tmp_path / "ones.npy", np.ones(16, np.int32))
    code, out = infer(server, transport, "-m", "simple", "--input", f"INPUT0={ONE_TO_16}", "--input", f"INPUT1=@{tmp_path / 'ones.npy'}", "-o", "json")
    assert code == 0
    document = json.loads(out)
    assert document["model_name"] == "simple"
    outputs = {output["name"]: output for output in document["outputs"]}
    assert outputs["OUTPUT0"] == {"name": "OUTPUT0", "datatype": "INT32", "shape": [1, 16], "data": list(range(2, 18))}
    assert outputs["OUTPUT1"]["data"] == list(range(0, 16))
    code, out = infer(server, transport, "-m", "simple", "--input", f"INPUT0={ONE_TO_16}", "--zero", "--output", "OUTPUT0")
    assert code == 0
    header, row = out.splitlines()[1:]
    assert header.split() == ["OUTPUT", "DATATYPE", "SHAPE", "VALUES"]
    assert row.split() == ["OUTPUT0", "INT32", "[1,", "16]", "1", "2", "3", "4", "5", "6", "7", "8", "…", "(16", "values)"]


@pytest.mark.parametrize("transport", list(Transport))
def test_strings_and_fp16(server: TritonServer, transport: Transport) -> None:
    code, out = infer(server, transport, "-m", "upper", "--input", 'TEXT=["hello", "wörld"]', "-o", "json")
    assert code == 0 and json.loads(out)["outputs"][0] == {"name": "UPPER", "datatype": "BYTES", "shape": [1, 2], "data": ["HELLO", "WöRLD"]}
    code, out = infer(server, transport, "-m", "upper", "--input", "TEXT=a plain string")
    assert code == 0 and '"A PLAIN STRING"' in out
    code, out = infer(server, transport, "-m", "half", "--input", "X=[[1, 2], [3, 5]]", "-o", "json")
    assert code == 0 and json.loads(out)["outputs"][0] == {"name": "Y", "datatype": "FP16", "shape": [2, 2], "data": [0.5, 1.0, 1.5, 2.5]}


def test_a_batch_from_a_file_and_npz(server: TritonServer, tmp_path: Path) -> None:
    data = tmp_path / "data.json"
    batch = [[n] * 16 for n in range(3)]
    data.write_text(json.dumps({"data": [{"INPUT0": batch, "INPUT1": {"content": [1] * 48, "shape": [3, 16]}}]}))
    code, out = infer(server, Transport.HTTP, "-m", "simple", "--input-data", str(data), "-o", "json")
    assert code == 0
    assert json.loads(out)["outputs"][0]["shape"] == [3, 16] and json.loads(out)["outputs"][0]["data"] == [n + 1 for n in range(3) for _ in range(16)]
    code, out = infer(server, Transport.GRPC, "-m", "simple", "--random", "-b", "4", "-o", "npz", str(tmp_path / "out.npz"))
    assert code == 0 and out.startswith("saved 2 output(s) of simple to ")
    with np.load(tmp_path / "out.npz") as saved:
        assert saved["OUTPUT0"].shape == (4, 16) and saved["OUTPUT0"].dtype == np.int32
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == [], "no temp file left"


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["-m", "simple", "--input", "INPUT0=[1, 2]", "--zero"], "input 'INPUT0' wants INT32 [16] after a batch dimension of up to 8 (16 values) and was given the shape [2]"),
        (["-m", "simple", "--input", "INPUT0=" + ONE_TO_16.replace("1,", "1.5,", 1), "--zero"], "--input INPUT0: INPUT0 is INT32 and was given decimal values"),
        (["-m", "half", "--input", 'X=["a", "b", "c", "d"]'], "--input X: X is FP16 and was given string values"),
        (["-m", "half", "--input", "X=[1, 2, 3, 4]", "-b", "2"], "batch size 2 does not fit model 'half': it does not batch (max_batch_size 0): drop -b"),
        (["-m", "upper", "--input", "TEXT=[1, 2]"], "--input TEXT: TEXT is BYTES and wants strings, e.g. TEXT='[\"hello\"]'"),
        (["-m", "simple", "--input", "INPUT0=" + ONE_TO_16], "input 'INPUT1' (INT32 [16] after a batch dimension of up to 8) has no value: give --input INPUT1=[...], --input-data FILE, or --random"),
        (["-m", "nosuch", "--random"], "model 'nosuch' is not in the repository of"),
    ],
)
def test_a_wrong_shape_or_dtype_is_one_line(server: TritonServer, argv: list[str], line: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out = infer(server, Transport.HTTP, *argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and line in err[0]


def test_infer_in_a_real_process_prints_to_a_pipe(server: TritonServer) -> None:
    answer = subprocess.run(
        [sys.executable, "-m", "tui.cli", "infer", "-m", "upper", "--input", "TEXT=[\"\\u001b[2Jx\"]", *url(server, Transport.HTTP), "-o", "json"],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout)["outputs"][0]["data"] == ["\x1b[2JX"], "bytes pass unchanged into a pipe"


async def test_the_panes_infer_mode_against_a_real_server(server: TritonServer) -> None:
    """`I` on `simple` (not an image classifier: no `c`), a JSON field and a zero field, the answer as a card."""
    from textual.widgets import Input

    from services.backends import ServiceSet
    from services.config import Config, Profile
    from services.fake_set import fake_services
    from services.inference.triton import TritonInferenceClient
    from tests.conftest import SNAPSHOT_NOW, plain_text, settle
    from tests.helpers import press_in_panel
    from tui.app import make_app
    from tui.panels.inference import InferencePanel
    from tui.settings import AppSettings
    from widgets.infer_card import InferCard

    def real_inference(profile: Profile) -> ServiceSet:
        services = fake_services(profile)
        services.inference = TritonInferenceClient
        return services

    app = make_app("local", Config(), real_inference, AppSettings(now=lambda: SNAPSHOT_NOW, poll=False), env={})
    async with app.run_test(size=(100, 30)) as pilot:
        await press_in_panel(pilot, "4", "e")
        app.screen.query_one(Input).value = f"127.0.0.1:{server.ports.http}"
        await pilot.press("enter")
        await settle(pilot)
        panel = app.query_one(InferencePanel)
        table = panel.query_one("#models-table")
        table.focus()
        await pilot.press("home", "down", "enter")  # the index is sorted: half, simple, upper
        await settle(pilot)
        assert panel.check_action("classify", ()) is False, "c is not offered for a model image_client would refuse"
        await pilot.press("I")
        await pilot.pause()
        fields = list(app.screen.query(Input))
        assert app.focused is fields[0], "the first field has the focus"
        fields[0].value = ONE_TO_16
        fields[1].value = "zero"
        await pilot.press("ctrl+s")
        await settle(pilot)
        (card,) = panel.query(InferCard)
        shown = plain_text(card)
        assert "#1 simple" in shown and "INPUT1=zero" in shown, shown
        assert "OUTPUT0  INT32     [1, 16]  1 2 3 4 5 6 7 8 … (16 values)" in shown, shown
