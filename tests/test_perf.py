"""`triton-deck perf` against a real local tritonserver: levels, stability, the server's
breakdown against its own statistics, CSV and JSON, BYTES and variable-shape models (python
backend, written here), a server stopped mid-sweep and a cancelled sweep."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from services.cancel import CancelToken
from services.errors import UserError
from services.inference.protocol import Endpoint, InputData, Transport
from services.inference.stats import Counter, ModelStats
from services.inference.triton import TritonInferenceClient
from services.perf.history import SERVER, StatsHistory
from services.perf.report import CSV_COLUMNS, csv_text
from services.perf.stability import Window, is_stable
from services.perf.stats import breakdown
from services.perf.sweep import Draining, LevelDone, LevelStarted, SweepConfig, SweepEnded, WindowMeasured, parse_range, sweep
from services.triton.runtime import TritonServer, prepare_runtime
from services.usecases.perf import perf_inputs, run_sweep
from tests.helpers import sequence_batching
from tui.cli import main

DEMO = Path(__file__).resolve().parent.parent / "demo"
ECHO_BYTES = '''
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        return [pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("OUT", pb_utils.get_input_tensor_by_name(r, "TEXT").as_numpy())]) for r in requests]
'''
SUM_ANY = '''
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        out = []
        for r in requests:
            values = pb_utils.get_input_tensor_by_name(r, "X").as_numpy()
            out.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("SUM", np.array([values.sum()], dtype=np.float32))]))
        return out
'''


RECORD_FIRST = '''
import json
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        self.log = json.loads(args["model_config"])["parameters"]["log"]["string_value"]

    def execute(self, requests):
        out = []
        for r in requests:
            values = pb_utils.get_input_tensor_by_name(r, "X").as_numpy()
            with open(self.log, "a") as log:
                log.write(f"{int(values.reshape(-1)[0])}\\n")
            out.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("Y", values)]))
        return out
'''


ACCUMULATE = '''
import json
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        self.log = json.loads(args["model_config"])["parameters"]["log"]["string_value"]
        self.sums = {}

    def execute(self, requests):
        out = []
        for r in requests:
            value = lambda name: int(pb_utils.get_input_tensor_by_name(r, name).as_numpy().reshape(-1)[0])
            corrid, start, end = value("CORRID"), value("START"), value("END")
            self.sums[corrid] = (0 if start else self.sums.get(corrid, 0)) + value("INPUT")
            with open(self.log, "a") as log:
                log.write(f"{corrid} {start} {end} {self.sums[corrid]}\\n")
            out.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("OUTPUT", np.array([[self.sums[corrid]]], dtype=np.int32))]))
        return out
'''


def write_model(repository: Path, name: str, config: str, code: str) -> None:
    (repository / name / "1").mkdir(parents=True)
    (repository / name / "config.pbtxt").write_text(config)
    (repository / name / "1" / "model.py").write_text(code)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonServer]:
    scratch = tmp_path_factory.mktemp("perf")
    repository = scratch / "models"
    shutil.copytree(DEMO / "model_repository", repository, ignore=shutil.ignore_patterns("__pycache__"))
    write_model(repository, "echo_bytes", 'name: "echo_bytes"\nbackend: "python"\nmax_batch_size: 4\n'
                'input [{ name: "TEXT" data_type: TYPE_STRING dims: [ 2 ] }]\noutput [{ name: "OUT" data_type: TYPE_STRING dims: [ 2 ] }]\n', ECHO_BYTES)  # fmt: skip
    write_model(repository, "sum_any", 'name: "sum_any"\nbackend: "python"\nmax_batch_size: 0\n'
                'input [{ name: "X" data_type: TYPE_FP32 dims: [ -1, -1 ] }]\noutput [{ name: "SUM" data_type: TYPE_FP32 dims: [ 1 ] }]\n', SUM_ANY)  # fmt: skip
    write_model(repository, "record_first", 'name: "record_first"\nbackend: "python"\nmax_batch_size: 0\n'
                f'parameters {{ key: "log" value: {{ string_value: "{scratch / "received.txt"}" }} }}\n'
                'input [{ name: "X" data_type: TYPE_INT32 dims: [ 4 ] }]\noutput [{ name: "Y" data_type: TYPE_INT32 dims: [ 4 ] }]\n', RECORD_FIRST)  # fmt: skip
    write_model(repository, "accumulate", 'name: "accumulate"\nbackend: "python"\n' + sequence_batching("int32", "INT32", max_batch_size=1)
                + f'parameters {{ key: "log" value: {{ string_value: "{scratch / "sequences.txt"}" }} }}\n', ACCUMULATE)  # fmt: skip
    with TritonServer(prepare_runtime(scratch / "cache"), repository, scratch / "server.log").running() as triton:
        yield triton


def client(server: TritonServer, transport: Transport = Transport.HTTP) -> TritonInferenceClient:
    port = server.ports.http if transport is Transport.HTTP else server.ports.grpc
    return TritonInferenceClient(Endpoint(f"127.0.0.1:{port}", transport))


def quick(model: str, levels: tuple[float, ...], **changes: object) -> SweepConfig:
    return SweepConfig(model=model, levels=levels, interval_ms=300, warmup_ms=100, max_trials=5, stability=100.0, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("transport", list(Transport))
def test_a_concurrency_sweep_completes_every_level_with_the_servers_breakdown(server: TritonServer, transport: Transport) -> None:
    triton = client(server, transport)
    inputs = perf_inputs(triton, "simple", batch_size=2)
    before = triton.model_stats("simple")
    events = list(run_sweep(triton, quick("simple", (1, 2, 4), batch_size=2), inputs, CancelToken()))
    after = triton.model_stats("simple")
    results = [event.result for event in events if isinstance(event, LevelDone)]
    assert [r.level for r in results] == [1, 2, 4] and isinstance(events[-1], SweepEnded) and events[-1].reason is None
    for result in results:
        assert result.requests > 0 and result.failed == 0 and result.throughput > 0
        assert result.p50_us <= result.p90_us <= result.p95_us <= result.p99_us
        assert result.server is not None and 0 < result.server.requests <= after.phase("success").count - before.phase("success").count
        assert result.server.compute_infer_us > 0
    assert after.phase("success").count - before.phase("success").count >= sum(r.requests for r in results), "the server saw every request counted"


def test_bytes_and_variable_shapes(server: TritonServer) -> None:
    triton = client(server)
    text = perf_inputs(triton, "echo_bytes", batch_size=3)
    assert text[0].array.shape == (3, 2) and text[0].datatype == "BYTES"
    with pytest.raises(UserError, match="--shape X:D1,D2"):
        perf_inputs(triton, "sum_any")
    shaped = perf_inputs(triton, "sum_any", shapes={"X": (4, 5)})
    for model, inputs in (("echo_bytes", text), ("sum_any", shaped)):
        events = list(run_sweep(triton, quick(model, (2,), batch_size=3 if model == "echo_bytes" else 1), inputs, CancelToken()))
        (done,) = [event for event in events if isinstance(event, LevelDone)]
        assert done.result.requests > 0 and done.result.failed == 0


def test_the_cli_writes_perf_analyzers_csv_and_json(server: TritonServer, tmp_path: Path) -> None:
    target = tmp_path / "results.csv"
    out = io.StringIO()
    argv = ["perf", "-u", f"127.0.0.1:{server.ports.http}", "-m", "efficientnet_lite0", "--images", str(DEMO / "samples"), "-s", "INCEPTION",
            "--concurrency-range", "1:2", "--measurement-interval", "300", "--warmup", "100", "--stability-percentage", "100", "-f", str(target)]  # fmt: skip
    assert main(argv, env={}, out=out) == 0
    rows = list(csv.reader(target.read_text().splitlines()))
    assert tuple(rows[0]) == ("Concurrency", *CSV_COLUMNS) and [row[0] for row in rows[1:]] == ["1", "2"]
    assert "Concurrency 1:" in out.getvalue() and "infer/sec" in out.getvalue()
    out = io.StringIO()
    assert main([*argv[:-2], "-o", "json", "--request-rate-range", "5", "--concurrency-range", "1"], env={}, out=out) == 1  # both ranges: one line
    out = io.StringIO()
    json_argv = [word for word in argv[:-2] if word not in ("--concurrency-range", "1:2")] + ["--request-rate-range", "20", "-o", "json"]
    assert main(json_argv, env={}, out=out) == 0
    document = json.loads(out.getvalue())
    assert document["model"] == "efficientnet_lite0" and document["levels"][0]["mode"] == "rate" and document["levels"][0]["requests"] > 0


def test_a_server_stopped_mid_sweep_ends_it_with_the_reason(server: TritonServer, tmp_path: Path) -> None:
    second = TritonServer(server.runtime, DEMO / "model_repository", tmp_path / "second.log")
    second.start()
    second.wait_ready()
    triton = TritonInferenceClient(Endpoint(f"127.0.0.1:{second.ports.http}", Transport.HTTP, timeout_s=2))
    inputs = perf_inputs(triton, "simple")
    threading.Timer(1.0, second.stop).start()
    events = list(run_sweep(triton, quick("simple", (1, 2, 3, 4, 5, 6, 7, 8)), inputs, CancelToken()))
    ended = events[-1]
    assert isinstance(ended, SweepEnded) and ended.reason is not None and "every request failed" in ended.reason
    assert len(ended.results) < 8


def test_cancel_ends_the_sweep_with_nothing_in_flight(server: TritonServer) -> None:
    triton = client(server)
    inputs = perf_inputs(triton, "simple")
    cancel = CancelToken()
    threading.Timer(0.5, cancel.cancel).start()
    before = threading.active_count()
    events = list(run_sweep(triton, SweepConfig("simple", (4,), interval_ms=5000, warmup_ms=100), inputs, cancel))
    assert isinstance(events[-1], SweepEnded) and events[-1].reason == "cancelled"
    assert threading.active_count() <= before, "every load thread was joined"


def test_a_draining_sweep_leaves_its_last_requests_in_flight_to_the_caller_and_a_cancelled_one_none() -> None:
    answering = threading.Event()
    answering.set()

    def send() -> None:  # a request the test holds in flight at will (2 s at most: a sweep that joined would not hang)
        answering.wait(2)
        time.sleep(0.002)

    config = SweepConfig("m", (3,), interval_ms=30, warmup_ms=0, max_trials=3, stability=100)
    before = threading.active_count()
    draining = Draining()
    events = sweep(config, send, None, CancelToken(), draining=draining)
    for event in events:
        if isinstance(event, WindowMeasured) and event.trial == 3:
            answering.clear()  # the last window is in: its requests now wait, as a queue draining
    assert threading.active_count() == before + 3, "the sweep ended with its 3 requests still in flight"
    answering.set()
    draining.wait()
    assert threading.active_count() <= before, "waited for: every request answered, every thread joined"

    cancel = CancelToken()
    threading.Timer(0.05, cancel.cancel).start()
    ended = list(sweep(replace(config, max_trials=100, stability=0.0001), send, None, cancel, draining=draining))[-1]
    assert isinstance(ended, SweepEnded) and ended.reason == "cancelled"
    assert threading.active_count() <= before, "a cancelled sweep waits for its own requests"


def test_stability_on_recorded_series() -> None:
    steady = [Window(100, 1000, 50), Window(103, 990, 52), Window(98, 1010, 49)]
    assert is_stable(steady, 10)
    assert not is_stable(steady, 1)
    assert not is_stable(steady[:2], 10), "three windows are needed"
    assert not is_stable([*steady[:2], Window(150, 1000, 75)], 10)
    # Real timings never agree to a millionth: the level runs its max trials and says it is unstable.
    config = SweepConfig("m", (1,), interval_ms=20, warmup_ms=0, max_trials=4, stability=0.0001)
    events = list(sweep(config, lambda: time.sleep(0.001), None, CancelToken()))
    (done,) = [event.result for event in events if isinstance(event, LevelDone)]
    assert done.windows == 4 and done.stable is False and done.requests > 0 and done.server is None


def test_the_breakdown_is_the_stats_delta() -> None:
    before = ModelStats(10, 10, (("success", Counter(10, 0)), ("queue", Counter(10, 1_000_000)), ("compute_infer", Counter(10, 5_000_000))))
    after = ModelStats(30, 30, (("success", Counter(30, 0)), ("queue", Counter(30, 5_000_000)), ("compute_infer", Counter(30, 25_000_000))))
    server = breakdown(before, after)
    assert server.requests == 20 and server.queue_us == 200 and server.compute_infer_us == 1000 and server.compute_input_us == 0


def test_ranges_as_perf_analyzer_takes_them() -> None:
    assert parse_range("1:8:2", "--concurrency-range") == (1, 3, 5, 7)
    assert parse_range("4", "--concurrency-range") == (4,)
    assert parse_range("10:30:10", "--request-rate-range", whole=False) == (10, 20, 30)
    for bad in ("0:4", "4:1", "1:x", "1.5:3"):
        with pytest.raises(UserError):
            parse_range(bad, "--concurrency-range")
    assert csv_text([]).startswith("Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,Server Compute Input")


def test_ctrl_c_prints_what_was_measured_and_exits(server: TritonServer) -> None:
    """A real SIGINT to `triton-deck perf` in its own process, after its first level."""
    import os
    import signal
    import subprocess
    import sys

    argv = [sys.executable, "-m", "tui.cli", "perf", "-u", f"127.0.0.1:{server.ports.http}", "-m", "simple",
            "--concurrency-range", "1:50", "--measurement-interval", "200", "--warmup", "50", "--stability-percentage", "100"]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=Path(__file__).resolve().parent.parent)
    assert process.stdout is not None
    first = process.stdout.readline()  # the first level's line: the sweep is under way
    assert first.startswith("Concurrency 1:"), first
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "stopped early: interrupted" in err
    assert "infer/sec" in out and out.strip().splitlines()[-1].split()[0].isdigit(), "the summary of the levels measured"


def _stats(successes: int, queue_ns: int) -> ModelStats:
    return ModelStats(successes, successes, (("success", Counter(successes, successes * 1000)), ("queue", Counter(successes, queue_ns))))


def test_statistics_history_per_source_restarts_and_forgets_gone_replicas() -> None:
    history = StatsHistory(size=3)
    for second, count in enumerate((0, 10, 30, 60, 100)):
        history.add(SERVER, _stats(count, count * 2000), float(second))
        history.add("r-0", _stats(count // 2, 0), float(second))
    assert [sample.rate for sample in history.samples()] == [20.0, 30.0, 40.0], "bounded: the last three seconds"
    assert history.samples()[-1].queue_us == 2.0 and history.replicas == ["r-0"]
    history.add("r-0", _stats(3, 0), 5.0)  # the replica restarted: its counters went back to zero
    assert history.samples("r-0") == [] and history.replicas == []
    history.add("r-0", _stats(13, 0), 6.0)
    assert [sample.rate for sample in history.samples("r-0")] == [10.0]
    history.keep_only(set())
    assert history.samples("r-0") == [] and history.last("r-0") is None and history.samples() != []


def test_without_a_range_perf_runs_concurrency_1_and_says_each_pass(server: TritonServer, capsys: pytest.CaptureFixture[str]) -> None:
    """As perf_analyzer: no range is concurrency 1; each window is said while the level runs."""
    out = io.StringIO()
    argv = ["perf", "-u", f"127.0.0.1:{server.ports.http}", "-m", "simple", "--measurement-interval", "200", "--warmup", "50", "--stability-percentage", "100"]
    assert main(argv, env={}, out=out) == 0
    assert out.getvalue().startswith("Concurrency 1: ") and "Concurrency 2" not in out.getvalue()
    err = capsys.readouterr().err.splitlines()
    started = next(index for index, line in enumerate(err) if line.startswith("triton-deck: Concurrency 1: measuring (200 ms windows until 100% stable)"))
    assert err[started + 1].startswith("  pass [1] throughput: ") and "infer/sec, avg latency: " in err[started + 1]


def lean_answers(server: TritonServer, model: str, inputs: list[InputData], transport: Transport) -> dict[str, bytes]:
    """What the server answers to the generator's own request bytes, output by output, raw."""
    from services.inference.endpoint import parse_address
    from services.inference.lean import MODEL_INFER, HttpConnection, grpc_request, http_request, tensor_bytes

    if transport is Transport.GRPC:
        import grpc
        from tritonclient.grpc import service_pb2

        with grpc.insecure_channel(f"127.0.0.1:{server.ports.grpc}") as channel:
            raw = channel.unary_unary(MODEL_INFER)(grpc_request(model, "", inputs, []))
        answer = service_pb2.ModelInferResponse.FromString(raw)
        return {output.name: content for output, content in zip(answer.outputs, answer.raw_output_contents, strict=True)}
    address = parse_address(f"127.0.0.1:{server.ports.http}", Transport.HTTP)
    connection = HttpConnection(address, 30)
    status, body = connection.exchange(http_request(address, model, "", inputs, [], {}))
    connection.close()
    assert status == 200, body
    outputs = json.loads(body)["outputs"]  # no binary output asked: the values come as JSON
    import numpy as np

    from services.perf.inputs import DTYPES

    def raw(output: dict[str, object]) -> bytes:
        values = output["data"]
        if output["datatype"] == "BYTES":
            array = np.array([str(value).encode() for value in values], dtype=np.object_)  # type: ignore[union-attr]
        else:
            array = np.array(values, dtype=DTYPES[str(output["datatype"])])
        return tensor_bytes(InputData(str(output["name"]), str(output["datatype"]), array))

    return {str(output["name"]): raw(output) for output in outputs}


