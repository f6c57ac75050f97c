"""`app run` cut by a kill -9 at each step: the app is listed, ends, and can be deleted.

(The job twins are in test_log_bytes.py; a supervisor killed after its start in test_local_apps.py.)
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from services.apps.local import LocalAppPlatform
from services.apps.protocol import AppSpec, AppState, FixedScaling
from services.supervised.presence import SPAWN_GRACE_S

SPEC = AppSpec(image="local/tritonserver", command=("tritonserver", "--model-repository=/workspace/models"), name="cut", scaling=FixedScaling(1))


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_killed_after_the_record_before_the_spawn(monkeypatch: pytest.MonkeyPatch) -> None:
    platform = LocalAppPlatform()
    monkeypatch.setattr(LocalAppPlatform, "_spawn", lambda self, app_dir: None)  # the kill lands here
    app = platform.run(SPEC)
    assert [listed.state for listed in platform.list()] == [AppState.QUEUED], "listed, starting within the grace period"
    age(platform.root / app.id / "app.json", SPAWN_GRACE_S + 1)
    failed = platform.get(app.id)
    assert failed.state is AppState.FAILED and "never started" in (failed.info_message or "")
    platform.delete(app.id)
    assert platform.list() == [] and not (platform.root / app.id).exists()


def test_killed_while_the_directory_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    platform = LocalAppPlatform()
    platform.root.mkdir(parents=True)
    half = platform.root / "5e1f0c2a-0000-4000-8000-000000000001"
    half.mkdir()
    assert platform.list() == [] and half.exists(), "a directory being made is left to its maker"
    age(half, SPAWN_GRACE_S + 1)
    platform.delete(half.name)
    assert not half.exists()
    other = platform.root / "5e1f0c2a-0000-4000-8000-000000000002"
    other.mkdir()
    age(other, SPAWN_GRACE_S + 1)
    assert platform.list() == [] and not other.exists(), "swept by the next listing"
