"""A real tritonserver from the nvidia-pytriton wheel: prepared, started, used, stopped."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from services.errors import UserError
from services.ports import free_port
from services.triton.runtime import Ports, Runtime, TritonServer, prepare_runtime

# Triton's `simple` example from the shipped demo, alone: the fastest model to start.
SIMPLE = Path(__file__).resolve().parent.parent / "demo" / "model_repository" / "simple"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repository = tmp_path_factory.mktemp("models")
    shutil.copytree(SIMPLE, repository / "simple")
    return repository


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    return prepare_runtime(tmp_path_factory.mktemp("cache"))


@pytest.fixture
def server(runtime: Runtime, models: Path, tmp_path: Path) -> Iterator[TritonServer]:
    with TritonServer(runtime, models, tmp_path / "server.log").running() as started:
        yield started


def group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def simple_inputs(module):  # type: ignore[no-untyped-def]
    first = np.arange(16, dtype=np.int32).reshape(1, 16)
    second = np.full((1, 16), 3, dtype=np.int32)
    inputs = [module.InferInput("INPUT0", [1, 16], "INT32"), module.InferInput("INPUT1", [1, 16], "INT32")]
    inputs[0].set_data_from_numpy(first)
    inputs[1].set_data_from_numpy(second)
    return first, second, inputs


def test_runtime_is_prepared_once_and_complete(runtime: Runtime) -> None:
    assert runtime.binary.is_file() and os.access(runtime.binary, os.X_OK)
    assert (runtime.root / "backends" / "python" / "triton_python_backend_stub").is_file()
    stamp = (runtime.root / ".prepared").stat().st_mtime_ns
    again = prepare_runtime(runtime.root.parent.parent)
    assert again == runtime and (runtime.root / ".prepared").stat().st_mtime_ns == stamp, "not copied twice"


def test_a_half_prepared_runtime_is_never_used(tmp_path: Path, runtime: Runtime) -> None:
    """A copy interrupted earlier (no stamp) is redone from scratch, never used as is."""
    half = tmp_path / "triton-runtime" / runtime.root.name
    (half / "bin").mkdir(parents=True)
    (tmp_path / "triton-runtime" / f"{runtime.root.name}.staging").mkdir()
    prepared = prepare_runtime(tmp_path)
    assert prepared.root == half and prepared.binary.is_file() and (half / ".prepared").is_file()
    assert [p.name for p in (tmp_path / "triton-runtime").iterdir() if not p.name.startswith(".")] == [runtime.root.name]


def test_server_answers_http_and_grpc_then_stops_cleanly(server: TritonServer) -> None:
    import tritonclient.grpc as grpcclient
    import tritonclient.http as httpclient

    assert server.is_ready()
    http = httpclient.InferenceServerClient(f"127.0.0.1:{server.ports.http}")
    first, second, inputs = simple_inputs(httpclient)
    answer = http.infer("simple", inputs)
    assert (answer.as_numpy("OUTPUT0") == first + second).all() and (answer.as_numpy("OUTPUT1") == first - second).all()
    http.close()
    grpc = grpcclient.InferenceServerClient(f"127.0.0.1:{server.ports.grpc}")
    first, second, inputs = simple_inputs(grpcclient)
    assert (grpc.infer("simple", inputs).as_numpy("OUTPUT0") == first + second).all()
    grpc.close()
    pid = server.pid
    assert pid is not None
    assert server.stop() == 0
    assert not group_alive(pid), "no server or stub process left"


def test_a_broken_model_fails_with_the_servers_own_words(runtime: Runtime, tmp_path: Path) -> None:
    repository = tmp_path / "repo"
    shutil.copytree(SIMPLE, repository / "simple")
    (repository / "simple" / "1" / "model.py").write_text("raise RuntimeError('boom in initialize')\n")
    with pytest.raises(UserError) as caught, TritonServer(runtime, repository, tmp_path / "server.log").running(timeout=60):
        pass
    message = str(caught.value)
    assert message.startswith("tritonserver exited with status")
    assert "boom in initialize" in message and "\n" not in message


def test_a_port_in_use_is_reported(runtime: Runtime, models: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        clash = TritonServer(runtime, models, tmp_path / "server.log", ports=Ports(port, free_port(), free_port()))
        with pytest.raises(UserError) as caught, clash.running(timeout=60):
            pass
    assert "exited with status" in str(caught.value)
    assert "already in use" in str(caught.value)


def test_two_servers_at_once_on_different_ports(runtime: Runtime, models: Path, tmp_path: Path) -> None:
    servers = [TritonServer(runtime, models, tmp_path / f"server-{n}.log") for n in range(2)]
    try:
        for started in servers:
            started.start()
        for started in servers:
            started.wait_ready()
        assert servers[0].ports != servers[1].ports and all(s.is_ready() for s in servers)
    finally:
        for started in servers:
            started.stop()


def test_the_server_dies_with_the_process_that_started_it(runtime: Runtime, models: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).parent.parent)!r})
        from pathlib import Path
        from services.triton.runtime import Runtime, TritonServer
        server = TritonServer(Runtime(Path({str(runtime.root)!r}), {runtime.version!r}), Path({str(models)!r}), Path({str(tmp_path / "server.log")!r}))
        server.start()
        server.wait_ready()
        print(server.pid, flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    pid = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 20
    while group_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if group_alive(pid):
        os.killpg(pid, signal.SIGKILL)
        raise AssertionError("tritonserver outlived the process that started it")


def test_a_killed_server_leaves_no_shared_memory_behind(runtime: Runtime, models: Path, tmp_path: Path) -> None:
    """A SIGKILLed tritonserver never removes its python-backend regions from /dev/shm (RAM)."""
    from services.triton.runtime import SHARED_MEMORY, SHM_PREFIX

    server = TritonServer(runtime, models, tmp_path / "server.log")
    server.start()
    server.wait_ready()
    regions = list(SHARED_MEMORY.glob(f"{server.shm_prefix}*"))
    assert regions, "the python backend's regions carry this server's prefix"
    assert server.pid is not None
    os.killpg(server.pid, signal.SIGKILL)  # a crash, an OOM kill: nothing of its own clean-up runs
    time.sleep(0.5)
    assert all(region.exists() for region in regions), "left behind by the killed server"
    server.stop()
    assert not list(SHARED_MEMORY.glob(f"{server.shm_prefix}*"))

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a starter that is gone: its servers are too (they die with it)
    orphan = SHARED_MEMORY / f"{SHM_PREFIX}{gone.pid}_0_left-behind"
    mine = SHARED_MEMORY / f"{SHM_PREFIX}{os.getpid()}_999_still-in-use"
    theirs = SHARED_MEMORY / f"{SHM_PREFIX}{gone.pid}_1_another-users"
    for region in (orphan, mine, theirs):
        region.write_bytes(b"\0" * 16)
    if os.getuid() == 0:  # root can give a region away: another user's, on a shared host
        os.chown(theirs, 65534, 65534)
    try:
        with TritonServer(runtime, models, tmp_path / "again.log").running():
            assert not orphan.exists(), "swept at the next start"
            assert mine.exists(), "a live starter's regions are its own business"
            assert theirs.exists() == (os.getuid() == 0), "another user's are theirs, even orphaned"
    finally:
        for region in (orphan, mine, theirs):
            region.unlink(missing_ok=True)
