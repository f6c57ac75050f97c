"""Small helpers shared by tests (instead of importing one test module from another)."""

from __future__ import annotations

import io
import json
import shutil
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import pytest
from textual.pilot import Pilot

from services.apps.local import LocalAppPlatform
from services.apps.protocol import App, AppSpec, AppState, FixedScaling, Probe
from services.backends import ServiceSet
from services.cancel import CancelToken
from services.config import Config, Profile, ProfileKind
from services.fake_set import fake_services
from services.jobs.ai_training import AITrainingPlatform
from services.jobs.fake import FakeJobPlatform
from services.jobs.local import LocalJobPlatform
from services.jobs.protocol import Job, JobSpec, JobState, LogItem, VolumeSpec, parse_volume
from services.secrets import Secret
from services.storage.local import LocalObjectStore
from services.storage.planning import plan_upload
from services.storage.protocol import BucketRef, TransferProgress, TransferResult, UploadOptions
from tests.conftest import SNAPSHOT_NOW, deck_config, settle
from tests.fake_ai_api import TOKEN, FakeAITrainingAPI
from tui.app import TritonDeck, make_app
from tui.cli import main
from tui.screens.deploy import DeployScreen
from tui.screens.job_logs import JobLogScreen
from tui.screens.upload import UploadScreen
from tui.settings import AppSettings
from widgets.log_pane import LogPane

DEMO = Path(__file__).resolve().parent.parent / "demo"
# A python model that costs 20 ms a batch of up to 4, whatever its size: under load, more
# instances and dynamic batching raise its throughput predictably (tune's constructed best).
SLEEPER = '''
import time
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        time.sleep(0.02)
        return [pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("Y", pb_utils.get_input_tensor_by_name(r, "X").as_numpy())]) for r in requests]
'''
SLEEPER_CONFIG = '''name: "sleeper"
backend: "python"
max_batch_size: 4
input [{ name: "X" data_type: TYPE_INT32 dims: [ 1 ] }]
output [{ name: "Y" data_type: TYPE_INT32 dims: [ 1 ] }]
instance_group [{ count: 1 kind: KIND_CPU }]
'''


@contextmanager
def explicit_server(scratch: Path) -> Iterator[Any]:
    """A real tritonserver in explicit model-control mode serving `simple` and `sleeper`."""
    from services.triton.runtime import TritonServer, prepare_runtime

    repository = scratch / "models"
    shutil.copytree(DEMO / "model_repository" / "simple", repository / "simple", ignore=shutil.ignore_patterns("__pycache__"))
    (repository / "sleeper" / "1").mkdir(parents=True)
    (repository / "sleeper" / "config.pbtxt").write_text(SLEEPER_CONFIG)
    (repository / "sleeper" / "1" / "model.py").write_text(SLEEPER)
    server = TritonServer(prepare_runtime(scratch / "cache"), repository, scratch / "server.log", extra_args=["--model-control-mode=explicit", "--load-model=*"])
    with server.running() as triton:
        yield triton


def config_of(server: Any, model: str) -> dict[str, object]:
    """The config a server has in force for `model` (/v2/models/{m}/config)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{server.ports.http}/v2/models/{model}/config", timeout=10) as answer:
        document: dict[str, object] = json.loads(answer.read())
    return document


def http_status(url: str, token: str | None = None) -> int:
    """The status of a GET, with a bearer token if given; 0 while nothing answers yet."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, ConnectionError):  # not listening yet, or a guard closing on a server still starting
        return 0


def sequence_batching(value_kind: str, tensor_type: str, max_batch_size: int) -> str:
    """A config body for a sequence model on the sequence batcher: START/END/READY as
    `{value_kind}_false_true` pairs, CORRID as UINT64, one INPUT and one OUTPUT of [1]."""
    controls = [f'{{ name: "{name}" control [ {{ kind: CONTROL_SEQUENCE_{name} {value_kind}_false_true: [ 0, 1 ] }} ] }}' for name in ("START", "END", "READY")]
    controls.append('{ name: "CORRID" control [ { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_UINT64 } ] }')
    return (
        f"max_batch_size: {max_batch_size}\nsequence_batching {{\n  max_sequence_idle_microseconds: 5000000\n  control_input [\n    "
        + ",\n    ".join(controls)
        + f'\n  ]\n}}\ninput [ {{ name: "INPUT" data_type: TYPE_{tensor_type} dims: [ 1 ] }} ]\noutput [ {{ name: "OUTPUT" data_type: TYPE_{tensor_type} dims: [ 1 ] }} ]\n'
    )


