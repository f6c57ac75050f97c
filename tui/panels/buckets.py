"""Buckets: the `ovhai bucket list` / `bucket object list` view, browsable like a tree.

One table, k9s grammar: buckets first, `enter` drills into a bucket and then into
prefixes, `esc` goes back up. Listings stream page by page from a thread worker, and
the table holds at most `WINDOW_PAGES` of them: scrolling past the end drops the first
page, scrolling back to the top lists it again from its saved token, so a bucket of a
million keys costs what four pages cost. A filter asks the store for the keys that start
with it, then scans the rest in a worker, showing matches as they come.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from services.backends import Capability
from services.errors import UserError
from services.storage.protocol import (
    BucketInfo,
    BucketRef,
    ListPage,
    ObjectInfo,
)
from services.text import visible
from services.usecases.storage import Selection, select_objects, selected_keys
from tui.keymap import KEYMAP
from tui.panels.base import Panel, confirm_screen
from tui.render import DATE_FORMAT, object_cells
from tui.workers import worker_token
from widgets.filter_bar import FilterBar
from widgets.inert import inert
from widgets.notice import NoticeKind
from widgets.resource_table import ResourceTable, Row

if TYPE_CHECKING:
    from textual.widgets import Tree
    from textual.widgets.tree import TreeNode

BUCKET_COLUMNS = ("NAME", "REGION", "CREATED")
OBJECT_COLUMNS = ("DATE", "BYTES", "NAME", "ETAG")
PREFIX_ROW = "prefix:"
OBJECT_ROW = "object:"
PAGE_SIZE = 500
PAGE_AHEAD = 50
WINDOW_PAGES = 4
MAX_MATCHES = 2000  # a filter shows at most this many rows: refine it to see others
TREE_PAGES = 2  # a level of the tree lists at most this many pages of prefixes


@dataclass(frozen=True)
class Location:
    bucket: BucketRef | None = None
    prefix: str = ""

    def up(self) -> Location:
        if not self.prefix:
            return Location()
        parent = self.prefix.rstrip("/").rpartition("/")[0]
        return Location(self.bucket, f"{parent}/" if parent else "")

    def __str__(self) -> str:
        return "buckets" if self.bucket is None else f"{self.bucket}/{self.prefix}"


class BucketsPanel(Panel):
    capability = Capability.STORAGE

    BINDINGS = KEYMAP["buckets"]

    @dataclass
    class BucketsListed(Message):
        buckets: list[BucketInfo]

    @dataclass
    class PageListed(Message):
        location: Location
        page: ListPage
        start: str | None  # the token this page was listed from (None: the first page)
        first: bool
        above: bool = False  # listed again to go back up, above the window

    @dataclass
    class Matches(Message):
        """A filter's rows so far: `reset` starts the list over, `scanned` counts keys looked at."""

        location: Location
        text: str
        rows: list[Row]
        reset: bool
        scanned: int
        done: bool

    @dataclass
    class Deleted(Message):
        location: Location
        count: int
        failed: int

    @dataclass
    class BucketChanged(Message):
        text: str
        select: str | None = None  # the row to put the cursor on once the list is read again

    @dataclass
    class Counted(Message):
        location: Location
        target: str
        count: int

    @dataclass
    class PrefixesListed(Message):
        bucket: BucketRef
        node: TreeNode[str]
        prefixes: list[str]

    @dataclass
    class Transferred(Message):
        text: str
        failed: int

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.location = Location()
        self._next_token: str | None = None
        self._paging = False
        self._window: list[tuple[str | None, list[Row]]] = []  # the pages in the table, with their start tokens
        self._dropped: list[str | None] = []  # start tokens of the pages dropped above the window
        self._filter = ""
        self._tree_bucket: BucketRef | None = None
        self._select: str | None = None  # a bucket to put the cursor on once listed (see _bucket_changed)
        self._loaded_prefixes: set[str] = set()

    def compose_body(self) -> ComposeResult:
        yield Static(id="buckets-path", classes="path")
        yield FilterBar(id="buckets-filter")
        with Horizontal(id="buckets-browser"):
            yield ResourceTable(BUCKET_COLUMNS, id="buckets-table")

    @property
    def table(self) -> ResourceTable:
        return self.query_one(ResourceTable)

    def reload(self) -> None:
        self.location = Location()
        super().reload()

    IN_A_BUCKET = frozenset({"back", "download", "focus_tree"})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The footer shows what works here: creating a bucket on the bucket list, downloading
        inside one (an 80-column footer has no room for every key)."""
        inside = self.location.bucket is not None
        if action in self.IN_A_BUCKET:
            return inside
        if action == "create_bucket":
            return not inside
        return True

    def load(self) -> None:
        self.refresh_bindings()
        self._filter = ""
        self.query_one("#buckets-path", Static).update(inert(str(self.location), style="bold"))
        self.show_notice(NoticeKind.LOADING, f"listing {self.location}…")
        bucket = self.location.bucket
        self.set_class(bucket is not None, "-in-bucket")
        if bucket is None:
            self._tree_bucket = None
            self.table.set_columns(BUCKET_COLUMNS)
            self._list_buckets()
            return
        if self._tree_bucket != bucket:
            self._reset_tree(bucket)
        self.table.set_columns(OBJECT_COLUMNS)
        self._list_objects(self.location)

    # -- the prefix tree: loaded a level at a time, as nodes open -------------------------------

    @property
    def prefix_tree(self) -> Tree[str]:  # not `tree`: that is every widget's DOM tree
        """The tree, mounted the first time a bucket is opened (startup does not pay for it)."""
        from textual.widgets import Tree

        found = self.query("#prefix-tree")
        if found:
            return found.first(Tree)
        tree: Tree[str] = Tree("", id="prefix-tree")
        self.query_one("#buckets-browser", Horizontal).mount(tree, before=0)
        return tree

    def _reset_tree(self, bucket: BucketRef) -> None:
        self._tree_bucket = bucket
        self._loaded_prefixes = set()
        tree = self.prefix_tree
        tree.reset(str(bucket), "")
        tree.root.expand()
        self._list_prefixes(bucket, tree.root)

    @work(thread=True, group="buckets-tree", exit_on_error=False)
    def _list_prefixes(self, bucket: BucketRef, node: TreeNode[str]) -> None:
        store = self.services.object_store
        assert store is not None
        prefixes: list[str] = []
        token: str | None = None
        for _ in range(TREE_PAGES):
            page = store.list_page(bucket, prefix=node.data or "", token=token, page_size=PAGE_SIZE)
            prefixes.extend(page.prefixes)
            token = page.next_token
            if not token:
                break
        self.post_message(self.PrefixesListed(bucket, node, prefixes))

    @on(PrefixesListed)
    def _show_prefixes(self, message: PrefixesListed) -> None:
        if message.bucket != self._tree_bucket:
            return
        node = message.node
        node.remove_children()
        parent = node.data or ""
        for prefix in message.prefixes:
            node.add(inert(prefix[len(parent) :]), data=prefix, allow_expand=True)
        self._loaded_prefixes.add(parent)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[str]) -> None:
        bucket = self._tree_bucket
        if bucket is not None and (event.node.data or "") not in self._loaded_prefixes:
            self._list_prefixes(bucket, event.node)

    def on_tree_node_selected(self, event: Tree.NodeSelected[str]) -> None:
        event.stop()
        if self._tree_bucket is not None:
            self.location = Location(self._tree_bucket, event.node.data or "")
            self.load()

    def action_focus_tree(self) -> None:
        if self.location.bucket is not None:
            self.prefix_tree.focus()

    @work(thread=True, exclusive=True, group="buckets-list", exit_on_error=False)
    def _list_buckets(self) -> None:
        store = self.services.object_store
        assert store is not None
        self.post_message(self.BucketsListed(store.list_buckets()))

    @work(thread=True, exclusive=True, group="buckets-list", exit_on_error=False)
    def _list_objects(self, location: Location, token: str | None = None, first: bool = True, above: bool = False) -> None:
        """One page; the next is asked for when the cursor nears an edge (never the whole bucket)."""
        store = self.services.object_store
        assert store is not None and location.bucket is not None
        page = store.list_page(location.bucket, prefix=location.prefix, token=token, page_size=PAGE_SIZE)
        self.post_message(self.PageListed(location, page, token, first, above))

    @work(thread=True, exclusive=True, group="buckets-list", exit_on_error=False)
    def _filter_objects(self, location: Location, text: str) -> None:
        """The keys starting with `text` first (the store finds them), then the others that contain it."""
        store = self.services.object_store
        worker = get_current_worker()
        assert store is not None and location.bucket is not None
        needle = text.lower()
        shown: set[str] = set()
        scanned = 0

        def fresh(page: ListPage, test: bool) -> list[Row]:
            """Rows of `page` not shown yet (containing the text, when `test`), up to the cap."""
            rows = [row for row in self._page_rows(page, location.prefix) if row.key not in shown and (not test or row.matches(needle))]
            rows = rows[: MAX_MATCHES - len(shown)]
            shown.update(row.key for row in rows)
            return rows

        first = store.list_page(location.bucket, prefix=location.prefix + text, page_size=PAGE_SIZE)
        self.post_message(self.Matches(location, text, fresh(first, test=False), True, scanned, done=False))
        token: str | None = None
        while len(shown) < MAX_MATCHES and not worker.is_cancelled:
            page = store.list_page(location.bucket, prefix=location.prefix, token=token, page_size=1000)
            scanned += len(page.objects) + len(page.prefixes)
            rows = fresh(page, test=True)
            if rows or not page.next_token:
                self.post_message(self.Matches(location, text, rows, False, scanned, done=not page.next_token))
            if not page.next_token:
                return
            token = page.next_token
        self.post_message(self.Matches(location, text, [], False, scanned, done=True))

    @on(BucketsListed)
    def _show_buckets(self, message: BucketsListed) -> None:
        self.refreshed()
        rows = [
            Row(str(info.ref), (info.ref.name, info.ref.region, info.created.strftime(DATE_FORMAT) if info.created else ""))
            for info in message.buckets
        ]
        self._set_rows(rows, "no buckets yet: press 0 to run the whole tutorial (upload, serve, classify), or n to create one")
        if self._select is not None:
            self.table.select_key(self._select)
            self._select = None

    def _page_rows(self, page: ListPage, prefix: str) -> list[Row]:
        rows = [Row(PREFIX_ROW + name, ("", "DIR", name[len(prefix) :], "")) for name in page.prefixes]
        return rows + [self._object_row(info, prefix) for info in page.objects]

    @on(PageListed)
    def _show_page(self, message: PageListed) -> None:
        if message.location != self.location or self._filter:
            return
        rows = self._page_rows(message.page, message.location.prefix)
        self._paging = False
        if message.first:
            self.refreshed()
            self._window, self._dropped = [(None, rows)], []
            self._next_token = message.page.next_token
            self._set_rows(rows, f"{self.location} is empty: press u to upload")
            return
        if message.above:  # back up: the page returns on top, the last one leaves at the bottom
            self._dropped.pop()
            self._window.insert(0, (message.start, rows))
            if len(self._window) > WINDOW_PAGES:
                self._next_token = self._window.pop()[0]
        else:
            self._window.append((message.start, rows))
            self._next_token = message.page.next_token
            if len(self._window) <= WINDOW_PAGES:
                self.table.append_rows(rows)
                return
            self._dropped.append(self._window.pop(0)[0])
        self.table.set_rows([row for _start, page_rows in self._window for row in page_rows])  # the cursor stays on its row

    @on(DataTable.RowHighlighted)
    def _maybe_page_in(self, event: DataTable.RowHighlighted) -> None:
        if self._paging or self._filter or self.location.bucket is None:
            return
        row = self.table.cursor_row  # now, not when the event left: a rebuilt window moved it
        if self._next_token and row >= self.table.row_count - PAGE_AHEAD:
            self._paging = True
            self._list_objects(self.location, self._next_token, first=False)
        elif self._dropped and row < PAGE_AHEAD:
            self._paging = True
            self._list_objects(self.location, self._dropped[-1], first=False, above=True)

    def apply_filter(self, text: str) -> None:
        if self.location.bucket is None:  # the bucket list is small: filtered in place
            super().apply_filter(text)
            return
        if text == self._filter:
            return
        self._filter = text
        if not text:
            self.load()
            return
        self.show_notice(NoticeKind.LOADING, f"filtering {self.location} for '{text}'…")
        self._filter_objects(self.location, text)

    @on(Matches)
    def _show_matches(self, message: Matches) -> None:
        if message.location != self.location or message.text != self._filter:
            return
        if message.reset:
            self.table.set_rows(message.rows)
        else:
            self.table.append_rows(message.rows)
        count = self.table.row_count
        if message.done:
            capped = f" (the first {MAX_MATCHES}: refine the filter)" if count >= MAX_MATCHES else ""
            self._status(f"{count} match(es) for '{message.text}' in {self.location}{capped}")
        else:
            self._status(f"{count} match(es) for '{message.text}' so far, {message.scanned} keys scanned…")
        if count:
            self.notice.hide()
        elif message.done:
            self.show_notice(NoticeKind.EMPTY, f"nothing in {self.location} matches '{message.text}'")

    def _status(self, text: str) -> None:
        self.query_one("#buckets-path", Static).update(Text.assemble((visible(str(self.location)), "bold"), ("   " + visible(text), "dim")))

    @staticmethod
    def _object_row(info: ObjectInfo, prefix: str) -> Row:
        cells = object_cells(info, prefix)
        return Row(OBJECT_ROW + info.key, tuple(cells[column] for column in OBJECT_COLUMNS))

    def _set_rows(self, rows: list[Row], empty: str) -> None:
        self.table.set_rows(rows)
        if rows:
            self.notice.hide()
        else:
            self.show_notice(NoticeKind.EMPTY, empty)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        key = self.table.selected_key
        if key is None:
            return
        if self.location.bucket is None:
            self.location = Location(BucketRef.parse(key))
        elif key.startswith(PREFIX_ROW):
            self.location = Location(self.location.bucket, key[len(PREFIX_ROW) :])
        else:
            return
        self.table.set_filter("")
        self.load()

    def action_back(self) -> None:
        if self.location == Location():
            return
        self.location = self.location.up()
        self.load()

    def action_refresh(self) -> None:
        if self.is_available():
            self.load()

    def action_upload(self) -> None:
        from tui.screens.upload import UploadScreen

        bucket = self.location.bucket
        if bucket is None:  # on the bucket list: into the highlighted bucket
            key = self.table.selected_key
            if key is None:
                self.notify("no bucket to upload into: n creates one (or 0 runs the whole tutorial)", severity="warning")
                return
            bucket = BucketRef.parse(key)
        source = "model_repository/" if Path("model_repository").is_dir() else ""

        def closed(uploaded: bool | None) -> None:
            if uploaded:
                self.load()

        self.app.push_screen(UploadScreen(bucket, self.location.prefix, source), closed)

    def action_download(self) -> None:
        from tui.screens.prompt import PromptScreen

        key = self.table.selected_key
        bucket = self.location.bucket
        if key is None or bucket is None:
            return
        target = key.removeprefix(PREFIX_ROW).removeprefix(OBJECT_ROW)

        def chosen(destination: str | None) -> None:
            if destination:
                self._download(self.location, target, key.startswith(PREFIX_ROW), Path(destination))

        self.app.push_screen(PromptScreen(f"Download {bucket}/{target} into directory:", "."), chosen)

    @work(thread=True, group="buckets-download", exit_on_error=False)
    def _download(self, location: Location, target: str, is_prefix: bool, destination: Path) -> None:
        store = self.services.object_store
        assert store is not None and location.bucket is not None
        objects = select_objects(store, location.bucket, Selection(prefix=target) if is_prefix else Selection((target,)))
        result = store.download(location.bucket, objects, destination, lambda _p: None, worker_token(), remove_prefix=location.prefix)
        self.post_message(self.Transferred(f"downloaded {len(result.done)} object(s) to {destination}", len(result.failed)))

    def action_create_bucket(self) -> None:
        from tui.screens.prompt import PromptScreen

        region = self.deck.profile.region

        def answered(text: str | None) -> None:
            if text:
                self._create_bucket(text if "@" in text else f"{text}@{region}")

        self.app.push_screen(PromptScreen(f"New bucket (name, or name@REGION; the region is {region} otherwise):", ""), answered)

    @work(thread=True, group="buckets-create", exit_on_error=False)
    def _create_bucket(self, text: str) -> None:
        store = self.services.object_store
        assert store is not None
        bucket = BucketRef.parse(text)
        if store.bucket_exists(bucket):
            raise UserError(f"bucket {bucket} already exists")
        store.create_bucket(bucket)
        self.post_message(self.BucketChanged(f"created {bucket}", select=str(bucket)))

    @work(thread=True, group="buckets-delete", exit_on_error=False)
    def _delete_bucket(self, bucket: BucketRef) -> None:
        store = self.services.object_store
        assert store is not None
        store.delete_bucket(bucket)
        self.post_message(self.BucketChanged(f"deleted {bucket}"))

    @on(BucketChanged)
    def _bucket_changed(self, message: BucketChanged) -> None:
        """A new bucket gets the cursor, so the next `u` uploads into it, not into the first row."""
        self.notify(message.text)
        self._select = message.select
        if self.location.bucket is None:
            self.load()

    def action_delete(self) -> None:
        key = self.table.selected_key
        bucket = self.location.bucket
        if key is not None and bucket is None:  # on the bucket list: the bucket itself, once empty
            chosen = BucketRef.parse(key)

            def confirmed(yes: bool | None) -> None:
                if yes:
                    self._delete_bucket(chosen)

            self.app.push_screen(confirm_screen(f"Delete bucket {visible(str(chosen))}?", "Only an empty bucket can go."), confirmed)
            return
        if key is None or bucket is None:
            return
        target = key.removeprefix(PREFIX_ROW).removeprefix(OBJECT_ROW)
        if key.startswith(PREFIX_ROW):
            self.notify(f"counting the objects under {visible(f'{bucket}/{target}')}…")
            self._count_prefix(self.location, target)
        else:
            self._confirm_delete(self.location, target, f"{bucket}/{target}", is_prefix=False)

    def _confirm_delete(self, location: Location, target: str, what: str, is_prefix: bool) -> None:
        def confirmed(yes: bool | None) -> None:
            if yes:
                self._delete(location, target, is_prefix)

        self.app.push_screen(confirm_screen(f"Delete {visible(what)}?", "This cannot be undone."), confirmed)

    @work(thread=True, group="buckets-delete", exit_on_error=False)
    def _count_prefix(self, location: Location, target: str) -> None:
        """A prefix delete says how many objects it removes before it is confirmed."""
        store = self.services.object_store
        assert store is not None and location.bucket is not None
        count = sum(1 for _ in selected_keys(store, location.bucket, Selection(prefix=target)))
        self.post_message(self.Counted(location, target, count))

    @on(Counted)
    def _counted(self, message: Counted) -> None:
        where = f"{message.location.bucket}/{message.target}"
        if message.count == 0:
            self.notify(f"nothing to delete under {visible(where)}")
            return
        noun = "object" if message.count == 1 else "objects"
        self._confirm_delete(message.location, message.target, f"the {message.count} {noun} under {where}", is_prefix=True)

    @work(thread=True, group="buckets-delete", exit_on_error=False)
    def _delete(self, location: Location, target: str, is_prefix: bool) -> None:
        store = self.services.object_store
        assert store is not None and location.bucket is not None
        keys = selected_keys(store, location.bucket, Selection(prefix=target) if is_prefix else Selection((target,)))
        result = store.delete(location.bucket, keys, lambda _progress: None, worker_token())
        self.post_message(self.Deleted(location, len(result.done), len(result.failed)))

    @on(Transferred)
    def _transferred(self, message: Transferred) -> None:
        failed = f", {message.failed} failed" if message.failed else ""
        self.notify(message.text + failed, severity="error" if message.failed else "information")

    @on(Deleted)
    def _deleted(self, message: Deleted) -> None:
        failed = f", {message.failed} failed" if message.failed else ""
        self.notify(f"deleted {message.count} object(s) from {message.location}{failed}", severity="error" if message.failed else "information")
        if message.location == self.location:
            self.load()
