"""The AppPlatform contract: the same assertions on the in-memory fake, the local supervisor
platform (real replicas of the bundled server) and the AI Deploy client against the fake
regional API, as the job platforms have theirs. A new platform proves itself by passing them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from services.apps.ai_deploy import AIDeployPlatform
from services.apps.fake import FakeAppPlatform
from services.apps.local import LocalAppPlatform
from services.apps.protocol import App, AppPlatform, AppState, FixedScaling
from services.errors import UserError
from services.secrets import Secret
from services.storage.protocol import BucketRef
from services.usecases.apps import resolve_app
from tests.conftest import SNAPSHOT_NOW
from tests.fake_ai_api import TOKEN, FakeAITrainingAPI
from tests.helpers import triton_app

SPEC = triton_app(1)


@dataclass
class Backend:
    platform: AppPlatform
    nudge: Callable[[str], None]  # let time pass for an app: the fake ticks, the API fake advances, real replicas just run


@pytest.fixture(params=["fake", "local", "ai-deploy"])
def backend(request: pytest.FixtureRequest, models_bucket: BucketRef) -> Iterator[Backend]:
    if request.param == "fake":
        fake = FakeAppPlatform(SNAPSHOT_NOW)
        yield Backend(fake, lambda _app_id: fake.tick())
    elif request.param == "local":
        local = LocalAppPlatform()
        yield Backend(local, lambda _app_id: time.sleep(0.2))
        for app in local.list():
            local.delete(app.id, force=True)
    else:
        api = FakeAITrainingAPI().start()
        try:
            yield Backend(AIDeployPlatform(api.base_url, lambda: Secret(TOKEN), "env OVHAI_TOKEN", backoff_s=0.01), api.advance_app)
        finally:
            api.stop()


def until(backend: Backend, app_id: str, test: Callable[[App], bool], what: str) -> App:
    for _ in range(600):
        app = backend.platform.get(app_id)
        if test(app):
            return app
        backend.nudge(app_id)
    raise AssertionError(f"app {app_id} never got {what}: {app.state} {app.available_replicas}/{app.desired}")


def test_an_app_runs_scales_stops_starts_and_is_deleted(backend: Backend) -> None:
    platform = backend.platform
    app = platform.run(SPEC)
    assert app.state in (AppState.QUEUED, AppState.INITIALIZING) and app.spec.image == SPEC.image and app.name == "triton"
    assert app.id in [listed.id for listed in platform.list()] and resolve_app(platform, app.id[:12]).id == app.id
    until(backend, app.id, lambda a: a.state is AppState.RUNNING and a.available_replicas == 1, "running with 1 replica")
    assert [listed.id for listed in platform.list((AppState.RUNNING,))] == [app.id]
    platform.scale(app.id, FixedScaling(2))
    until(backend, app.id, lambda a: a.desired == 2, "2 replicas desired")
    with pytest.raises(UserError):
        platform.delete(app.id)  # a running app needs a stop or force
    platform.stop(app.id)
    stopped = until(backend, app.id, lambda a: a.state is AppState.STOPPED, "stopped")
    assert stopped.available_replicas == 0 and AppState.RUNNING in [change.state for change in stopped.history]
    platform.start(app.id)
    until(backend, app.id, lambda a: a.state.is_up, "up again")
    platform.delete(app.id, force=True)
    assert app.id not in [listed.id for listed in platform.list()]
    with pytest.raises(UserError):
        platform.get(app.id)


def test_logs_are_lines(backend: Backend) -> None:
    platform = backend.platform
    app = platform.run(SPEC)
    until(backend, app.id, lambda a: a.state is AppState.RUNNING, "running")
    assert all(isinstance(line, str) for line in platform.logs(app.id))
    assert all(isinstance(line, str) for line in platform.logs(app.id, tail=1))
    platform.delete(app.id, force=True)


def test_an_unknown_app_is_one_clear_error(backend: Backend) -> None:
    with pytest.raises(UserError, match="not found|no app"):
        backend.platform.get("00000000-0000-0000-0000-00000000dead")
