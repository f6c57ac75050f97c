"""Local AI Deploy apps for real: a supervisor per app, replicas of the bundled tritonserver,
the balancing endpoint in front of them, scaling you can watch."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from services.apps.local import LocalAppPlatform
from services.apps.protocol import App, AppState, AutomaticScaling, CustomMetric, FixedScaling
from services.cancel import CancelToken
from services.errors import UserError
from services.inference.protocol import Endpoint
from services.inference.triton import TritonInferenceClient
from services.storage.local import LocalObjectStore
from services.storage.protocol import BucketRef, UploadItem, UploadOptions
from services.usecases.server import Server
from services.usecases.stats import StatsReader
from tests.helpers import BackgroundLoad, infer_count, replica_ports, running_app, triton_app, wait_for_app

DEMO_SAMPLES = Path(__file__).resolve().parent.parent / "demo" / "samples"


def wait_recording_signals(platform: LocalAppPlatform, app_id: str, test: Callable[[App], bool]) -> list[float]:
    """Every scaling signal seen until `test` holds: the one that moved the app, not only the one
    after (a replica just added idles and pulls the average down)."""
    signals: list[float] = []

    def record(app: App) -> bool:
        signals.append(app.signal or 0.0)
        return test(app)

    wait_for_app(platform, app_id, record, timeout=60)
    return signals


INFER_BODY = json.dumps({"inputs": [{"name": name, "shape": [1, 16], "datatype": "INT32", "data": [1] * 16} for name in ("INPUT0", "INPUT1")]}).encode()


def infer(url: str) -> int:
    request = urllib.request.Request(f"{url}/v2/models/simple/infer", INFER_BODY, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, OSError):
        return 0


def no_server_left(root: Path, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.system(f"pgrep -f 'model-repositor[y]={root}' > /dev/null") != 0:
            return True
        time.sleep(0.2)
    return False


def test_two_replicas_both_serve_behind_one_url_that_survives_stop_and_start(models_bucket: BucketRef) -> None:
    with running_app(2) as (platform, app):
        assert [change.state for change in app.history][:4] == [AppState.QUEUED, AppState.INITIALIZING, AppState.SCALING, AppState.RUNNING]
        assert app.url and app.grpc_address
        ports = replica_ports(platform, app)
        assert len(ports) == 2
        for _ in range(20):
            assert infer(app.url) == 200
        counts = [infer_count(port) for port in ports]
        assert sum(counts) == 20 and min(counts) >= 5, counts  # least-connections spreads fresh connections
        reading = StatsReader(Server(Endpoint(app.url), app=app), TritonInferenceClient, platform.get).read("simple")
        per_replica = {name: stats.phase("success").count for name, stats in reading.replicas}
        assert sorted(per_replica) == sorted(replica.name for replica in app.replicas), "each replica read at its own address"
        assert sorted(per_replica.values()) == sorted(counts)
        url = app.url
        platform.stop(app.id)
        stopped = wait_for_app(platform, app.id, lambda a: a.state is AppState.STOPPED, timeout=60)
        assert stopped.available_replicas == 0 and no_server_left(platform.root / app.id)
        followed = list(platform.follow_logs(app.id, CancelToken()))  # a stopped app: the whole log, then the end
        tags = {line.split("] ", 1)[0].split("[", 1)[1] for line in followed if isinstance(line, str)}
        assert {f"{app.id[:8]}-1", f"{app.id[:8]}-2", "app", "sync"} <= tags
        assert followed == list(platform.logs(app.id))
        assert all(f" [{app.id[:8]}-1] " in line for line in platform.logs(app.id, replica=f"{app.id[:8]}-1"))
        platform.start(app.id)
        again = wait_for_app(platform, app.id, lambda a: a.state is AppState.RUNNING)
        assert again.url == url and infer(url) == 200
    assert no_server_left(platform.root / app.id)


def test_a_killed_supervisor_leaves_no_server_and_shows_failed(models_bucket: BucketRef) -> None:
    platform = LocalAppPlatform()
    app = platform.run(triton_app(1))
    try:
        wait_for_app(platform, app.id, lambda a: a.state is AppState.RUNNING)
        os.kill(int((platform.root / app.id / "supervisor.pid").read_text()), signal.SIGKILL)
        failed = wait_for_app(platform, app.id, lambda a: a.state is AppState.FAILED, timeout=10)
        assert "supervisor process died" in (failed.info_message or "")
        assert no_server_left(platform.root / app.id)
    finally:
        platform.delete(app.id, force=True)


def test_a_killed_replica_under_load_is_replaced_while_the_app_serves(models_bucket: BucketRef) -> None:
    with running_app(2) as (platform, app):
        assert app.url
        results: list[int] = []
        with BackgroundLoad(lambda: results.append(infer(app.url or ""))):
            time.sleep(1)
            victim = replica_ports(platform, app)[0]
            os.system(f"pkill -KILL -f 'http-port={victim} '")
            time.sleep(1)
            replaced = wait_for_app(platform, app.id, lambda a: a.available_replicas == 2 and a.state is AppState.RUNNING)
            time.sleep(1)
        failed = sum(code != 200 for code in results)
        assert len(results) > 50 and failed <= 2, (len(results), failed)  # at most what was in flight on the victim
        assert victim not in replica_ports(platform, replaced)
        assert "exited with status" in (platform.root / app.id / "log.txt").read_text()
        assert os.system(f"pgrep -f '{app.id}/workspace/model[s]/simple' > /dev/null") == 0, "the live replicas' stubs run"
    assert no_stub_left(platform.root / app.id), "the killed replica's python stub went with it"


def no_stub_left(root: Path, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.system(f"pgrep -f '{root}/workspace/model[s]' > /dev/null") != 0:
            return True
        time.sleep(0.2)
    return False


def test_scale_one_to_three_to_one_by_cli(models_bucket: BucketRef) -> None:
    from tests.helpers import run

    platform = LocalAppPlatform()
    app = platform.run(triton_app(1))
    try:
        wait_for_app(platform, app.id, lambda a: a.state is AppState.RUNNING)
        assert run(["--profile", "local", "app", "scale", app.id[:8], "--replicas", "3"])[0] == 0
        scaling = wait_for_app(platform, app.id, lambda a: a.state is AppState.SCALING or a.available_replicas == 3)
        assert scaling.desired == 3
        up = wait_for_app(platform, app.id, lambda a: a.state is AppState.RUNNING and a.available_replicas == 3)
        assert AppState.SCALING in [change.state for change in up.history[3:]]
        assert run(["app", "scale", app.id[:6], "--replicas", "1", "--profile", "local"])[0] == 0
        down = wait_for_app(platform, app.id, lambda a: a.state is AppState.RUNNING and a.available_replicas == 1 and len(a.replicas) == 1)
        assert len(replica_ports(platform, down)) == 1
    finally:
        platform.delete(app.id, force=True)


def test_bad_scaling_and_commands_are_refused_in_one_line(models_bucket: BucketRef) -> None:
    platform = LocalAppPlatform()
    with pytest.raises(UserError, match="1 to 10 replicas"):
        platform.run(triton_app(11))
    with pytest.raises(UserError, match="runs the bundled tritonserver"):
        platform.run(triton_app(1, command=("python", "-m", "http.server")))
    assert platform.list() == []


def upload_model_file(bucket: BucketRef, tmp_path: Path, text: str) -> None:
    source = tmp_path / "model.py"
    source.write_text(text)
    item = UploadItem(source, "simple/1/model.py", source.stat().st_size)
    assert LocalObjectStore().upload(bucket, [item], UploadOptions(), lambda _p: None, CancelToken()).ok


def test_grpc_passes_through_the_app_endpoint(models_bucket: BucketRef) -> None:
    import numpy as np
    import tritonclient.grpc as grpcclient

    with running_app(2) as (platform, app):
        assert app.grpc_address
        for _ in range(4):  # a fresh channel each time: each is one connection, balanced in turn
            client = grpcclient.InferenceServerClient(app.grpc_address)
            data = np.arange(16, dtype=np.int32).reshape(1, 16)
            inputs = [grpcclient.InferInput(name, [1, 16], "INT32") for name in ("INPUT0", "INPUT1")]
            for tensor in inputs:
                tensor.set_data_from_numpy(data)
            result = client.infer("simple", inputs)
            assert (result.as_numpy("OUTPUT0") == data * 2).all()
            client.close()
        counts = [infer_count(port) for port in replica_ports(platform, app)]
        assert sum(counts) == 4 and min(counts) >= 1, counts  # both replicas answered over gRPC


def test_a_model_that_fails_gets_no_traffic_and_the_app_says_why(models_bucket: BucketRef, tmp_path: Path) -> None:
    upload_model_file(models_bucket, tmp_path, "raise RuntimeError('model refuses to load')\n")
    platform = LocalAppPlatform()
    app = platform.run(triton_app(1))
    try:
        seen_ready = False
        deadline = time.monotonic() + 120
        while (current := platform.get(app.id)).state is not AppState.FAILED:
            seen_ready = seen_ready or current.available_replicas > 0
            if current.url and current.state is AppState.SCALING:
                assert infer(current.url) == 503  # the endpoint answers, no replica does
            assert time.monotonic() < deadline, current
            time.sleep(0.2)
        assert not seen_ready
        assert "model refuses to load" in (current.info_message or "") and "\n" not in (current.info_message or "")
        assert no_server_left(platform.root / app.id)
    finally:
        platform.delete(app.id, force=True)


def load(url: str, seconds: float, threads: int = 8) -> int:
    """Requests from `threads` threads for `seconds`; the number that did not answer 200."""
    stop = time.monotonic() + seconds
    failed: list[int] = []

    def worker() -> None:
        while time.monotonic() < stop:
            if infer(url) != 200:
                failed.append(1)

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return len(failed)


def test_automatic_scaling_on_cpu_goes_up_under_load_and_down_after_the_window(models_bucket: BucketRef) -> None:
    platform = LocalAppPlatform()
    scaling = AutomaticScaling(1, 2, "CPU", 5, scale_up_window_s=0, scale_down_window_s=4)
    app = platform.run(triton_app(1, scaling=scaling))
    try:
        app = wait_for_app(platform, app.id, lambda a: a.state is AppState.RUNNING)
        assert app.url and app.available_replicas == 1  # the models' loading was not taken for load
        worker = threading.Thread(target=load, args=(app.url, 15))
        worker.start()
        signals = wait_recording_signals(platform, app.id, lambda a: a.available_replicas == 2)
        assert max(signals) > 5
        worker.join()
        down = wait_for_app(platform, app.id, lambda a: a.desired == 1 and len(a.replicas) == 1, timeout=60)
        assert AppState.SCALING in [change.state for change in down.history]
    finally:
        platform.delete(app.id, force=True)


SLOW_MODEL = '''"""`simple`, a tenth of a second per request: requests queue up under load."""
import time

import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            time.sleep(0.1)
            first = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
            second = pb_utils.get_input_tensor_by_name(request, "INPUT1").as_numpy()
            outputs = [pb_utils.Tensor("OUTPUT0", first + second), pb_utils.Tensor("OUTPUT1", first - second)]
            responses.append(pb_utils.InferenceResponse(output_tensors=outputs))
        return responses
'''


def test_automatic_scaling_on_tritons_pending_request_gauge(models_bucket: BucketRef, tmp_path: Path) -> None:
    upload_model_file(models_bucket, tmp_path, SLOW_MODEL)
    queue = CustomMetric("http://<SELF>:8002/metrics", 'nv_inference_pending_request_count{model="simple"}', 2.0)
    platform = LocalAppPlatform()
    app = platform.run(triton_app(1, scaling=AutomaticScaling(1, 3, None, None, queue, scale_down_window_s=4)))
    try:
        app = wait_for_app(platform, app.id, lambda a: a.state is AppState.RUNNING)
        assert app.url
        worker = threading.Thread(target=load, args=(app.url, 12, 12))
        worker.start()
        signals = wait_recording_signals(platform, app.id, lambda a: a.available_replicas >= 2)
        assert max(signals) >= 2
        worker.join()
        wait_for_app(platform, app.id, lambda a: a.desired == 1 and len(a.replicas) == 1, timeout=60)
    finally:
        platform.delete(app.id, force=True)


class DrippingMetricServer:
    """Answers 200 with a promised 100 kB body, then sends one byte every half second: a
    metric endpoint that never finishes an answer."""

    def __init__(self) -> None:
        import socket

        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.closing = threading.Event()
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._drip, args=(connection,), daemon=True).start()

    def _drip(self, connection: object) -> None:
        import socket

        assert isinstance(connection, socket.socket)
        with connection:
            try:
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n")
                while not self.closing.wait(0.5):
                    connection.sendall(b"#")
            except OSError:
                return

    def stop(self) -> None:
        self.closing.set()
        self.listener.close()


def test_a_dripping_metric_server_never_holds_scale_or_stop(models_bucket: BucketRef) -> None:
    """The read is abandoned at its deadline and said in the app's log; a file:// metric is refused."""
    platform = LocalAppPlatform()
    with pytest.raises(UserError, match="only http:// and https:// URLs are read"):
        platform.run(triton_app(1, scaling=AutomaticScaling(1, 2, None, None, CustomMetric("file:///dev/zero", "x", 1.0))))
    dripping = DrippingMetricServer()
    metric = CustomMetric(f"http://127.0.0.1:{dripping.port}/metrics", "x", 1.0)
    app = platform.run(triton_app(1, scaling=AutomaticScaling(1, 3, None, None, metric)))
    try:
        wait_for_app(platform, app.id, lambda a: a.state is AppState.RUNNING and a.available_replicas == 1)
        wait_for_app(platform, app.id, lambda a: dripping.connections >= 3, timeout=20)  # read after read, each abandoned
        assert "the reading is abandoned" in (platform.root / app.id / "log.txt").read_text()
        platform.scale(app.id, FixedScaling(2))
        # A control loop stuck in a read would wait on the drip (100,000 half seconds): it applies at once instead.
        assert wait_for_app(platform, app.id, lambda a: a.desired == 2, timeout=20).desired == 2
        platform.scale(app.id, AutomaticScaling(1, 3, None, None, metric))
        wait_for_app(platform, app.id, lambda a: dripping.connections >= 5, timeout=20)
        platform.stop(app.id)
        wait_for_app(platform, app.id, lambda a: a.state is AppState.STOPPED, timeout=20)
    finally:
        dripping.stop()
        platform.delete(app.id, force=True)


