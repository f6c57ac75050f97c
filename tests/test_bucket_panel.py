"""The Buckets panel on a real directory store: upload dialog, paging, download."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from services.cancel import CancelToken
from services.storage.listing import iter_objects
from services.storage.protocol import BucketRef, UploadItem, UploadOptions
from tests.conftest import settle
from tests.helpers import BUCKET, good_repository, local_store_app, open_upload
from tui.screens.prompt import PromptScreen
from tui.screens.upload import UploadScreen
from widgets.resource_table import ResourceTable


async def test_upload_dialog_uploads_a_repository_with_the_prefix_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    good_repository(tmp_path)
    app, store = local_store_app(tmp_path / "buckets")
    async with app.run_test(size=(100, 34)) as pilot:
        screen = await open_upload(pilot)
        assert screen.query_one("#upload-source", Input).value == "model_repository/", "the tutorial's directory is offered"
        assert screen.query_one("#upload-remove", Input).value == "model_repository/"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "uploaded 5, unchanged 0, failed 0" in str(screen.query_one("#upload-status").render())
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, UploadScreen)
        table = app.query_one("#buckets-table", ResourceTable)
        assert [str(table.get_row_at(i)[2]) for i in range(table.row_count)] == ["densenet_onnx/", "simple/"]
    assert [o.key for o in iter_objects(store, BUCKET)] == [
        "densenet_onnx/1/model.onnx",
        "densenet_onnx/config.pbtxt",
        "densenet_onnx/densenet_labels.txt",
        "simple/1/model.py",
        "simple/config.pbtxt",
    ]


async def test_broken_repository_is_caught_before_upload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    repo = good_repository(tmp_path)
    (repo / "densenet_onnx" / "densenet_labels.txt").unlink()
    app, store = local_store_app(tmp_path / "buckets")
    async with app.run_test(size=(100, 34)) as pilot:
        screen = await open_upload(pilot)
        assert "1 error(s)" in str(screen.query_one("#upload-report").render())
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "the repository has errors" in str(screen.query_one("#upload-status").render())
    assert list(iter_objects(store, BUCKET)) == []


async def test_big_bucket_pages_in_as_the_cursor_moves(tmp_path: Path) -> None:
    app, store = local_store_app(tmp_path / "buckets")
    source = tmp_path / "f"
    source.write_text("x")
    items = [UploadItem(source, f"obj-{n:05d}", 1) for n in range(1200)]
    assert store.upload(BUCKET, items, UploadOptions(workers=8), lambda _p: None, CancelToken()).ok
    async with app.run_test() as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        table = app.query_one("#buckets-table", ResourceTable)
        assert table.row_count == 500, "one page, not the whole bucket"
        await pilot.press("G")
        await settle(pilot)
        assert table.row_count == 1000
        await pilot.press("G")
        await settle(pilot)
        await pilot.press("G")
        await settle(pilot)
        assert table.row_count == 1200
        assert str(table.get_row_at(1199)[2]) == "obj-01199"


async def test_download_a_prefix_into_a_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    good_repository(tmp_path)
    app, store = local_store_app(tmp_path / "buckets")
    from services.storage.planning import plan_upload

    store.upload(BUCKET, plan_upload(["model_repository/"], "model_repository/"), UploadOptions(), lambda _p: None, CancelToken())
    async with app.run_test() as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("d")
        assert isinstance(app.screen, PromptScreen)
        await pilot.press("ctrl+a", "ctrl+k", *"back", "enter")
        await settle(pilot)
    assert (tmp_path / "back" / "densenet_onnx" / "config.pbtxt").is_file()
    assert (tmp_path / "back" / "densenet_onnx" / "1" / "model.onnx").read_bytes() == b"onnx"


async def test_prefix_tree_loads_levels_lazily_and_navigates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    good_repository(tmp_path)
    app, store = local_store_app(tmp_path / "buckets")
    from services.storage.planning import plan_upload

    store.upload(BUCKET, plan_upload(["model_repository/"], "model_repository/"), UploadOptions(), lambda _p: None, CancelToken())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        tree = app.query_one("#prefix-tree")
        assert [str(node.label) for node in tree.root.children] == ["densenet_onnx/", "simple/"]
        assert list(tree.root.children[0].children) == [], "deeper levels are listed only when opened"
        await pilot.press("t")
        assert app.focused is tree
        await pilot.press("down", "enter")
        await settle(pilot)
        assert [str(node.label) for node in tree.root.children[0].children] == ["1/"]
        table = app.query_one("#buckets-table", ResourceTable)
        assert [str(table.get_row_at(i)[2]) for i in range(table.row_count)] == ["1/", "config.pbtxt", "densenet_labels.txt"]
        assert str(app.query_one("#buckets-path").render()) == "my-models@LOCAL/densenet_onnx/"


async def test_n_creates_a_bucket_and_ctrl_d_deletes_it_once_empty(tmp_path: Path) -> None:
    from tui.screens.confirm import ConfirmScreen

    app, store = local_store_app(tmp_path / "buckets")
    store.upload(BUCKET, [UploadItem(Path(__file__), "a.py", Path(__file__).stat().st_size)], UploadOptions(), lambda _p: None, CancelToken())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        app.screen.query_one(Input).value = "scratch"  # the profile's region is added
        await pilot.press("enter")
        await settle(pilot)
        table = app.query_one("#buckets-table", ResourceTable)
        assert store.bucket_exists(BucketRef("scratch", "LOCAL")) and table.row_count == 2
        assert any("created scratch@LOCAL" in n.message for n in app._notifications)
        assert table.selected_key == "scratch@LOCAL", "the new bucket has the cursor"
        await pilot.press("u")  # on the bucket list: into the highlighted bucket, the new one
        await pilot.pause()
        assert isinstance(app.screen, UploadScreen) and app.screen._bucket == BucketRef("scratch", "LOCAL")
        await pilot.press("escape")
        await settle(pilot)
        table.move_cursor(row=table.get_row_index("my-models@LOCAL"))
        await pilot.press("ctrl+d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert store.bucket_exists(BUCKET), "it holds an object: refused"
        assert any("still holds objects" in n.message for n in app._notifications)
        table.move_cursor(row=table.get_row_index("scratch@LOCAL"))
        await pilot.press("ctrl+d", "y")
        await settle(pilot)
        assert not store.bucket_exists(BucketRef("scratch", "LOCAL")) and table.row_count == 1


async def test_an_empty_source_reads_as_empty_not_as_a_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no model_repository/ here: nothing to offer
    app, _store = local_store_app(tmp_path / "buckets")
    async with app.run_test(size=(100, 34)) as pilot:
        screen = await open_upload(pilot)
        source = screen.query_one("#upload-source", Input)
        assert source.value == "" and source.placeholder.startswith("(empty)") and "e.g." in source.placeholder
        assert source.get_component_rich_style("input--placeholder").italic
