"""The four panels, in key order, named without importing them.

Startup is measured against a bare Textual app, so a panel's module (and the widgets
and service types it pulls in) is imported, composed and mounted only when the panel
is first shown.
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
)
PANEL_IDS = tuple(entry.name for entry in PANEL_ENTRIES)


def entry(name: str) -> PanelEntry:
    return PANEL_ENTRIES[PANEL_IDS.index(name)]
