"""Apps: the `ovhai app list` table (AI Deploy, or local replicas), polled adaptively, with
describe, logs, scale, set image, start, stop and delete (behind confirmations).

Polling is fast while any app is on its way (QUEUED, INITIALIZING, SCALING, STOPPING),
slow once everything is RUNNING or down, as on the Jobs panel.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from services.apps.protocol import App, AppPlatform, AppSpec, AppState, Scaling, scaling_summary
from services.backends import Capability
from services.units import human_age
from services.usecases.apps import run_app, scale_app, stop_app
from tui.panels.base import Panel, confirm_screen
from tui.panels.jobs import short_image
from tui.screens.app_detail import AppDetailScreen, app_state_text
from tui.screens.app_logs import AppLogScreen
from tui.screens.app_run import AppRunScreen
from tui.screens.app_scale import AppScaleScreen
from tui.screens.prompt import PromptScreen
from widgets.filter_bar import FilterBar
from widgets.notice import NoticeKind
from widgets.resource_table import ResourceTable, Row

APP_COLUMNS = ("ID", "NAME", "STATE", "REPLICAS", "SCALING", "IMAGE", "AGE", "URL")
POLL_TICK_S = 0.5


class AppsPanel(Panel):
    capability = Capability.APPS
    title = "Apps"

    BINDINGS = [
        Binding("enter", "describe", "Describe", show=False),
        Binding("n", "new_app", "Run app"),
        Binding("l", "logs", "Logs"),
        Binding("s", "scale", "Scale"),
        Binding("i", "set_image", "Image"),
        Binding("t", "start", "Start"),
        Binding("x", "stop", "Stop"),
        Binding("ctrl+d", "delete", "Delete"),
        Binding("slash", "filter", "Filter"),
        Binding("r", "refresh", "Refresh", show=False),
    ]

    @dataclass
    class Listed(Message):
        apps: list[App]

    @dataclass
    class Changed(Message):
        """An action went through; the text says which."""

        text: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._apps: dict[str, App] = {}
        self._last_poll = 0.0
        self._listed_once = False

    def compose_body(self) -> ComposeResult:
        yield FilterBar(id="apps-filter")
        yield ResourceTable(APP_COLUMNS, id="apps-table")

    @property
    def table(self) -> ResourceTable:
        return self.query_one(ResourceTable)

    def on_mount(self) -> None:
        super().on_mount()
        if self.deck.settings.poll:
            self.set_interval(POLL_TICK_S, self._poll_tick)

    def is_available(self) -> bool:
        return self.services.app_platform is not None

    def reload(self) -> None:
        self._apps = {}
        self._listed_once = False
        super().reload()

    def load(self) -> None:
        if not self._listed_once:
            self.show_notice(NoticeKind.LOADING, "listing apps…")
        self._last_poll = time.monotonic()
        self._list_apps()

    def _poll_tick(self) -> None:
        settings = self.deck.settings
        moving = any(not app.state.is_down and app.state is not AppState.RUNNING for app in self._apps.values())
        interval = settings.poll_fast_s if moving else settings.poll_slow_s
        if self.is_available() and time.monotonic() - self._last_poll >= interval:
            self.load()

    @work(thread=True, exclusive=True, group="apps-list", exit_on_error=False)
    def _list_apps(self) -> None:
        self.post_message(self.Listed(self.services.apps().list()))

    @on(Listed)
    def _show_apps(self, message: Listed) -> None:
        self._listed_once = True
        self._apps = {app.id: app for app in message.apps}
        now = self.deck.settings.now()
        rows = [
            Row(app.id, (
                app.short_id, app.name, app_state_text(app), f"{app.available_replicas}/{app.desired}", scaling_summary(app.spec.scaling),
                short_image(app.spec.image), human_age(app.created_at, now), app.url or "",
            ))  # fmt: skip
            for app in message.apps
        ]
        self.table.set_rows(rows)
        if rows:
            self.notice.hide()
        else:
            self.show_notice(NoticeKind.EMPTY, "no apps yet: n runs Triton as one")

    def _selected(self) -> App | None:
        key = self.table.selected_key
        return self._apps.get(key) if key else None

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_describe()

    # -- actions ---------------------------------------------------------------------------------

    def action_describe(self) -> None:
        if app := self._selected():
            self.app.push_screen(AppDetailScreen(app))

    def action_logs(self) -> None:
        if app := self._selected():
            self.app.push_screen(AppLogScreen(app))

    def action_refresh(self) -> None:
        if self.is_available():
            self.load()

    def action_new_app(self) -> None:
        profile = self.services.profile
        image = f"{profile.registry}/tritonserver:23.03-py3" if profile.registry else "nvcr.io/nvidia/tritonserver:23.03-py3"
        defaults = {"image": image, "name": "triton-app", "models": f"my-models@{profile.region}", "replicas": "1"}

        def chosen(spec: AppSpec | None) -> None:
            if spec is not None:
                self._change(lambda platform: f"started app {run_app(platform, spec).name}")

        self.app.push_screen(AppRunScreen(defaults), chosen)

    def action_scale(self) -> None:
        app = self._selected()
        if app is None:
            return

        def chosen(scaling: Scaling | None) -> None:
            if scaling is None:
                return

            def scale(platform: AppPlatform) -> str:
                scale_app(platform, app, scaling)
                return f"app {app.short_id}: scaling set to {scaling_summary(scaling)}"

            self._change(scale)

        self.app.push_screen(AppScaleScreen(app.name, app.spec.scaling), chosen)

    def action_set_image(self) -> None:
        app = self._selected()
        if app is None:
            return

        def chosen(image: str | None) -> None:
            if not image or image == app.spec.image:
                return

            def set_image(platform: AppPlatform) -> str:
                platform.set_image(app.id, image)
                return f"app {app.short_id}: image set to {image}"

            self._change(set_image)

        self.app.push_screen(PromptScreen(f"Image for app {app.name}:", app.spec.image), chosen)

    def action_start(self) -> None:
        app = self._selected()
        if app is None:
            return
        if not app.state.is_down:
            self.notify(f"app {app.short_id} is {app.state}: only a stopped app starts", severity="warning")
            return

        def start(platform: AppPlatform) -> str:
            platform.start(app.id)
            return f"start requested for app {app.short_id}"

        self._change(start)

    def action_stop(self) -> None:
        app = self._selected()
        if app is None:
            return

        def stop(platform: AppPlatform) -> str:
            stop_app(platform, app)
            return f"stop requested for app {app.short_id}"

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._change(stop)

        detail = "Its replicas are freed; the app, its URL and its settings are kept (t starts it again)."
        self.app.push_screen(confirm_screen(f"Stop app {app.name} ({app.short_id})?", detail), confirmed)

    def action_delete(self) -> None:
        app = self._selected()
        if app is None:
            return
        detail = "It is still up: it will be stopped first." if not app.state.is_down else ""

        def delete(platform: AppPlatform) -> str:
            platform.delete(app.id, force=not app.state.is_down)
            return f"deleted app {app.short_id}"

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._change(delete)

        self.app.push_screen(confirm_screen(f"Delete app {app.name} ({app.short_id})?", detail), confirmed)

    @work(thread=True, group="apps-change", exit_on_error=False)
    def _change(self, act: Callable[[AppPlatform], str]) -> None:
        """An action in a worker; the line `act` returns is the notification."""
        self.post_message(self.Changed(act(self.services.apps())))

    @on(Changed)
    def _changed(self, message: Changed) -> None:
        self.notify(message.text)
        self.load()
