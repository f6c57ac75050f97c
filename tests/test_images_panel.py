"""The Images panel: Dockerfile choices, the build screen, the push screen (fakes), and the
whole tutorial step on a real dockerd and registry, digest checked against the registry."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static, TextArea

from services.backends import open_services
from services.config import Config, RegistryEntry
from services.images.history import ImageHistory
from tests.conftest import fake_app, plain_text, settle
from tests.helpers import MANIFEST_V2, press_in_panel  # noqa: F401  (fixtures)
from tui.app import make_app
from tui.screens.image_build import ImageBuildScreen
from tui.screens.image_push import ImagePushScreen
from tui.settings import AppSettings
from widgets.layer_bars import LayerBars
from widgets.resource_table import ResourceTable


async def type_into(pilot: Pilot[None], selector: str, text: str) -> None:
    box = pilot.app.screen.query_one(selector, Input)
    box.value = text
    box.focus()
    await pilot.pause()


async def test_dockerfile_keys_change_what_is_built() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        dockerfile = app.query_one("#dockerfile", Static)
        assert "FROM nvcr.io/nvidia/tritonserver:23.03-py3" in plain_text(dockerfile)
        await pilot.press("v")
        await type_into(pilot, "Input", "bad")
        await pilot.press("enter")
        await pilot.pause()
        assert "23.03" in plain_text(app.query_one("#dockerfile-title", Static)), "a bad version changes nothing"
        await pilot.press("f")
        await type_into(pilot, "Input", "local/busybox:1")
        await pilot.press("enter")
        await pilot.pause()
        assert "FROM local/busybox:1" in plain_text(dockerfile)
        await pilot.press("e")
        await pilot.pause()
        editor = app.screen.query_one(TextArea)
        editor.text = editor.text + "RUN echo extra\n"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "RUN echo extra" in plain_text(dockerfile) and "edited" in plain_text(app.query_one("#dockerfile-title", Static))
        await pilot.press("c")
        await pilot.pause()
        assert "RUN echo extra" not in plain_text(dockerfile), "switching to the client image starts from the generated file again"


async def test_build_then_push_on_the_fake_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press_in_panel(pilot, "2", "b")
        assert isinstance(app.screen, ImageBuildScreen)
        await pilot.press("ctrl+b")
        await settle(pilot)
        status = plain_text(app.screen.query_one("#build-status", Static))
        assert status.startswith("built sha256:") and "local/tritonserver:23.03-py3" in status
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, ImagePushScreen)
        assert app.screen.query_one("#push-target", Input).value == "registry.gra.ai.cloud.ovh.net/0123456789abcdef/tritonserver:23.03-py3"
        await pilot.press("enter")
        await settle(pilot)
        bars = plain_text(app.screen.query_one(LayerBars))
        assert bars.count("Pushed") == 3 and "total" in bars and "3/3 layers" in bars
        assert "@sha256:" in plain_text(app.screen.query_one("#push-status", Static))
        await pilot.press("escape", "escape")
        await settle(pilot)
        table = app.query_one("#history-table", ResourceTable)
        assert [str(table.get_row_at(row)[0]) for row in range(table.row_count)] == ["push", "build"]


async def test_the_tutorial_image_on_a_real_engine_shows_the_registrys_digest(
    engine, registry, context: Path, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    monkeypatch.setenv("DOCKER_HOST", engine.base_url)
    config = Config().with_registry(RegistryEntry(registry.address))
    app = make_app("local", config, open_services, AppSettings(poll=False), env={})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        assert engine.base_url in plain_text(app.query_one("#engine", Static))
        await pilot.press("f")
        await type_into(pilot, "Input", "local/busybox:1")
        await pilot.press("enter", "b")
        await pilot.pause()
        await type_into(pilot, "#build-context", str(context))
        await pilot.press("enter")
        await settle(pilot)
        assert plain_text(app.screen.query_one("#build-status", Static)).startswith("built sha256:"), plain_text(app.screen.query_one("#build-status", Static))
        await pilot.press("p")
        await pilot.pause()
        target = f"{registry.address}/tritonserver:23.03-py3"
        assert app.screen.query_one("#push-target", Input).value == target
        await pilot.press("enter")
        await settle(pilot)
        status = plain_text(app.screen.query_one("#push-status", Static))
        digest = registry.get("/v2/tritonserver/manifests/23.03-py3", accept=MANIFEST_V2, method="HEAD")[1]["Docker-Content-Digest"]
        assert f"pushed {target}@{digest}" in status.replace("\n", "")
        assert "total" in plain_text(app.screen.query_one(LayerBars))
    assert ImageHistory("local").entries()[0].result == digest
