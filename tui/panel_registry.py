"""The registry of views (k9s's registrar): the panels, in key order, and every screen.

Number keys, the tab strip, the palette, the `?` help and KEYS.md are all made from it:
adding a panel or a screen is one entry here plus its module. Entries name their class
without importing it: startup is measured against a bare Textual app, so a panel's module
(and the widgets and service types it pulls in) is imported only when it is first shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.panels.base import Panel


@dataclass(frozen=True)
class PanelEntry:
    name: str
    title: str
    target: str

    @property
    def key(self) -> str:
        return str(PANEL_ENTRIES.index(self) + 1)

    def load(self) -> type[Panel]:
        module, _, attribute = self.target.partition(":")
        panel_class: type[Panel] = getattr(import_module(module), attribute)
        return panel_class


PANEL_ENTRIES = (
    PanelEntry("buckets", "Buckets", "tui.panels.buckets:BucketsPanel"),
    PanelEntry("images", "Images", "tui.panels.images:ImagesPanel"),
    PanelEntry("jobs", "Jobs", "tui.panels.jobs:JobsPanel"),
    PanelEntry("inference", "Inference", "tui.panels.inference:InferencePanel"),
    PanelEntry("apps", "Apps", "tui.panels.apps:AppsPanel"),
)
PANEL_IDS = tuple(entry.name for entry in PANEL_ENTRIES)


@dataclass(frozen=True)
class ScreenEntry:
    """A screen or dialog, for the help and KEYS.md: its keys are its class's bindings, plus
    those of the widgets it is made of (`parts`, "module:Class")."""

    title: str
    target: str
    parts: tuple[str, ...] = ()
    key: str = ""  # the app-wide key that opens it, if any

    def binding_sources(self) -> list[type]:
        return [_load(target) for target in (self.target, *self.parts)]


def _load(target: str) -> type:
    module, _, attribute = target.partition(":")
    loaded: type = getattr(import_module(module), attribute)
    return loaded


SCREEN_ENTRIES = (
    ScreenEntry("Deploy", "tui.screens.deploy:DeployScreen", ("widgets.step_view:StepView",), key="0"),
    ScreenEntry("Deploy plan form", "tui.screens.deploy_plan:DeployPlanScreen"),
    ScreenEntry("Upload dialog", "tui.screens.upload:UploadScreen"),
    ScreenEntry("Dockerfile editor", "tui.screens.dockerfile_edit:DockerfileEditScreen"),
    ScreenEntry("Image build", "tui.screens.image_build:ImageBuildScreen"),
    ScreenEntry("Image push", "tui.screens.image_push:ImagePushScreen"),
    ScreenEntry("Run form", "tui.screens.job_run:JobRunScreen"),
    ScreenEntry("Job detail", "tui.screens.job_detail:JobDetailScreen"),
    ScreenEntry("Job logs", "tui.screens.job_logs:JobLogScreen", ("widgets.log_pane:LogPane",)),
    ScreenEntry("App run form", "tui.screens.app_run:AppRunScreen"),
    ScreenEntry("App detail", "tui.screens.app_detail:AppDetailScreen"),
    ScreenEntry("App scale dialog", "tui.screens.app_scale:AppScaleScreen"),
    ScreenEntry("Infer form", "tui.screens.infer_form:InferScreen"),
    ScreenEntry("Perf", "tui.screens.perf:PerfScreen"),
    ScreenEntry("Tune", "tui.screens.tune:TuneScreen"),
    ScreenEntry("App logs", "tui.screens.app_logs:AppLogScreen", ("widgets.log_pane:LogPane",)),
    ScreenEntry("Image picker", "tui.screens.pick_images:PickImagesScreen"),
    ScreenEntry("Profile picker", "tui.screens.profiles:ProfileScreen"),
    ScreenEntry("Profile form", "tui.screens.profile_add:ProfileAddScreen"),
    ScreenEntry("Registry form", "tui.screens.registry_add:RegistryAddScreen"),
    ScreenEntry("Prompt", "tui.screens.prompt:PromptScreen"),
    ScreenEntry("Confirmation", "tui.screens.confirm:ConfirmScreen"),
    ScreenEntry("Help", "tui.screens.help:HelpScreen"),
)


def entry(name: str) -> PanelEntry:
    return PANEL_ENTRIES[PANEL_IDS.index(name)]