def test_the_cli_runs_a_local_app_and_classify_goes_through_it(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.helpers import run, upload_demo_repository

    upload_demo_repository(monkeypatch)
    code, out = run(["--profile", "local", "app", "run", "local/tritonserver", "--models", "my-models@LOCAL", "--replicas", "2", "-o", "json"])
    assert code == 0, capsys.readouterr().err
    app_id = json.loads(out)["id"]
    platform = LocalAppPlatform()
    try:
        wait_for_app(platform, app_id, lambda a: a.state is AppState.RUNNING and a.available_replicas == 2, timeout=180)
        code, out = run(["--profile", "local", "classify", "--app", app_id[:8], "-m", "efficientnet_lite0", "-s", "INCEPTION", "-c", "1", str(DEMO_SAMPLES)])
        assert code == 0, capsys.readouterr().err
        assert "Egyptian Mau" in out and "espresso" in out
        code, out = run(["--profile", "local", "health", "--app", app_id[:8]])
        assert code == 0 and f"(app {app_id})" in out
        code, out = run(["--profile", "local", "app", "list"])
        assert "2/2" in out and "RUNNING" in out
        assert run(["--profile", "local", "app", "scale", app_id[:8], "--replicas", "1"])[0] == 0
        wait_for_app(platform, app_id, lambda a: len(a.replicas) == 1 and a.state is AppState.RUNNING)
        code, out = run(["--profile", "local", "app", "logs", app_id[:8], "--tail", "5"])
        assert code == 0 and len(out.splitlines()) == 5
    finally:
        assert run(["--profile", "local", "app", "delete", app_id[:8], "--force"])[0] == 0