@pytest.mark.parametrize("transport", list(Transport))
@pytest.mark.parametrize("model", ["simple", "echo_bytes", "efficientnet_lite0"])
def test_the_generators_request_bytes_decode_as_tritonclients(server: TritonServer, transport: Transport, model: str) -> None:
    """The lean generator's prebuilt requests reach the server as the same tensors as
    tritonclient's: every output equal byte for byte (a batch of real photos for the classifier)."""
    from services.inference.lean import tensor_bytes
    from services.inference.protocol import Scaling

    triton = client(server, transport)
    if model == "efficientnet_lite0":
        photos = sorted((DEMO / "samples").glob("*.png"))
        inputs = perf_inputs(triton, model, batch_size=3, images=photos, scaling=Scaling.INCEPTION)
    else:
        inputs = perf_inputs(triton, model, batch_size=2)
    expected = triton.infer(model, inputs)
    triton.close()
    ours = lean_answers(server, model, inputs, transport)
    assert set(ours) == {output.name for output in expected.outputs}
    for output in expected.outputs:
        assert ours[output.name] == tensor_bytes(InputData(output.name, output.datatype, output.array)), output.name


FAKE_ANALYZER = Path(__file__).resolve().parent / "data" / "fake_perf_analyzer"


def analyzer_events(server: TritonServer, config: SweepConfig, cancel: CancelToken | None = None, binary: Path = FAKE_ANALYZER) -> list[object]:
    triton = client(server)
    return list(run_sweep(triton, config, [], cancel or CancelToken(), analyzer=binary))


