"""Apps: the `ovhai app list` table (AI Deploy, or local replicas), polled adaptively, with
describe, logs, scale, set image, start, stop and delete (behind confirmations).

Polled as the Jobs panel is (see `PolledPanel`): fast while any app is on its way
(QUEUED, INITIALIZING, SCALING, STOPPING), slow once everything is RUNNING or down.
"""

from __future__ import annotations

from datetime import datetime

from services.apps.protocol import App, AppPlatform, AppSpec, AppState, Scaling, scaling_summary
from services.backends import Capability
from services.usecases.apps import run_app, scale_app, stop_app
from tui.keymap import KEYMAP
from tui.panels.polled import PolledPanel
from tui.render import app_cells
from tui.screens.app_detail import AppDetailScreen, app_state_text
from tui.screens.app_logs import AppLogScreen
from tui.screens.app_run import AppRunScreen
from tui.screens.app_scale import AppScaleScreen
from tui.screens.prompt import PromptScreen
from widgets.resource_table import Row

APP_COLUMNS = ("ID", "NAME", "STATE", "REPLICAS", "SCALING", "IMAGE", "AGE", "URL")


class AppsPanel(PolledPanel):
    capability = Capability.APPS

    BINDINGS = KEYMAP["apps"]

    noun = "apps"
    columns = APP_COLUMNS
    running = "still up"
    empty = "no apps yet: n runs Triton as one"

    def platform(self) -> AppPlatform:
        return self.services.apps()

    def ended(self, item: App) -> bool:
        return item.state.is_down

    def moving(self, item: App) -> bool:
        return not item.state.is_down and item.state is not AppState.RUNNING

    def row(self, item: App, now: datetime) -> Row:
        cells = app_cells(item, now, narrow=True)
        return Row(item.id, tuple(app_state_text(item) if column == "STATE" else cells[column] for column in APP_COLUMNS))

    # -- actions ---------------------------------------------------------------------------------

    def address(self, item: App) -> str | None:
        return item.url

    def action_describe(self) -> None:
        if app := self.selected():
            self.app.push_screen(AppDetailScreen(app))

    def action_logs(self) -> None:
        if app := self.selected():
            self.app.push_screen(AppLogScreen(app))

    def action_new_app(self) -> None:
        profile = self.services.profile
        image = f"{profile.registry}/tritonserver:23.03-py3" if profile.registry else "nvcr.io/nvidia/tritonserver:23.03-py3"
        defaults = {"image": image, "name": "triton-app", "models": f"my-models@{profile.region}", "replicas": "1"}

        def started(app: App) -> tuple[str, str]:
            return f"started app {app.name}", app.id  # the cursor goes to it

        def chosen(spec: AppSpec | None) -> None:
            if spec is not None:
                self.change(lambda: started(run_app(self.platform(), spec, self.services.object_store)))

        self.app.push_screen(AppRunScreen(defaults), chosen)

    def action_scale(self) -> None:
        app = self.selected()
        if app is None:
            return

        def chosen(scaling: Scaling | None) -> None:
            if scaling is None:
                return

            def scale(platform: AppPlatform) -> str:
                scale_app(platform, app, scaling)
                return f"app {app.short_id}: scaling set to {scaling_summary(scaling)}"

            self.change(lambda: scale(self.platform()))

        self.app.push_screen(AppScaleScreen(app.name, app.spec.scaling), chosen)

    def action_set_image(self) -> None:
        app = self.selected()
        if app is None:
            return

        def chosen(image: str | None) -> None:
            if not image or image == app.spec.image:
                return

            def set_image(platform: AppPlatform) -> str:
                platform.set_image(app.id, image)
                return f"app {app.short_id}: image set to {image}"

            self.change(lambda: set_image(self.platform()))

        self.app.push_screen(PromptScreen(f"Image for app {app.name}:", app.spec.image), chosen)

    def action_start(self) -> None:
        app = self.selected()
        if app is None:
            return
        if not app.state.is_down:
            self.notify(f"app {app.short_id} is {app.state}: only a stopped app starts", severity="warning")
            return

        def start(platform: AppPlatform) -> str:
            platform.start(app.id)
            return f"start requested for app {app.short_id}"

        self.change(lambda: start(self.platform()))

    def action_stop(self) -> None:
        apps = self.targets()
        if not apps:
            return

        def stop(app: App) -> str:
            stop_app(self.platform(), app)
            return f"stop requested for app {app.short_id}"

        detail = "Replicas are freed; each app, its URL and its settings are kept (t starts it again)."
        self.confirm_then_act("Stop", apps, detail, stop, "stop requested for", at_once="stopping")
