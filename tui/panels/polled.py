"""A panel that is a list the platform is asked for again and again (jobs, apps).

One list call per interval for all rows: fast while anything is on its way (`moving`, so a
QUEUED → RUNNING change shows within two seconds), slow once everything has settled. Rows
are keyed by id; `enter` describes the selected one; an action runs in a worker and its
one-line outcome is a notification followed by a fresh listing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Static

from services.errors import UserError
from services.text import visible
from tui.panels.base import Panel, confirm_screen
from widgets.filter_bar import FilterBar
from widgets.notice import NoticeKind
from widgets.resource_table import ResourceTable, Row

POLL_TICK_S = 0.5


class PolledPanel(Panel):
    noun: ClassVar[str]  # "jobs": the ids of its filter and table, its notices
    running: ClassVar[str]  # "still running": what the delete confirmation says of one not ended
    columns: ClassVar[tuple[str, ...]]
    empty: ClassVar[str]  # what the notice says when the list is empty

    @dataclass
    class Listed(Message):
        items: Sequence[Any]

    @dataclass
    class Changed(Message):
        """An action went through; the text says which, `select` the row to put the cursor on
        (a job just started: `l` then opens its log, not an old one's)."""

        text: str
        select: str | None = None

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._items: dict[str, Any] = {}
        self._last_poll = 0.0
        self._listed_once = False
        self._select: str | None = None

    # -- what a panel says -----------------------------------------------------------------------

    def platform(self) -> Any:
        """The jobs' or apps' platform (a `JobPlatform`, an `AppPlatform`), used in workers."""
        raise NotImplementedError

    def ended(self, item: Any) -> bool:
        """Whether `item` runs no more: deleting it needs no stop first."""
        raise NotImplementedError

    def row(self, item: Any, now: datetime) -> Row:
        raise NotImplementedError

    def moving(self, item: Any) -> bool:
        """On its way somewhere (polled fast while any item is)."""
        raise NotImplementedError

    def action_describe(self) -> None:
        raise NotImplementedError

    def address(self, item: Any) -> str | None:
        """Where the item answers, shown whole under the table for the selected row (a URL is
        too long for its column at 80 columns; cut, it could not be copied or read)."""
        return None

    def fetch(self) -> Sequence[Any]:
        """The rows' items, in a worker thread."""
        items: Sequence[Any] = self.platform().list()
        return items

    def action_delete(self) -> None:
        items = self.targets()
        if not items:
            return

        def delete(item: Any) -> str:
            self.platform().delete(item.id, force=not self.ended(item))
            return f"deleted {self.noun.rstrip('s')} {item.short_id}"

        detail = self.still(items, [item for item in items if not self.ended(item)], self.running)
        self.confirm_then_act("Delete", items, detail, delete, "deleted")

    # -- the list ---------------------------------------------------------------------------

    def compose_body(self) -> ComposeResult:
        yield FilterBar(id=f"{self.noun}-filter")
        yield ResourceTable(self.columns, id=f"{self.noun}-table")
        yield Static(id=f"{self.noun}-address", classes="selected-address")

    @property
    def table(self) -> ResourceTable:
        return self.query_one(ResourceTable)

    def on_mount(self) -> None:
        super().on_mount()
        if self.deck.settings.poll:
            self.set_interval(POLL_TICK_S, self._poll_tick)

    def reload(self) -> None:
        self._items = {}
        self._listed_once = False
        super().reload()

    def load(self) -> None:
        if not self._listed_once:
            self.show_notice(NoticeKind.LOADING, f"listing {self.noun}…")
        self._last_poll = time.monotonic()
        self._list()

    def _poll_tick(self) -> None:
        settings = self.deck.settings
        interval = settings.poll_fast_s if any(self.moving(item) for item in self._items.values()) else settings.poll_slow_s
        if self.is_available() and time.monotonic() - self._last_poll >= interval:
            self.load()

    @work(thread=True, exclusive=True, group="polled-list", exit_on_error=False)
    def _list(self) -> None:
        self.post_message(self.Listed(self.fetch()))

    @on(Listed)
    def _show(self, message: Listed) -> None:
        self._listed_once = True
        self.refreshed()
        self._items = {item.id: item for item in message.items}
        self.listed()
        self.render_rows()
        if self._select is not None and self._select in self._items:
            self.table.move_cursor(row=self.table.get_row_index(self._select), animate=False)
            self._select = None
        self._show_address()
        if self._items:
            self.notice.hide()
        else:
            self.show_notice(NoticeKind.EMPTY, self.empty)

    def listed(self) -> None:
        """A fresh listing is in `_items` (a subclass drops what it no longer needs to show)."""

    def render_rows(self) -> None:
        now = self.deck.settings.now()
        self.table.set_rows([self.row(item, now) for item in self._items.values()])

    @on(DataTable.RowHighlighted)
    def _show_address(self) -> None:
        item = self.selected()
        where = self.address(item) if item is not None else None
        line = self.query_one(f"#{self.noun}-address", Static)
        line.display = bool(where)
        if where:
            line.update(Text.assemble(("URL ", "bold"), visible(where)))

    def selected(self) -> Any:
        key = self.table.selected_key
        return self._items.get(key) if key else None

    def targets(self) -> list[Any]:
        """What an action takes: the marked rows (`space`), else the one under the cursor."""
        marked = [item for key, item in self._items.items() if key in self.table.marks]  # in the list's order
        if marked:
            return marked
        item = self.selected()
        return [item] if item is not None else []

    def confirm_then_act(
        self, verb: str, items: Sequence[Any], detail: str, act: Callable[[Any], str], summary: str, at_once: str = "",
        on_yes: Callable[[Sequence[Any]], None] | None = None,
    ) -> None:  # fmt: skip
        """Ask once ("Stop job x (id)?", "Stop 2 jobs (a, b)?"), then `act` on each item in one
        worker: one line for one, a count and what failed for many. `at_once` ("stopping") is
        said the moment the answer is yes, since the platform may take seconds to reply."""
        one = self.noun.rstrip("s")
        if len(items) == 1:
            question, names = f"{verb} {one} {items[0].name} ({items[0].short_id})?", f"{one} {items[0].short_id}"
        else:
            question, names = f"{verb} {len(items)} {self.noun} ({', '.join(item.short_id for item in items)})?", f"{len(items)} {self.noun}"

        def confirmed(yes: bool | None) -> None:
            if yes:
                if at_once:
                    self.notify(f"{at_once} {names}…")
                if on_yes is not None:
                    on_yes(items)
                self._act_on_all(items, act, summary)

        self.app.push_screen(confirm_screen(question, detail), confirmed)

    @staticmethod
    def still(items: Sequence[Any], busy: Sequence[Any], condition: str) -> str:
        """The confirmation's note when some of `items` are `busy` ("still running")."""
        if not busy:
            return ""
        return f"{'It is' if len(items) == 1 else f'{len(busy)} of them are'} {condition}: stopped first."

    def _act_on_all(self, items: Sequence[Any], act: Callable[[Any], str], summary: str) -> None:
        self.table.marks.clear()

        def run() -> str:
            done, failed = [], []
            for item in items:
                try:
                    done.append(act(item))
                except UserError as error:
                    failed.append(f"{item.short_id}: {error.message}")
            if len(items) == 1 and done:
                return done[0]
            text = f"{summary} {len(done)} of {len(items)}"
            return text + (f"; failed {'; '.join(failed)}" if failed else "")

        self.change(run)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_describe()

    def action_refresh(self) -> None:
        if self.is_available():
            self.load()

    # -- actions ----------------------------------------------------------------------------

    @work(thread=True, group="polled-change", exit_on_error=False)
    def change(self, act: Callable[[], str | tuple[str, str]]) -> None:
        """Run `act` in a worker; the line it returns is the notification (with the id of the
        row to select, when it made one)."""
        outcome = act()
        text, select = outcome if isinstance(outcome, tuple) else (outcome, None)
        self.post_message(self.Changed(text, select))

    @on(Changed)
    def _changed(self, message: Changed) -> None:
        self.notify(message.text)
        self._select = message.select
        self.load()
