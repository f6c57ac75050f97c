"""The Apps panel: the run form with the Triton preset, the scale dialog, set image, stop,
start and delete behind confirmations, and the merged log with its replica filter, live
against the fake AI Deploy API; and the panel's notice where a profile has no apps."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from services.apps.ai_deploy import AIDeployPlatform
from services.apps.protocol import FixedScaling
from services.backends import Capability
from services.config import Profile
from services.fake_set import fake_services
from services.secrets import Secret
from tests.conftest import fake_app
from tests.fake_ai_api import TOKEN, FakeAITrainingAPI
from tests.helpers import ovh_deck, wait_until
from tui.app import TritonDeck, make_app
from tui.screens.app_logs import AppLogScreen
from tui.screens.app_run import AppRunScreen
from tui.screens.app_scale import AppScaleScreen, scaling_from_fields
from tui.settings import AppSettings
from widgets.log_pane import LogPane
from widgets.notice import Notice
from widgets.resource_table import ResourceTable


def deploy_app(api: FakeAITrainingAPI) -> TritonDeck:
    return ovh_deck(api, lambda built: setattr(built, "app_platform", AIDeployPlatform(api.base_url, lambda: Secret(TOKEN), "env OVHAI_TOKEN")))


def cells(app: TritonDeck, column: int) -> list[str]:
    table = app.query_one("#apps-table", ResourceTable)
    return [str(table.get_row_at(row)[column]) for row in range(table.row_count)]


async def test_an_app_from_the_run_form_to_delete_live(api: FakeAITrainingAPI) -> None:
    app = deploy_app(api)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5", "n")
        await pilot.pause()
        assert isinstance(app.screen, AppRunScreen)
        assert app.screen.query_one("#app-models", Input).value == "my-models@GRA"
        app.screen.query_one("#app-replicas", Input).value = "2"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: cells(app, 2) == ["QUEUED"])
        (app_id,) = api.apps
        spec = api.apps[app_id].document["spec"]
        assert spec["probe"] == {"path": "/v2/health/ready", "port": 8000} and spec["scalingStrategy"] == {"fixed": {"replicas": 2}}
        for _ in range(3):
            api.advance_app(app_id)
        await wait_until(pilot, lambda: cells(app, 2) == ["RUNNING"] and cells(app, 3) == ["2/2"])

        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, AppScaleScreen)
        app.screen.query_one("#scale-bounds", Input).value = "1-4"
        app.screen.query_one("#scale-signal", Input).value = "RAM"
        app.screen.query_one("#scale-target", Input).value = "60"
        app.screen.query_one("#scale-replicas", Input).value = ""
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: cells(app, 4) == ["auto 1-4 RAM≥60%"])
        assert api.apps[app_id].document["spec"]["scalingStrategy"] == {
            "automatic": {"replicasMin": 1, "replicasMax": 4, "resourceType": "RAM", "averageUsageTarget": 60}
        }

        await pilot.press("i")
        await pilot.pause()
        app.screen.query_one(Input).value = "nvcr.io/nvidia/tritonserver:24.09-py3"
        await pilot.press("enter")
        await wait_until(pilot, lambda: api.apps[app_id].document["spec"]["image"].endswith("24.09-py3"))

        api.emit(app_id, ["replica zero says hi"], source=f"{app_id[:8]}-0")
        api.emit(app_id, ["replica one says hi"], source=f"{app_id[:8]}-1")
        await pilot.press("x", "y")
        await wait_until(pilot, lambda: cells(app, 2) == ["STOPPED"])
        await pilot.press("t")
        await wait_until(pilot, lambda: cells(app, 2) == ["QUEUED"])
        await pilot.press("ctrl+d", "y")
        await wait_until(pilot, lambda: not api.apps)


async def test_the_log_merges_replicas_and_s_keeps_one() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5", "j", "j", "l")
        screen = app.screen
        assert isinstance(screen, AppLogScreen)
        pane = screen.query_one(LogPane)
        await wait_until(pilot, lambda: pane.received == 16)
        await pilot.press("s")
        await pilot.pause()
        assert pane.details == "from 00000001-0 only" and screen._model.count == 8
        await pilot.press("s", "s")
        await pilot.pause()
        assert screen._model.source is None and screen._model.count == 16


async def test_a_profile_without_apps_says_why() -> None:
    def services(chosen: Profile):  # type: ignore[no-untyped-def]
        built = fake_services(chosen)
        built.app_platform = None
        built.unavailable[Capability.APPS] = "Apps: no AI Deploy token: set OVHAI_TOKEN"
        return built

    app = make_app("local", None, services, AppSettings(poll=False), env={})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await pilot.pause()
        assert "no AI Deploy token" in str(app.query_one("#apps-panel-notice", Notice).render())


def test_the_scale_dialog_follows_the_cli_rule() -> None:
    assert scaling_from_fields({"replicas": "3", "bounds": "", "signal": "CPU", "target": "75"}) == FixedScaling(3)
    custom = scaling_from_fields({"replicas": "", "bounds": "1-3", "signal": 'nv_inference_pending_request_count{model="m"}', "target": "4"})
    assert custom.custom_metric is not None and custom.custom_metric.api_url == "http://<SELF>:8002/metrics"  # type: ignore[union-attr]
    with pytest.raises(Exception, match="min-max"):
        scaling_from_fields({"replicas": "", "bounds": "three", "signal": "CPU", "target": "75"})
