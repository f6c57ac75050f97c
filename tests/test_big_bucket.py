"""A bucket of 100,000 keys in the browser: bounded rows, back to the top and to the end, filters
answered by the store and by a scan that shows its matches as they come."""

from __future__ import annotations

from textual.pilot import Pilot

from services.backends import ServiceSet
from services.config import Config, Profile
from services.fake_set import FROZEN_NOW, fake_services
from services.storage.fake import InMemoryObjectStore
from services.storage.protocol import BucketRef
from tests.conftest import SNAPSHOT_NOW, settle
from tui.app import TritonDeck, make_app
from tui.panels.buckets import PAGE_SIZE, WINDOW_PAGES, BucketsPanel
from tui.settings import AppSettings
from widgets.resource_table import ResourceTable

BUCKET = BucketRef("huge", "LOCAL")
KEYS = 100_000


def huge_bucket_app() -> TritonDeck:
    store = InMemoryObjectStore(FROZEN_NOW)
    store.add_bucket(BUCKET)
    for n in range(KEYS):
        store.put(BUCKET, f"obj-{n:06d}.bin", b"x")

    def factory(profile: Profile) -> ServiceSet:
        services = fake_services(profile)
        services.object_store = store
        return services

    return make_app("local", Config(), factory, AppSettings(now=lambda: SNAPSHOT_NOW, poll=False), env={})


def names(table: ResourceTable) -> list[str]:
    return [str(table.get_row_at(index)[2]) for index in range(table.row_count)]


async def open_huge(pilot: Pilot[None]) -> ResourceTable:
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)
    return pilot.app.query_one("#buckets-table", ResourceTable)


async def test_scrolling_through_100000_keys_holds_a_few_pages() -> None:
    app = huge_bucket_app()
    async with app.run_test() as pilot:
        table = await open_huge(pilot)
        assert table.row_count == PAGE_SIZE
        for _ in range(12):  # twelve pages down: the window slides
            await pilot.press("G")
            await settle(pilot)
        assert table.row_count == WINDOW_PAGES * PAGE_SIZE, "never more than the window"
        shown = names(table)
        assert shown[-1] == f"obj-{13 * PAGE_SIZE - 1:06d}.bin" and shown[0] == f"obj-{9 * PAGE_SIZE:06d}.bin"
        assert len(table._rows) == WINDOW_PAGES * PAGE_SIZE, "dropped pages are not kept behind the view either"
        for _ in range(12):  # and back to the very first key, page by page
            await pilot.press("g")
            await settle(pilot)
        assert names(table)[0] == "obj-000000.bin" and table.row_count <= WINDOW_PAGES * PAGE_SIZE


async def test_a_prefix_filter_is_the_stores_answer_and_a_substring_filter_scans() -> None:
    app = huge_bucket_app()
    async with app.run_test() as pilot:
        table = await open_huge(pilot)
        panel = app.query_one(BucketsPanel)
        panel.apply_filter("obj-0999")
        await settle(pilot)
        assert names(table) == [f"obj-0999{n:02d}.bin" for n in range(100)], "keys starting with the text, in order"
        panel.apply_filter("77777")
        await settle(pilot)
        assert names(table) == ["obj-077777.bin"], "found by the scan, anywhere in the name"
        panel.apply_filter("")
        await settle(pilot)
        assert table.row_count == PAGE_SIZE and names(table)[0] == "obj-000000.bin", "leaving the filter is one page again"


async def test_a_filter_with_many_matches_stops_at_the_cap() -> None:
    from tui.panels.buckets import MAX_MATCHES

    app = huge_bucket_app()
    async with app.run_test() as pilot:
        table = await open_huge(pilot)
        app.query_one(BucketsPanel).apply_filter(".bin")
        await settle(pilot)
        assert table.row_count == MAX_MATCHES
