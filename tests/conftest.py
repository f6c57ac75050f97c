"""Shared fixtures: an isolated home and XDG dirs, a fixed clock, the app on fakes."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Input, Static

from services import secrets
from services.cancel import CancelToken
from services.config import Config, Profile, ProfileKind, S3Credentials, local_profile
from services.fake_set import FROZEN_NOW, fake_services
from services.images.docker_builder import DockerImageBuilder
from services.images.engine import EngineAddress
from services.secrets import Secret
from services.storage.fake import InMemoryObjectStore
from services.storage.local import LocalObjectStore
from services.storage.planning import plan_upload
from services.storage.protocol import BucketRef, ObjectStore, UploadOptions
from services.storage.s3 import S3ObjectStore
from tests.container_engine import Dockerd, Registry, import_base_image, start_dockerd, start_registry
from tests.fake_ai_api import FakeAITrainingAPI
from tui.app import TritonDeck, make_app
from tui.settings import AppSettings

MIB = 1024 * 1024
_bucket_counter = iter(range(10_000))  # bucket names apart across the store contract's tests

# A fixed "now", ten minutes after the fake world's jobs were created.
SNAPSHOT_NOW = FROZEN_NOW + timedelta(minutes=10)


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No test reads or writes the developer's real config, credentials or caches."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"), ("XDG_CACHE_HOME", "cache")):
        monkeypatch.setenv(name, str(tmp_path / sub))
    for name in ("TRITON_DECK_PROFILE", "OVHAI_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield home


@pytest.fixture(autouse=True)
def secrets_of_this_test_only() -> Iterator[None]:
    """`redact` masks every value ever wrapped in a Secret, process-wide: a test that wraps
    moto's access key "test" would otherwise mask "test" in the next test's paths."""
    with secrets._known_lock:
        before = set(secrets._known_values)
    yield
    with secrets._known_lock:
        secrets._known_values.intersection_update(before)


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """The palette's Input is out of the settings' reach; stop every cursor blinking."""
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A real S3-compatible server (moto's, over HTTP) on a free loopback port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def gra_profile() -> Profile:
    return Profile(name="gra", kind=ProfileKind.OVHCLOUD, region="GRA")


def deck_config() -> Config:
    return Config().with_profile(gra_profile())


def fake_app(profile: str = "local", config: Config | None = None) -> TritonDeck:
    """The real app on seeded fakes, frozen in time and not polling."""
    settings = AppSettings(now=lambda: SNAPSHOT_NOW, poll=False)
    return make_app(profile, config or deck_config(), fake_services, settings, env={})


async def settle(pilot: Pilot[None]) -> None:
    """Every worker finished and the screen refreshed: what a Pilot test asserts against. A
    message handled in the pause may start another worker (a highlight loads its detail), so
    it goes round until none is left: on a loaded CI machine one round was not always enough."""
    for _ in range(10):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await refreshed(pilot)
        if not any(worker.is_running for worker in pilot.app.workers):
            break


async def refreshed(pilot: Pilot[None]) -> None:
    """Whatever the app put off until after the next refresh (`call_after_refresh`: a panel's
    focus once it is shown) has run. `pause` waits for the message queues only, and the refresh
    is a timer: on a loaded machine the next key used to arrive before the focus did. Callbacks
    run in order, so once this marker has run, every earlier one has too."""
    done = asyncio.Event()
    pilot.app.call_after_refresh(done.set)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), timeout=10)
    await pilot.pause()


def plain_text(widget: Static) -> str:
    """What a Static shows, as plain text on a wide console (no wrapping to get in the way)."""
    console = Console(width=220, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


__all__ = ["SNAPSHOT_NOW", "deck_config", "fake_app", "gra_profile", "local_profile", "os", "plain_text", "settle"]


@pytest.fixture
def models_bucket(monkeypatch: pytest.MonkeyPatch) -> BucketRef:
    """The demo's `simple` model in my-models@LOCAL: a fast start for a local server."""
    from tests.helpers import DEMO_REPOSITORY

    monkeypatch.chdir(DEMO_REPOSITORY.parent)
    store = LocalObjectStore()
    bucket = BucketRef("my-models", "LOCAL")
    store.create_bucket(bucket)
    items = [item for item in plan_upload(["model_repository/"], "model_repository/") if item.key.startswith("simple/")]
    assert store.upload(bucket, items, UploadOptions(), lambda _p: None, CancelToken()).ok
    return bucket


@pytest.fixture(scope="module")
def explicit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """tests/helpers.py's explicit-mode server (`simple`, `sleeper`), one per test module."""
    from tests.helpers import explicit_server

    with explicit_server(tmp_path_factory.mktemp("tune")) as triton:
        yield triton


@pytest.fixture(scope="module")
def engine() -> Iterator[Dockerd]:
    dockerd = start_dockerd()
    try:
        import_base_image(dockerd)
        yield dockerd
    finally:
        dockerd.stop()


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    started = start_registry()
    yield started
    started.stop()


@pytest.fixture
def builder(engine: Dockerd) -> Iterator[DockerImageBuilder]:
    client = DockerImageBuilder(EngineAddress(engine.base_url, "test"))
    yield client
    client.close()


@pytest.fixture
def context(tmp_path: Path) -> Path:
    (tmp_path / "models" / "simple" / "1").mkdir(parents=True)
    (tmp_path / "models" / "simple" / "config.pbtxt").write_text('name: "simple"\n')
    (tmp_path / "secret.txt").write_text("left out by .dockerignore\n")
    (tmp_path / ".dockerignore").write_text("secret.txt\n")
    return tmp_path


@pytest.fixture(params=["fake", "local", "s3"])
def store_and_bucket(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[ObjectStore, BucketRef]:
    """The ObjectStore contract: every test below runs on the in-memory fake, the directory
    store and boto3 against moto's server; a new backend proves itself by passing them."""
    number = next(_bucket_counter)
    if request.param == "fake":
        store = InMemoryObjectStore(FROZEN_NOW)
        bucket = BucketRef(f"models-{number}", "GRA")
    elif request.param == "local":
        store: ObjectStore = LocalObjectStore(tmp_path / "buckets")
        bucket = BucketRef(f"models-{number}", "LOCAL")
    else:
        endpoint = request.getfixturevalue("moto_endpoint")
        credentials = S3Credentials(Secret("test-access"), Secret("test-secret-key"), "test")
        store = S3ObjectStore(credentials, endpoint_url=endpoint, signing_region="us-east-1", multipart_threshold=5 * MIB, part_size=5 * MIB)
        bucket = BucketRef(f"models-{number}", "GRA")
    store.create_bucket(bucket)
    return store, bucket


@pytest.fixture
def api() -> Iterator[FakeAITrainingAPI]:
    """The fake regional OVHcloud API (AI Training and AI Deploy) on a free 127.0.0.1 port."""
    server = FakeAITrainingAPI().start()
    yield server
    server.stop()