def test_perf_analyzers_output_becomes_the_same_events_as_the_built_in_generators(server: TritonServer) -> None:
    """Engine agreement: the same event kinds in the same order, the figures perf_analyzer
    printed (captured from 2.34) and its CSV's final ones, in level order."""
    config = quick("simple", (1, 2))
    theirs = analyzer_events(server, config)
    ours = [event for event in run_sweep(client(server), config, perf_inputs(client(server), "simple"), CancelToken()) if not isinstance(event, WindowMeasured)]
    assert [type(event) for event in theirs] == [type(event) for event in ours] == [LevelStarted, LevelDone, LevelStarted, LevelDone, SweepEnded]
    end = theirs[-1]
    assert isinstance(end, SweepEnded) and end.reason is None
    first, second = end.results
    assert (first.level, first.throughput, first.avg_us, first.p50_us, first.p99_us, first.requests) == (1, 2570.47, 387, 336, 1005, 4635)
    assert first.server is not None and (first.server.queue_us, first.server.compute_infer_us) == (28, 125)
    assert (second.level, second.throughput, second.p99_us) == (2, 4406.66, 896)
    written = list(csv.reader(io.StringIO(csv_text(list(end.results)))))
    original = list(csv.reader((FAKE_ANALYZER.parent / "perf_analyzer_2.34_http.csv").read_text().splitlines()))
    assert written[0] == original[0]  # perf_analyzer's own columns
    for ours_row, their_row in zip(written[1:], original[1:], strict=True):
        assert ours_row[0] == their_row[0] and float(ours_row[1]) == round(float(their_row[1]), 1) and ours_row[9:] == their_row[9:]


