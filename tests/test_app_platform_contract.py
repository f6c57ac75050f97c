"""The AppPlatform contract: the same assertions on the in-memory fake, the local supervisor
platform (real replicas of the bundled server) and the AI Deploy client against the fake
regional API, as the job platforms have theirs. A new platform proves itself by passing them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

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
from tests.fake_ai_api import TOKEN
from tests.helpers import Contracted, contracted, triton_app

SPEC = triton_app(1)


Backend = Contracted[AppPlatform]


@pytest.fixture(params=["fake", "local", "ai-deploy"])
def backend(request: pytest.FixtureRequest, models_bucket: BucketRef) -> Iterator[Backend]:
    yield from contracted(request.param, lambda: FakeAppPlatform(SNAPSHOT_NOW), LocalAppPlatform, 0.2,
                          lambda api: (AIDeployPlatform(api.base_url, lambda: Secret(TOKEN), "env OVHAI_TOKEN", backoff_s=0.01), api.advance_app))  # fmt: skip


def until(backend: Backend, app_id: str, test: Callable[[App], bool], what: str) -> App:
    app: App = backend.until(app_id, test, what)
    return app


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
