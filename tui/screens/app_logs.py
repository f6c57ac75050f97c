"""`l` on an app: every replica's lines merged, each tagged with its replica; `s` steps
through the replicas (one at a time) and back to all of them."""

from __future__ import annotations

from services.apps.protocol import App, AppPlatform
from tui.screens.log_screen import LogScreen


class AppLogScreen(LogScreen):
    kind = "app"

    def __init__(self, app: App) -> None:
        super().__init__(app)
        self._replicas = [replica.name for replica in app.replicas]

    @property
    def title_text(self) -> str:
        return f"{super().title_text}, all replicas"

    def platform(self) -> AppPlatform:
        return self.services.apps()

    def next_source(self, current: str | None) -> str | None:
        names = self._replicas
        if not names:
            return None
        if current not in names:
            return names[0]
        index = names.index(current) + 1
        return names[index] if index < len(names) else None
