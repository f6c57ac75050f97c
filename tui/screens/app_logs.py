"""`l` on an app: every replica's lines merged, each tagged with its replica; `s` steps
through the replicas (one at a time) and back to all of them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from services.apps.protocol import App
from services.cancel import CancelToken
from services.jobs.protocol import LogItem
from tui.screens.log_screen import LogScreen

if TYPE_CHECKING:
    pass


class AppLogScreen(LogScreen):
    def __init__(self, app: App) -> None:
        super().__init__()
        self._app = app

    @property
    def title_text(self) -> str:
        return f"app {self._app.name} ({self._app.short_id}), all replicas"

    @property
    def save_stem(self) -> str:
        return f"app-{self._app.name}-{self._app.short_id}"

    def stream(self, cancel: CancelToken) -> Iterator[LogItem]:
        return self.services.apps().follow_logs(self._app.id, cancel)

    def next_source(self, current: str | None) -> str | None:
        names = [replica.name for replica in self._app.replicas]
        if not names:
            return None
        if current not in names:
            return names[0]
        index = names.index(current) + 1
        return names[index] if index < len(names) else None