class BackgroundLoad:
    """`call` over and over in a thread until the block ends; each outcome kept with its time.

    `with BackgroundLoad(lambda: client.infer(...)) as load: ...`, then `load.outcomes`:
    (monotonic time, True) per success, (time, False) per exception of `failures`."""

    def __init__(self, call: Callable[[], object], failures: tuple[type[BaseException], ...] = (Exception,)) -> None:
        self.call = call
        self.failures = failures
        self.outcomes: list[tuple[float, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.call()
                self.outcomes.append((time.monotonic(), True))
            except self.failures:
                self.outcomes.append((time.monotonic(), False))

    def __enter__(self) -> BackgroundLoad:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run(argv: list[str], env: dict[str, str] | None = None, stdin: str = "") -> tuple[int, str]:
    out = io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        code = main(argv, env=env or {}, out=out)
    finally:
        sys.stdin = old_stdin
    return code, out.getvalue()


def good_repository(root: Path) -> Path:
    repo = root / "model_repository"
    densenet = repo / "densenet_onnx"
    (densenet / "1").mkdir(parents=True)
    (densenet / "config.pbtxt").write_text(DENSENET_CONFIG)
    (densenet / "densenet_labels.txt").write_text("".join(f"CLASS {n}\n" for n in range(1000)))
    (densenet / "1" / "model.onnx").write_bytes(b"onnx")
    simple = repo / "simple"
    (simple / "1").mkdir(parents=True)
    (simple / "config.pbtxt").write_text(PYTHON_CONFIG)
    (simple / "1" / "model.py").write_text("class TritonPythonModel: pass\n")
    return repo


DEMO_REPOSITORY = Path(__file__).resolve().parent.parent / "demo" / "model_repository"


def wait_for(platform: LocalJobPlatform, job_id: str, states: set[JobState], timeout: float = 90) -> JobState:
    deadline = time.monotonic() + timeout
    while True:
        state = platform.get(job_id).state
        if state in states or time.monotonic() > deadline:
            return state
        time.sleep(0.2)


def upload_demo_repository(monkeypatch: pytest.MonkeyPatch) -> BucketRef:
    """The whole demo repository in my-models@LOCAL, as the tutorial's upload leaves it."""
    monkeypatch.chdir(DEMO_REPOSITORY.parent)
    store = LocalObjectStore()
    bucket = BucketRef("my-models", "LOCAL")
    store.create_bucket(bucket)
    assert store.upload(bucket, plan_upload(["model_repository/"], "model_repository/"), UploadOptions(), lambda _p: None, CancelToken()).ok
    return bucket


def tutorial_spec() -> JobSpec:
    return JobSpec(
        image="local/tritonserver", command=TUTORIAL_COMMAND, gpu=1, unsecure_http=True,
        volumes=(VolumeSpec("my-models", "LOCAL", "/workspace/models", "RO"),),
    )  # fmt: skip


async def wait_until(pilot, condition, tries: int = 100) -> None:  # type: ignore[no-untyped-def]
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.05)
    assert condition()


TUTORIAL_SPEC = JobSpec(
    image="registry.gra.ai.cloud.ovh.net/0123/tritonserver:23.03-py3",
    command=("bash", "-c", "tritonserver --model-repository=/workspace/models"),
    gpu=1,
    default_http_port=8000,
    unsecure_http=True,
    volumes=(parse_volume("my-models@GRA:/workspace/models:RO"),),
)


def platform_for(api: FakeAITrainingAPI, sleeps: Sleeps | None = None, token: str = TOKEN, **options: object) -> AITrainingPlatform:
    return AITrainingPlatform(api.base_url, lambda: Secret(token), "env OVHAI_TOKEN", backoff_s=0.01, sleep=sleeps if sleeps is not None else (lambda _s: None), **options)  # type: ignore[arg-type]


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


EXPECTED_TOP3 = {
    "coffee.png": ["10.410741:967:espresso", "8.048911:968:tea cup", "6.919769:504:coffee mug"],
    "chelsea.png": ["8.611941:285:Egyptian Mau", "8.287271:281:tabby cat", "8.063459:282:tiger cat"],
    "rocket.png": ["7.336833:657:missile", "6.719066:744:projectile", "5.226316:812:space shuttle"],
}


DENSENET_CONFIG = (Path(__file__).parent / "data" / "densenet_config.pbtxt").read_text()


PYTHON_CONFIG = """name: "simple"
backend: "python"
max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_INT32 dims: [ 16 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 16 ] } ]
"""


TUTORIAL_COMMAND = ("bash", "-c", "tritonserver --model-repository=/workspace/models")


# The preprocessing the demo EfficientNet was trained with (short side to 256, centre crop 224,
# ImageNet mean and standard deviation, NCHW): what the recorded answers below were made with.
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)


IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def local_store_app(root: Path) -> tuple[TritonDeck, LocalObjectStore]:
    store = LocalObjectStore(root)
    store.create_bucket(BUCKET)

    def factory(profile: Profile) -> ServiceSet:
        services = fake_services(profile)
        services.object_store = store
        return services

    settings = AppSettings(now=lambda: SNAPSHOT_NOW, poll=False)
    return make_app("local", Config(), factory, settings, env={}), store


async def open_upload(pilot: Pilot[None]) -> UploadScreen:
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)
    await pilot.press("u")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, UploadScreen)
    return screen


class TickingPlatform(FakeJobPlatform):
    """The fake platform, moving its jobs one state per look, as time passes on a real one."""

    def __init__(self, base: FakeJobPlatform, fail_runs: bool = False) -> None:
        self.__dict__.update(base.__dict__)
        self._fail_runs = fail_runs

    def get(self, job_id: str) -> Job:
        self.tick()
        return super().get(job_id)

    def run(self, spec: JobSpec) -> Job:
        if self._fail_runs:
            return self.add(spec, JobState.FAILED, info="Job failed: image pull back-off")
        return super().run(spec)


def deploy_app(fail_runs: bool = False, full_bucket: bool = False) -> TritonDeck:
    def services(profile: Profile) -> ServiceSet:
        base = fake_services(profile)
        assert isinstance(base.job_platform, FakeJobPlatform)
        base.job_platform = TickingPlatform(base.job_platform, fail_runs)
        if full_bucket:
            base.object_store = FullBucketStore(base.object_store)  # type: ignore[assignment]
        return base

    return make_app("local", deck_config(), services, AppSettings(now=lambda: SNAPSHOT_NOW, poll=False), env={})


async def open_and_run(pilot: Pilot[None], before: Callable[[], None] | None = None) -> None:
    await pilot.press("0")
    await pilot.pause()
    assert isinstance(pilot.app.screen, DeployScreen)
    if before:
        before()
    await pilot.press("r")
    await settle(pilot)


SPEC = JobSpec(image="tritonserver:23.03-py3", name="busy")


def stamped(text: str, source: str = "job") -> str:
    return f"2026-11-25T14:00:00Z [{source}] {text}"


class ScriptedPlatform(FakeJobPlatform):
    """A fake whose log stream is whatever the test scripts, markers included."""

    def __init__(self, items: list[LogItem], gate: threading.Event | None = None) -> None:
        super().__init__(SNAPSHOT_NOW)
        self.items = items
        self.gate = gate

    def follow_logs(self, job_id: str, cancel: CancelToken) -> Iterator[LogItem]:
        yield from self.items
        if self.gate is not None:
            self.gate.wait(10)
            yield stamped("after the gate")


async def open_logs(app: TritonDeck, pilot: Pilot[None], job: Job, expect: int) -> LogPane:
    app.push_screen(JobLogScreen(job))
    await pilot.pause()
    pane = app.screen.query_one(LogPane)
    for _ in range(200):
        if pane.received >= expect:
            break
        await pilot.pause(0.02)
    assert pane.received == expect
    await pilot.pause()
    return pane


async def open_server_log(pilot: Pilot[None]) -> LogPane:
    await pilot.press("3")
    await settle(pilot)
    await pilot.press("j", "l")  # the running server's log: eight lines
    pane = pilot.app.screen.query_one(LogPane)
    for _ in range(100):
        if pane.received == 8:
            break
        await pilot.pause(0.05)
    return pane


def triton_app(replicas: int = 2, **changes: object) -> AppSpec:
    spec = AppSpec(
        image="local/tritonserver", command=SERVER, name="triton", default_http_port=8000, grpc_port=8001, unsecure_http=True,
        volumes=(VolumeSpec("my-models", "LOCAL", "/workspace/models", "RO"),), probe=Probe("/v2/health/ready", 8000),
        scaling=FixedScaling(replicas),
    )  # fmt: skip
    return AppSpec(**{**spec.__dict__, **changes})  # type: ignore[arg-type]


