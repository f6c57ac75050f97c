"""What every panel shares: its capability, the notice that replaces its body, errors.

A panel reads the active `ServiceSet` from the app, runs every service call in a
thread worker and renders what comes back. When its capability is missing on the
profile, the notice says why instead of the panel pretending.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.worker import Worker, WorkerState

from services.backends import Capability, ServiceSet
from services.errors import UserError
from services.secrets import redact
from widgets.filter_bar import FilterBar
from widgets.notice import Notice, NoticeKind
from widgets.resource_table import ResourceTable

if TYPE_CHECKING:
    from tui.app import TritonDeck
    from tui.screens.confirm import ConfirmScreen


def confirm_screen(question: str, detail: str = "") -> ConfirmScreen:
    """The ctrl+d dialog, imported on first use so startup does not pay for it."""
    from tui.screens.confirm import ConfirmScreen

    return ConfirmScreen(question, detail)


STALE_AFTER_S = 2.0  # shown again later than this, a panel lists again: it never shows what was


class Panel(Vertical):
    capability: ClassVar[Capability]
    refreshed_at: datetime | None = None  # when its listing last came back

    @property
    def deck(self) -> TritonDeck:
        return cast("TritonDeck", self.app)

    @property
    def services(self) -> ServiceSet:
        return self.deck.services

    def compose(self) -> ComposeResult:
        yield Notice(id=f"{self.id}-notice", classes="notice")
        yield from self.compose_body()

    def compose_body(self) -> ComposeResult:
        raise NotImplementedError

    @property
    def notice(self) -> Notice:
        return self.query_one(Notice)

    def on_mount(self) -> None:
        self.reload()

    def refreshed(self) -> None:
        """A listing came back: the context line says how old what is shown is."""
        self.refreshed_at = self.deck.settings.now()
        self.deck.panel_refreshed(self)

    def refresh_if_stale(self) -> None:
        """On being shown: anything done elsewhere meanwhile (a deploy, another shell) shows."""
        at = self.refreshed_at
        if at is not None and self.is_available() and (self.deck.settings.now() - at).total_seconds() > STALE_AFTER_S:
            self.load()

    def is_available(self) -> bool:
        return self.services.has(self.capability)

    def reload(self) -> None:
        """Start over on the current profile (called on mount and on profile switch)."""
        self.workers.cancel_node(self)
        for table in self.query(ResourceTable):  # never another profile's rows, not even while loading
            table.set_rows([])
        self.set_class(not self.is_available(), "-unavailable")
        if not self.is_available():
            self.show_notice(NoticeKind.UNAVAILABLE, self.services.reason(self.capability))
            return
        self.load()

    def load(self) -> None:
        raise NotImplementedError

    def show_notice(self, kind: NoticeKind, message: str) -> None:
        self.notice.show(kind, message)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed action is a toast; a failed listing (a `*-list` worker) stays in place, with
        no stale rows under it, until a listing succeeds (`r` tries again)."""
        error = event.worker.error
        if event.state is not WorkerState.ERROR or error is None:
            return
        self.deck.show_error(error)
        if event.worker.group.endswith("-list"):
            for table in self.query(ResourceTable):
                table.set_rows([])
            reason = error.message if isinstance(error, UserError) else f"unexpected error ({type(error).__name__})"
            self.show_notice(NoticeKind.ERROR, redact(f"{reason} (r tries again)"))

    # -- the `/` filter, for panels that have a FilterBar over a ResourceTable ---------------

    def action_filter(self) -> None:
        for bar in self.query(FilterBar):
            bar.open()

    @on(FilterBar.Updated)
    def _filter_changed(self, message: FilterBar.Updated) -> None:
        self.apply_filter(message.text)

    def apply_filter(self, text: str) -> None:
        """Narrow the rows already listed; a panel whose list is too big to hold asks its store."""
        for table in self.query(ResourceTable):
            table.set_filter(text)

    @on(FilterBar.Closed)
    def _filter_closed(self) -> None:
        for table in self.query(ResourceTable):
            table.focus()
