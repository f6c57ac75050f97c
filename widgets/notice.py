"""A centred message that stands in for a list: loading, empty, unavailable or failed.

Keeping "loading…" distinct from "nothing here" is one of lazydocker's hard lessons.
"""

from __future__ import annotations

from enum import StrEnum

from textual.widgets import Static

from widgets.inert import inert


class NoticeKind(StrEnum):
    LOADING = "loading"
    EMPTY = "empty"
    UNAVAILABLE = "unavailable"
    ERROR = "error"


class Notice(Static):
    def show(self, kind: NoticeKind, message: str) -> None:
        for other in NoticeKind:
            self.set_class(other is kind, f"-{other.value}")
        self.update(inert(message))
        self.display = True

    def hide(self) -> None:
        self.display = False
