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
from services.apps.protocol import App, AppSpec, AppState, FixedScaling, Probe
from services.errors import UserError
from services.jobs.protocol import VolumeSpec
from services.storage.protocol import BucketRef

SERVER = ("tritonserver", "--model-repository=/workspace/models")


def triton_app(replicas: int = 2, **changes: object) -> AppSpec:
    spec = AppSpec(
        image="local/tritonserver", command=SERVER, name="triton", default_http_port=8000, grpc_port=8001, unsecure_http=True,
        volumes=(VolumeSpec("my-models", "LOCAL", "/workspace/models", "RO"),), probe=Probe("/v2/health/ready", 8000),
        scaling=FixedScaling(replicas),
    )  # fmt: skip
    return AppSpec(**{**spec.__dict__, **changes})  # type: ignore[arg-type]


def wait_until(platform: LocalAppPlatform, app_id: str, test: Callable[[App], bool], timeout: float = 120) -> App:
    deadline = time.monotonic() + timeout
    while True:
        app = platform.get(app_id)
        if test(app):
            return app
        assert time.monotonic() < deadline, f"app stayed {app.state} ({app.available_replicas}/{app.desired}): {app.info_message}"
        time.sleep(0.2)


def get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        document: dict[str, object] = json.loads(answer.read())
    return document


def replica_ports(platform: LocalAppPlatform, app: App) -> list[int]:
    """Each live replica's HTTP port, from its own log line."""
    log = (platform.root / app.id / "log.txt").read_text()
    ports = [int(line.split("(HTTP ", 1)[1].split(",", 1)[0]) for line in log.splitlines() if " starting (HTTP " in line]
    return [port for port in ports if _answers(port)]


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


def infer_count(port: int) -> int:
    stats = get_json(f"http://127.0.0.1:{port}/v2/models/simple/stats")
    return sum(int(model["inference_stats"]["success"]["count"]) for model in stats["model_stats"])  # type: ignore[index, union-attr]


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
    platform = LocalAppPlatform()
    app = platform.run(triton_app(2))
    try:
        app = wait_until(platform, app.id, lambda a: a.state is AppState.RUNNING and a.available_replicas == 2)
        assert [change.state for change in app.history][:4] == [AppState.QUEUED, AppState.INITIALIZING, AppState.SCALING, AppState.RUNNING]
        assert app.url and app.grpc_address
        ports = replica_ports(platform, app)
        assert len(ports) == 2
        for _ in range(20):
            assert infer(app.url) == 200
        counts = [infer_count(port) for port in ports]
        assert sum(counts) == 20 and min(counts) >= 5, counts  # least-connections spreads fresh connections
        url = app.url
        platform.stop(app.id)
        stopped = wait_until(platform, app.id, lambda a: a.state is AppState.STOPPED, timeout=60)
        assert stopped.available_replicas == 0 and no_server_left(platform.root / app.id)
        platform.start(app.id)
        again = wait_until(platform, app.id, lambda a: a.state is AppState.RUNNING)
        assert again.url == url and infer(url) == 200
    finally:
        platform.delete(app.id, force=True)
    assert no_server_left(platform.root / app.id)


def test_a_killed_supervisor_leaves_no_server_and_shows_failed(models_bucket: BucketRef) -> None:
    platform = LocalAppPlatform()
    app = platform.run(triton_app(1))
    try:
        wait_until(platform, app.id, lambda a: a.state is AppState.RUNNING)
        os.kill(int((platform.root / app.id / "supervisor.pid").read_text()), signal.SIGKILL)
        failed = wait_until(platform, app.id, lambda a: a.state is AppState.FAILED, timeout=10)
        assert "supervisor process died" in (failed.info_message or "")
        assert no_server_left(platform.root / app.id)
    finally:
        platform.delete(app.id, force=True)


def test_a_killed_replica_under_load_is_replaced_while_the_app_serves(models_bucket: BucketRef) -> None:
    platform = LocalAppPlatform()
    app = platform.run(triton_app(2))
    try:
        app = wait_until(platform, app.id, lambda a: a.state is AppState.RUNNING and a.available_replicas == 2)
        assert app.url
        results: list[int] = []
        stop = threading.Event()

        def load() -> None:
            while not stop.is_set():
                results.append(infer(app.url or ""))

        worker = threading.Thread(target=load)
        worker.start()
        time.sleep(1)
        victim = replica_ports(platform, app)[0]
        os.system(f"pkill -KILL -f 'http-port={victim} '")
        time.sleep(1)
        replaced = wait_until(platform, app.id, lambda a: a.available_replicas == 2 and a.state is AppState.RUNNING)
        time.sleep(1)
        stop.set()
        worker.join()
        failed = sum(code != 200 for code in results)
        assert len(results) > 50 and failed <= 2, (len(results), failed)  # at most what was in flight on the victim
        assert victim not in replica_ports(platform, replaced)
        assert "exited with status" in (platform.root / app.id / "log.txt").read_text()
    finally:
        platform.delete(app.id, force=True)


def test_scale_one_to_three_to_one(models_bucket: BucketRef) -> None:
    platform = LocalAppPlatform()
    app = platform.run(triton_app(1))
    try:
        wait_until(platform, app.id, lambda a: a.state is AppState.RUNNING)
        platform.scale(app.id, FixedScaling(3))
        scaling = wait_until(platform, app.id, lambda a: a.state is AppState.SCALING or a.available_replicas == 3)
        assert scaling.desired == 3
        up = wait_until(platform, app.id, lambda a: a.state is AppState.RUNNING and a.available_replicas == 3)
        assert AppState.SCALING in [change.state for change in up.history[3:]]
        platform.scale(app.id, FixedScaling(1))
        down = wait_until(platform, app.id, lambda a: a.state is AppState.RUNNING and a.available_replicas == 1 and len(a.replicas) == 1)
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