def wait_for_app(platform: LocalAppPlatform, app_id: str, test: Callable[[App], bool], timeout: float = 120) -> App:
    deadline = time.monotonic() + timeout
    while True:
        app = platform.get(app_id)
        if test(app):
            return app
        assert time.monotonic() < deadline, f"app stayed {app.state} ({app.available_replicas}/{app.desired}): {app.info_message}"
        time.sleep(0.2)


@contextmanager
def running_app(replicas: int, **changes: object) -> Iterator[tuple[LocalAppPlatform, App]]:
    """A local Triton app with `replicas` ready, deleted (force) when the block ends."""
    platform = LocalAppPlatform()
    app = platform.run(triton_app(replicas, **changes))
    try:
        yield platform, wait_for_app(platform, app.id, lambda a: a.state is AppState.RUNNING and a.available_replicas == replicas)
    finally:
        platform.delete(app.id, force=True)


def replica_ports(platform: LocalAppPlatform, app: App) -> list[int]:
    """Each live replica's HTTP port, from its own log line."""
    log = (platform.root / app.id / "log.txt").read_text()
    ports = [int(line.split("(HTTP ", 1)[1].split(",", 1)[0]) for line in log.splitlines() if " starting (HTTP " in line]
    return [port for port in ports if _answers(port)]


def infer_count(port: int) -> int:
    stats = get_json(f"http://127.0.0.1:{port}/v2/models/simple/stats")
    return sum(int(model["inference_stats"]["success"]["count"]) for model in stats["model_stats"])  # type: ignore[index, union-attr]


BUCKET = BucketRef("my-models", "LOCAL")


class FullBucketStore:
    """The fake store, refusing every file as a bucket over its quota would."""

    def __init__(self, base: object) -> None:
        self._base = base
        self.uploads = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._base, name)

    def upload(self, bucket, items, options, progress, cancel):  # type: ignore[no-untyped-def]
        self.uploads += 1
        return TransferResult(failed=tuple((item.key, "QuotaExceeded: the container is full") for item in items))


SERVER = ("tritonserver", "--model-repository=/workspace/models")


def get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        document: dict[str, object] = json.loads(answer.read())
    return document


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def nothing(_progress: TransferProgress) -> None:
    pass


Platform = TypeVar("Platform")


@dataclass
class Contracted(Generic[Platform]):
    """A platform under its contract tests, and how to let time pass for one of its jobs or
    apps: the fake ticks, the API fake advances, real processes just run."""

    platform: Platform
    nudge: Callable[[str], None]

    def until(self, item_id: str, test: Callable[[Any], bool], what: str) -> Any:
        """The job or app once `test` holds for it; fails saying `what` it never got."""
        for _ in range(600):
            item = self.platform.get(item_id)  # type: ignore[attr-defined]
            if test(item):
                return item
            self.nudge(item_id)
        raise AssertionError(f"{item_id} never got {what}: {item.state}")


def contracted(kind: str, fake: Callable[[], Any], local: Callable[[], Any], nap_s: float,
               remote: Callable[[FakeAITrainingAPI], tuple[Any, Callable[[str], None]]]) -> Iterator[Contracted[Any]]:  # fmt: skip
    """The platform of `kind` ("fake", "local" or the remote one against the API fake), and
    afterwards nothing left of it: local jobs and apps deleted, the API fake stopped."""
    if kind == "fake":
        made = fake()
        yield Contracted(made, lambda _id: made.tick())
    elif kind == "local":
        made = local()
        yield Contracted(made, lambda _id: time.sleep(nap_s))
        for item in made.list():
            made.delete(item.id, force=True)
    else:
        api = FakeAITrainingAPI().start()
        try:
            yield Contracted(*remote(api))
        finally:
            api.stop()


def ovh_deck(api: FakeAITrainingAPI, attach: Callable[[ServiceSet], None]) -> TritonDeck:
    """The app on the OVHcloud profile `gra`, polling fast, with the platforms `attach` sets
    talking to the API fake and every other service a fake."""
    profile = Profile(name="gra", kind=ProfileKind.OVHCLOUD, region="GRA", api_url=api.base_url)

    def services(chosen: Profile) -> ServiceSet:
        built = fake_services(chosen)
        attach(built)
        return built

    config = Config(profiles={"gra": profile}, active_profile="gra")
    return make_app("gra", config, services, AppSettings(poll_fast_s=0.2, poll_slow_s=0.5), env={})


async def press_in_panel(pilot: Pilot[None], panel: str, key: str) -> None:
    """Show the panel of number key `panel`, let it list, then press `key` on it."""
    await pilot.press(panel)
    await settle(pilot)
    await pilot.press(key)
    await pilot.pause()