def test_perf_analyzer_is_run_with_the_sweeps_own_flags_and_its_failure_is_one_line(server: TritonServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PERF_ANALYZER_ARGS", str(tmp_path / "args"))
    analyzer_events(server, quick("simple", (2, 4, 6), batch_size=2))
    words = (tmp_path / "args").read_text().splitlines()
    flags = dict(zip(words[::2], words[1:][::2], strict=False))
    assert flags["-m"] == "simple" and flags["-u"] == f"127.0.0.1:{server.ports.http}" and flags["-i"] == "http" and flags["-b"] == "2"
    assert words[words.index("--concurrency-range") + 1] == "2:6:2" and words[words.index("--measurement-interval") + 1] == "300"
    (end,) = [event for event in analyzer_events(server, quick("nosuch", (1,))) if isinstance(event, SweepEnded)]
    assert end.reason == "perf_analyzer: error: failed to get model metadata: Request for unknown model: 'nosuch' is not found"


def test_a_cancelled_perf_analyzer_run_leaves_nothing_running(server: TritonServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PERF_ANALYZER_SLEEP", "30")
    cancel = CancelToken()
    threading.Timer(1.0, cancel.cancel).start()
    started = time.monotonic()
    events = analyzer_events(server, quick("simple", (1, 2)), cancel)
    assert time.monotonic() - started < 15 and isinstance(events[-1], SweepEnded) and events[-1].reason == "cancelled"
    assert [event.result.level for event in events if isinstance(event, LevelDone)] == [1]
    assert subprocess.run(["pgrep", "-f", "fake_perf_analyzer"], capture_output=True).returncode == 1


def test_the_cli_engine_choice_and_a_missing_perf_analyzer(server: TritonServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"127.0.0.1:{server.ports.http}"
    assert main(["perf", "-u", url, "-m", "simple", "--engine", "perf_analyzer", "--perf-analyzer", str(FAKE_ANALYZER), "--concurrency-range", "1:2", "-f", str(tmp_path / "out.csv")]) == 0
    out = capsys.readouterr()
    assert "perf_analyzer at" in out.err and "Concurrency 1: 2570.5 infer/sec" in out.out
    assert (tmp_path / "out.csv").read_text().splitlines()[1].startswith("1,2570.5,")
    monkeypatch.setenv("PATH", str(tmp_path))  # no perf_analyzer anywhere
    assert main(["perf", "-u", url, "-m", "simple", "--engine", "perf_analyzer"]) == 1
    error = capsys.readouterr().err.strip()
    assert "perf_analyzer is not installed" in error and "\n" not in error and "Traceback" not in error


def real_perf_analyzer() -> Path | None:
    """The real binary: TRITON_DECK_PERF_ANALYZER (.ci/run installs it there with the recipe), or on PATH."""
    from services.perf.analyzer import find_binary

    return find_binary(os.environ.get("TRITON_DECK_PERF_ANALYZER")) or find_binary()


def test_the_real_perf_analyzer_runs_a_level_when_installed(server: TritonServer) -> None:
    binary = real_perf_analyzer()
    if binary is None:
        pytest.skip("perf_analyzer is not installed here: set TRITON_DECK_PERF_ANALYZER (.ci/run does, where the recipe is)")
    events = analyzer_events(server, quick("simple", (1,)), binary=binary)
    end = events[-1]
    assert isinstance(end, SweepEnded) and end.reason is None, end
    (result,) = end.results
    assert result.level == 1 and result.throughput > 0 and result.requests > 0 and result.server is not None


def test_input_data_json_as_perf_analyzer_takes_it(server: TritonServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """perf_analyzer's documented forms: a flat list, content with a shape, b64 raw bytes,
    BYTES strings; requests cycle through the steps; what is wrong is one line."""
    import base64

    import numpy as np

    from services.usecases.perf import perf_steps

    triton = client(server)
    simple = tmp_path / "simple.json"
    simple.write_text(json.dumps({"data": [
        {"INPUT0": list(range(16)), "INPUT1": {"content": [[1] * 8, [2] * 8], "shape": [16]}},
        {"INPUT0": {"b64": base64.b64encode(np.arange(16, dtype="<i4").tobytes()).decode()}, "INPUT1": [0] * 16},
    ]}))  # fmt: skip
    steps = perf_steps(triton, "simple", simple, batch_size=2)
    assert len(steps) == 2 and steps[0][0].array.shape == (2, 16) and steps[0][1].array[1].tolist() == [1] * 8 + [2] * 8
    assert steps[1][0].array.dtype == np.int32 and steps[1][0].array[0].tolist() == list(range(16))
    text = tmp_path / "text.json"
    text.write_text(json.dumps({"data": [[{"TEXT": ["espresso", "tea"]}], [{"TEXT": {"content": ["a", "b"], "shape": [2]}}]]}))
    (first, second) = perf_steps(triton, "echo_bytes", text, batch_size=3)
    assert first[0].array.shape == (3, 2) and first[0].array[2].tolist() == [b"espresso", b"tea"] and second[0].array[0].tolist() == [b"a", b"b"]

    cycling = tmp_path / "cycling.json"
    cycling.write_text(json.dumps({"data": [{"X": [10, 0, 0, 0]}, {"X": [20, 0, 0, 0]}, {"X": [30, 0, 0, 0]}]}))
    url = f"127.0.0.1:{server.ports.http}"
    quick_flags = ["--measurement-interval", "200", "--warmup", "0", "--stability-percentage", "100", "--max-trials", "3"]
    assert main(["perf", "-u", url, "-m", "record_first", "--input-data", str(cycling), *quick_flags]) == 0
    received = [int(line) for line in (server.repository.parent / "received.txt").read_text().split()]
    assert received[:6] == [10, 20, 30, 10, 20, 30] and set(received) == {10, 20, 30}
    capsys.readouterr()

    bad = tmp_path / "bad.json"
    for document, message in (
        ({"data": [{"INPUT0": [1] * 16}]}, "step 1: input 'INPUT1' is missing"),
        ({"data": [{"INPUT0": [1] * 15, "INPUT1": [1] * 16}]}, "step 1: input 'INPUT0' has 15 values for shape [16]"),
        ({"rows": []}, 'expected {"data"'),
    ):
        bad.write_text(json.dumps(document))
        assert main(["perf", "-u", url, "-m", "simple", "--input-data", str(bad)]) == 1
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert message in error and "Traceback" not in error, error


def test_the_latency_threshold_stops_the_sweep_at_the_first_level_over_it(server: TritonServer, capsys: pytest.CaptureFixture[str]) -> None:
    triton = client(server)
    events = list(run_sweep(triton, quick("simple", (1, 2, 4), latency_threshold_ms=0.001), perf_inputs(triton, "simple"), CancelToken()))
    end = events[-1]
    assert isinstance(end, SweepEnded) and end.reason is None and [r.level for r in end.results] == [1]
    assert end.note is not None and end.note.startswith("stopped at 1: its average latency") and end.note.endswith("over the 0.001 ms threshold")
    kept = list(run_sweep(triton, quick("simple", (1, 2), latency_threshold_ms=60_000), perf_inputs(triton, "simple"), CancelToken()))
    assert [r.level for r in kept[-1].results] == [1, 2] and kept[-1].note is None  # type: ignore[attr-defined]
    url = f"127.0.0.1:{server.ports.http}"
    assert main(["perf", "-u", url, "-m", "simple", "--concurrency-range", "1:3", "--latency-threshold", "0.001", "--measurement-interval", "200", "--warmup", "0", "--stability-percentage", "100", "--max-trials", "3"]) == 0
    assert "over the 0.001 ms threshold" in capsys.readouterr().err


GPU_METRICS = """# HELP nv_gpu_utilization GPU utilization rate [0.0 - 1.0)
# TYPE nv_gpu_utilization gauge
nv_gpu_utilization{gpu_uuid="GPU-0a1b"} 0.5
nv_gpu_utilization{gpu_uuid="GPU-2c3d"} 0.25
nv_gpu_memory_total_bytes{gpu_uuid="GPU-0a1b"} 16000000000
nv_gpu_memory_used_bytes{gpu_uuid="GPU-0a1b"} 2000000000
nv_gpu_power_usage{gpu_uuid="GPU-0a1b"} 70.5
nv_inference_count{model="simple",version="1"} 12
"""


def test_collect_metrics_reports_each_gpu_and_nothing_on_a_cpu_server(server: TritonServer, tmp_path: Path) -> None:
    import http.server

    class Metrics(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            body = GPU_METRICS.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    stand_in = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
    threading.Thread(target=stand_in.serve_forever, daemon=True).start()
    url = f"127.0.0.1:{server.ports.http}"
    quick_flags = ["--measurement-interval", "200", "--warmup", "0", "--stability-percentage", "100", "--max-trials", "3"]
    try:
        assert main(["perf", "-u", url, "-m", "simple", "--collect-metrics", "--metrics-url", f"http://127.0.0.1:{stand_in.server_port}/metrics",
                     "-f", str(tmp_path / "gpu.csv"), "-o", "json", *quick_flags]) == 0  # fmt: skip
    finally:
        stand_in.shutdown()
        stand_in.server_close()
    header, row = list(csv.reader((tmp_path / "gpu.csv").read_text().splitlines()))
    cells = dict(zip(header, row, strict=True))
    assert cells["Avg GPU Utilization"] == "GPU-0a1b:0.5;GPU-2c3d:0.25;" and cells["Max GPU Memory Usage"] == "GPU-0a1b:2000000000;GPU-2c3d:0;"
    assert cells["Total GPU Memory"] == "GPU-0a1b:16000000000;GPU-2c3d:0;" and cells["Avg GPU Power Usage"].startswith("GPU-0a1b:70.5;")
    own = f"http://127.0.0.1:{server.ports.metrics}/metrics"  # the CPU-only local server: its metrics have no GPU series
    assert main(["perf", "-u", url, "-m", "simple", "--collect-metrics", "--metrics-url", own, "-f", str(tmp_path / "cpu.csv"), *quick_flags]) == 0
    header, row = list(csv.reader((tmp_path / "cpu.csv").read_text().splitlines()))
    assert header[-4:] == ["Avg GPU Utilization", "Avg GPU Power Usage", "Max GPU Memory Usage", "Total GPU Memory"] and row[-4:] == ["", "", "", ""]


@pytest.mark.parametrize("transport", list(Transport))
def test_sequences_as_perf_analyzer_sends_them_to_a_stateful_model(server: TritonServer, tmp_path: Path, transport: Transport) -> None:
    """Each thread sends whole sequences: START on the first request, END on the last, ids
    from the range in turn; the accumulator's sums are those of a sequence driven by hand."""
    import tritonclient.grpc as grpcclient

    from services.usecases.perf import sequence_plan

    log = server.repository.parent / "sequences.txt"
    log.write_text("")
    triton = client(server, transport)
    assert sequence_plan(triton, "simple") is None  # not a sequence model: nothing changes
    plan = sequence_plan(triton, "accumulate", length=4, id_range="100:103")
    assert plan is not None and (plan.length, plan.first_id, plan.last_id) == (4, 100, 103)
    data = tmp_path / "three.json"
    data.write_text(json.dumps({"data": [{"INPUT": [3]}]}))
    from services.usecases.perf import perf_steps

    steps = perf_steps(triton, "accumulate", data)
    events = list(run_sweep(triton, quick("accumulate", (2,)), steps[0], CancelToken(), sequence=plan))
    assert isinstance(events[-1], SweepEnded) and events[-1].reason is None and events[-1].results[0].failed == 0
    rows = [tuple(int(word) for word in line.split()) for line in log.read_text().splitlines()]
    by_id: dict[int, list[tuple[int, int, int]]] = {}
    finished = []
    for corrid, start, end, total in rows:
        if start:
            by_id[corrid] = []
        by_id.setdefault(corrid, []).append((start, end, total))
        if end:
            finished.append(by_id.pop(corrid))
    assert len(finished) >= 4 and {corrid for corrid, *_ in rows} <= {100, 101, 102, 103}

    hand = grpcclient.InferenceServerClient(f"127.0.0.1:{server.ports.grpc}")  # the same sequence, driven by hand
    sums = []
    for position in range(4):
        tensor = grpcclient.InferInput("INPUT", [1, 1], "INT32")
        tensor.set_data_from_numpy(np.array([[3]], dtype=np.int32))
        answer = hand.infer("accumulate", [tensor], sequence_id=999, sequence_start=position == 0, sequence_end=position == 3)
        sums.append(int(answer.as_numpy("OUTPUT")[0][0]))
    hand.close()
    for sequence in finished:
        assert [(start, end) for start, end, _ in sequence] == [(1, 0), (0, 0), (0, 0), (0, 1)]
        assert [total for *_, total in sequence] == sums == [3, 6, 9, 12]


@pytest.mark.parametrize("transport", list(Transport))
def test_shared_memory_inputs_are_registered_once_and_released_after(server: TritonServer, transport: Transport) -> None:
    def ours() -> list[str]:
        return [name for name in os.listdir("/dev/shm") if name.startswith("triton_deck_perf")]

    triton = client(server, transport)
    inputs = perf_inputs(triton, "simple", batch_size=2)
    before = triton.model_stats("simple").phase("success").count
    events = list(run_sweep(triton, quick("simple", (2,)), inputs, CancelToken(), shared_memory=True))
    end = events[-1]
    assert isinstance(end, SweepEnded) and end.reason is None and end.results[0].failed == 0 and end.results[0].requests > 0
    assert triton.model_stats("simple").phase("success").count - before >= end.results[0].requests
    assert ours() == [], "every region unlinked"
    regions = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{server.ports.http}/v2/systemsharedmemory/status", timeout=10).read())
    assert regions == [], "every region unregistered"

    cancel = CancelToken()
    threading.Timer(0.2, cancel.cancel).start()
    list(run_sweep(triton, quick("simple", (1, 2, 4)), inputs, cancel, shared_memory=True))
    assert ours() == []
    far = TritonInferenceClient(Endpoint("10.255.0.1:8000", Transport.HTTP))
    with pytest.raises(UserError, match="needs the server on this host"):
        list(run_sweep(far, quick("simple", (1,)), inputs, CancelToken(), shared_memory=True))


def test_grpc_streaming_sends_on_streams_and_says_why_a_request_failed(server: TritonServer) -> None:
    triton = client(server, Transport.GRPC)
    inputs = perf_inputs(triton, "simple")
    before = triton.model_stats("simple").phase("success").count
    events = list(run_sweep(triton, quick("simple", (1, 2)), inputs, CancelToken(), streaming=True))
    end = events[-1]
    assert isinstance(end, SweepEnded) and end.reason is None and all(r.failed == 0 and r.requests > 0 for r in end.results)
    assert triton.model_stats("simple").phase("success").count - before >= sum(r.requests for r in end.results)
    wrong = [InputData(data.name, "INT32", data.array[:, :8]) for data in inputs]  # a shape the model refuses
    (failed,) = [event for event in run_sweep(triton, quick("simple", (1,)), wrong, CancelToken(), streaming=True) if isinstance(event, SweepEnded)]
    assert failed.reason is not None and "every request failed" in failed.reason and "shape" in failed.reason.lower(), failed.reason
    with pytest.raises(UserError, match="--streaming is gRPC's"):
        list(run_sweep(client(server), quick("simple", (1,)), inputs, CancelToken(), streaming=True))
    triton.close()


def test_a_client_job_runs_the_sweep_beside_the_server_and_is_deleted_after(server: TritonServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """On the local profile: perf_analyzer (here the stand-in replaying 2.34's output) runs as a
    local job, its levels come back through the job's log, its CSV through the results bucket."""
    from services.jobs.local import LocalJobPlatform
    from services.storage.local import LocalObjectStore

    url = f"127.0.0.1:{server.ports.http}"
    words = ["--profile", "local", "perf", "-u", url, "-m", "simple", "--client-job", "--perf-analyzer", str(FAKE_ANALYZER), "--concurrency-range", "1:2"]
    assert main([*words, "-f", str(tmp_path / "out.csv")]) == 0
    out = capsys.readouterr()
    assert "the sweep runs in a client job" in out.err and "Concurrency 1: 2570.5 infer/sec" in out.out and "Concurrency 2: 4406.7 infer/sec" in out.out
    assert (tmp_path / "out.csv").read_text().splitlines()[2].startswith("2,4406.7,")
    kept = list((LocalObjectStore().root / "perf-results" / "data").rglob("perf.csv"))  # the results bucket keeps the job's CSV
    assert len(kept) == 1 and kept[0].read_text().startswith("Concurrency,Inferences/Second")
    assert LocalJobPlatform().list() == [], "the client job is deleted afterwards"
    assert main([*words, "--keep"]) == 0
    (job,) = LocalJobPlatform().list()
    assert job.spec.image == "local/tritonserver-sdk" and job.spec.volumes[0].permission == "RW" and job.spec.cpu == 1 and job.spec.gpu == 0
    LocalJobPlatform().delete(job.id, force=True)
