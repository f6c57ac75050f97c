"""Object stores for real: a moto S3 server on 127.0.0.1 (real HTTP, real boto3) and the
directory-backed local store, through the same suite.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.cancel import CancelToken
from services.config import S3Credentials
from services.errors import UserError
from services.secrets import Secret
from services.storage.etag import multipart_etag
from services.storage.listing import iter_objects
from services.storage.local import LocalObjectStore
from services.storage.planning import object_key, plan_upload
from services.storage.protocol import (
    BucketRef,
    ObjectStore,
    TransferProgress,
    UploadItem,
    UploadOptions,
)
from services.storage.s3 import S3ObjectStore
from tests.helpers import nothing

MIB = 1024 * 1024




def make_repository(root: Path, models: int, files_per_version: int) -> dict[str, bytes]:
    """A Triton-shaped tree; returns relative path → content."""
    rng = random.Random(7)
    written: dict[str, bytes] = {}
    for model in range(models):
        for relative in [f"model_{model}/config.pbtxt", f"model_{model}/labels.txt"] + [
            f"model_{model}/1/part_{index}.bin" for index in range(files_per_version)
        ]:
            content = rng.randbytes(rng.randint(0, 600))
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            written[relative] = content
    return written


def read_back(store: ObjectStore, bucket: BucketRef, key: str, tmp_path: Path) -> bytes:
    info = store.head(bucket, key)
    assert info is not None, key
    target = tmp_path / "read-back"
    result = store.download(bucket, [info], target, nothing, CancelToken())
    assert result.ok, result.failed
    return (target / key).read_bytes()


def test_ovhai_key_rule() -> None:
    assert object_key("tmp/directory/file1", "tmp/directory/", "") == "file1"
    assert object_key("tmp/directory/file1", "", "/root/") == "/root/tmp/directory/file1"
    assert object_key("./model_repository/densenet_onnx/1/model.onnx", "model_repository/", "") == "densenet_onnx/1/model.onnx"
    assert object_key("other/file", "model_repository/", "x/") == "x/other/file"


def test_upload_2500_keys_with_remove_prefix_then_list_in_small_pages(
    store_and_bucket: tuple[ObjectStore, BucketRef], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, bucket = store_and_bucket
    monkeypatch.chdir(tmp_path)
    written = make_repository(tmp_path / "model_repository", models=50, files_per_version=48)
    assert len(written) == 2500
    items = plan_upload(["model_repository/"], remove_prefix="model_repository/")
    assert [item.key for item in items] == sorted(written)
    seen: list[TransferProgress] = []
    lock = threading.Lock()

    def progress(update: TransferProgress) -> None:
        with lock:
            seen.append(update)

    result = store.upload(bucket, items, UploadOptions(workers=8), progress, CancelToken())
    assert result.ok and len(result.done) == 2500
    assert seen[-1].files_done == 2500 and max(p.bytes_done for p in seen) == sum(map(len, written.values()))
    listed = {info.key: info for info in iter_objects(store, bucket, page_size=97)}
    assert list(listed) == sorted(written), "every key once, in key order"
    for key, content in written.items():
        assert listed[key].size == len(content)
        assert listed[key].etag == hashlib.md5(content).hexdigest()
    for key in ("model_0/config.pbtxt", "model_49/1/part_47.bin"):
        assert read_back(store, bucket, key, tmp_path) == written[key]
    top = store.list_page(bucket, delimiter="/", page_size=20)
    assert top.prefixes == tuple(f"model_{n}/" for n in sorted(range(50), key=str))[:20] and top.next_token
    inside = store.list_page(bucket, prefix="model_7/", delimiter="/")
    assert inside.prefixes == ("model_7/1/",) and [o.key for o in inside.objects] == ["model_7/config.pbtxt", "model_7/labels.txt"]

    again = store.upload(bucket, items, UploadOptions(workers=8), nothing, CancelToken())
    assert len(again.skipped) == 2500 and not again.done, "an unchanged re-run uploads nothing"


def test_multipart_upload_of_a_20_mb_file(store_and_bucket: tuple[ObjectStore, BucketRef], tmp_path: Path) -> None:
    store, bucket = store_and_bucket
    big = tmp_path / "model.onnx"
    big.write_bytes(random.Random(3).randbytes(20 * MIB + 123))
    updates: list[TransferProgress] = []
    result = store.upload(bucket, [UploadItem(big, "m/1/model.onnx", big.stat().st_size)], UploadOptions(), updates.append, CancelToken())
    assert result.ok
    assert read_back(store, bucket, "m/1/model.onnx", tmp_path) == big.read_bytes()
    assert len([u for u in updates if u.file_total]) >= 4, "progress arrives per part or chunk, not once at the end"
    info = store.head(bucket, "m/1/model.onnx")
    assert info is not None
    if isinstance(store, S3ObjectStore):
        assert info.etag == multipart_etag(big, 5 * MIB) and info.etag.endswith("-5")


def test_cancelled_upload_leaves_no_partial_object_and_a_rerun_completes(
    store_and_bucket: tuple[ObjectStore, BucketRef], tmp_path: Path
) -> None:
    store, bucket = store_and_bucket
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(12 * MIB))
    small = [tmp_path / f"small-{n}.txt" for n in range(3)]
    for path in small:
        path.write_text(path.name)
    items = [UploadItem(big, "big.bin", big.stat().st_size)] + [UploadItem(p, p.name, p.stat().st_size) for p in small]
    cancel = CancelToken()

    def cancel_midway(update: TransferProgress) -> None:
        if update.key == "big.bin" and 0 < update.file_done < update.file_total:
            cancel.cancel()

    first = store.upload(bucket, items, UploadOptions(workers=1), cancel_midway, cancel)
    assert ("big.bin", "cancelled") in first.failed
    assert store.head(bucket, "big.bin") is None, "no partial object"
    assert {key for key, _ in first.failed} | set(first.done) == {item.key for item in items}
    if isinstance(store, S3ObjectStore):
        client = store._client(bucket.region)
        assert not client.list_multipart_uploads(Bucket=bucket.name).get("Uploads"), "multipart aborted"
    second = store.upload(bucket, items, UploadOptions(workers=1), nothing, CancelToken())
    assert second.ok and "big.bin" in second.done
    assert set(second.skipped) == set(first.done)
    assert read_back(store, bucket, "big.bin", tmp_path) == big.read_bytes()


def test_no_overwrite_keeps_existing_objects(store_and_bucket: tuple[ObjectStore, BucketRef], tmp_path: Path) -> None:
    store, bucket = store_and_bucket
    path = tmp_path / "config.pbtxt"
    path.write_text("first")
    store.upload(bucket, [UploadItem(path, "m/config.pbtxt", 5)], UploadOptions(), nothing, CancelToken())
    path.write_text("second!")
    kept = store.upload(bucket, [UploadItem(path, "m/config.pbtxt", 7)], UploadOptions(overwrite=False), nothing, CancelToken())
    assert kept.skipped == ("m/config.pbtxt",)
    assert read_back(store, bucket, "m/config.pbtxt", tmp_path) == b"first"
    changed = store.upload(bucket, [UploadItem(path, "m/config.pbtxt", 7)], UploadOptions(), nothing, CancelToken())
    assert changed.done == ("m/config.pbtxt",)


def test_failures_name_the_files_that_did_not_make_it(store_and_bucket: tuple[ObjectStore, BucketRef], tmp_path: Path) -> None:
    store, bucket = store_and_bucket
    good = tmp_path / "good.txt"
    good.write_text("ok")
    missing = UploadItem(tmp_path / "vanished.txt", "vanished.txt", 3)
    result = store.upload(bucket, [UploadItem(good, "good.txt", 2), missing], UploadOptions(), nothing, CancelToken())
    assert result.done == ("good.txt",)
    assert result.failed == (("vanished.txt", "No such file or directory"),)


UNICODE_KEYS = [
    "a top object.txt", "modèle é/1/poids.bin", "modèle é/config.pbtxt", "model a/1/model.onnx", "model a/config.pbtxt",
    "model a.txt", "日本/1/model.plan", "日本/labels.txt", "z/deep/er/file", "zz top",
]  # fmt: skip


def test_a_listing_split_over_prefixes_comes_out_whole_and_in_key_order(store_and_bucket: tuple[ObjectStore, BucketRef], tmp_path: Path) -> None:
    """Several prefixes are listed at once (one chain each), and what comes out is what one
    chain gives: every key once, in key order, unicode and spaces included, pages of odd sizes."""
    store, bucket = store_and_bucket
    source = tmp_path / "f"
    source.write_bytes(b"x")
    keys = UNICODE_KEYS + [f"model a/1/part {n:03d}" for n in range(40)] + [f"日本/2/p{n}" for n in range(25)]
    assert store.upload(bucket, [UploadItem(source, key, 1) for key in keys], UploadOptions(workers=8), nothing, CancelToken()).ok
    threads: set[str] = set()
    original = store.list_page

    def recording(*args: object, **kwargs: object) -> object:
        threads.add(threading.current_thread().name)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    store.list_page = recording  # type: ignore[method-assign]
    for page_size in (7, 13, 1000):
        assert [info.key for info in iter_objects(store, bucket, page_size=page_size)] == sorted(keys)
        assert [info.key for info in iter_objects(store, bucket, page_size=page_size, chains=1)] == sorted(keys)
    assert len([name for name in threads if name.startswith("list-chain")]) >= 2, "prefixes listed side by side"
    under = [info.key for info in iter_objects(store, bucket, "model a/", page_size=5)]
    assert under == sorted(key for key in keys if key.startswith("model a/"))


def test_a_listing_left_early_leaves_no_worker_behind(store_and_bucket: tuple[ObjectStore, BucketRef], tmp_path: Path) -> None:
    store, bucket = store_and_bucket
    source = tmp_path / "f"
    source.write_bytes(b"x")
    keys = [f"p{n}/k{m:02d}" for n in range(6) for m in range(30)]
    assert store.upload(bucket, [UploadItem(source, key, 1) for key in keys], UploadOptions(workers=8), nothing, CancelToken()).ok
    listing = iter_objects(store, bucket, page_size=4)
    assert [next(listing).key for _ in range(10)] == sorted(keys)[:10]
    listing.close()
    assert not [thread for thread in threading.enumerate() if thread.name.startswith(("list-chain", "list-ahead"))]


def test_a_prefix_delete_streams_from_its_listing(store_and_bucket: tuple[ObjectStore, BucketRef], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first batch is deleted before the listing has given its last key."""
    store, bucket = store_and_bucket
    monkeypatch.setattr("services.storage.s3.DELETE_BATCH", 10)
    source = tmp_path / "f"
    source.write_bytes(b"x")
    keys = [f"gone/{n:03d}" for n in range(45)] + ["kept/a", "kept/b"]
    assert store.upload(bucket, [UploadItem(source, key, 1) for key in keys], UploadOptions(workers=8), nothing, CancelToken()).ok
    events: list[str] = []

    def listed() -> Iterator[str]:
        for info in iter_objects(store, bucket, "gone/", page_size=10):
            events.append("listed")
            yield info.key
        events.append("listing done")

    def progress(_update: TransferProgress) -> None:
        events.append("deleted")

    result = store.delete(bucket, listed(), progress, CancelToken())
    assert sorted(result.done) == keys[:45] and not result.failed
    assert events.index("deleted") < events.index("listing done")
    assert [info.key for info in iter_objects(store, bucket)] == ["kept/a", "kept/b"]


def test_a_bucket_is_deleted_only_once_empty(store_and_bucket: tuple[ObjectStore, BucketRef], tmp_path: Path) -> None:
    store, bucket = store_and_bucket
    source = tmp_path / "f"
    source.write_bytes(b"x")
    assert store.upload(bucket, [UploadItem(source, "a/b/c", 1)], UploadOptions(), nothing, CancelToken()).ok
    with pytest.raises(UserError, match=f"bucket {bucket} still holds objects: delete them first"):
        store.delete_bucket(bucket)
    assert store.bucket_exists(bucket)
    assert store.delete(bucket, ["a/b/c"], nothing, CancelToken()).ok
    store.delete_bucket(bucket)
    assert not store.bucket_exists(bucket) and bucket not in [info.ref for info in store.list_buckets()]


def test_download_prefix_and_delete_prefix(store_and_bucket: tuple[ObjectStore, BucketRef], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, bucket = store_and_bucket
    monkeypatch.chdir(tmp_path)
    written = make_repository(tmp_path / "repo", models=2, files_per_version=3)
    store.upload(bucket, plan_upload(["repo"], remove_prefix="repo/"), UploadOptions(), nothing, CancelToken())
    wanted = list(iter_objects(store, bucket, "model_1/"))
    result = store.download(bucket, wanted, tmp_path / "out", nothing, CancelToken(), remove_prefix="model_1/")
    assert result.ok and len(result.done) == 5
    assert (tmp_path / "out" / "1" / "part_2.bin").read_bytes() == written["model_1/1/part_2.bin"]
    assert not list((tmp_path / "out").rglob("*.part")), "no temporary files left"
    deleted = store.delete(bucket, [info.key for info in wanted], nothing, CancelToken())
    assert len(deleted.done) == 5
    assert [o.key.split("/")[0] for o in iter_objects(store, bucket)] == ["model_0"] * 5


def test_missing_bucket_is_one_clear_line(store_and_bucket: tuple[ObjectStore, BucketRef]) -> None:
    store, bucket = store_and_bucket
    missing = BucketRef("no-such-bucket", bucket.region)
    assert not store.bucket_exists(missing)
    with pytest.raises(UserError) as caught:
        store.list_page(missing)
    assert "does not exist" in str(caught.value) and "\n" not in str(caught.value)


def test_bad_s3_credentials_are_named_without_leaking(moto_endpoint: str) -> None:
    store = S3ObjectStore(None, endpoint_url=moto_endpoint, credential_hint="set AWS_ACCESS_KEY_ID")
    with pytest.raises(UserError, match="no S3 credentials: set AWS_ACCESS_KEY_ID"):
        store.list_buckets()


def test_unreachable_endpoint_is_one_line() -> None:
    credentials = S3Credentials(Secret("k"), Secret("secret-not-shown"), "test")
    store = S3ObjectStore(credentials, endpoint_url="http://127.0.0.1:9", signing_region="us-east-1")
    store._client("GRA").meta.config.retries["max_attempts"] = 1  # type: ignore[attr-defined]
    with pytest.raises(UserError) as caught:
        store.list_buckets()
    assert "cannot reach http://127.0.0.1:9" in str(caught.value) and "secret-not-shown" not in str(caught.value)


def test_symlinks_out_of_the_tree_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "repo" / "m").mkdir(parents=True)
    (tmp_path / "repo" / "m" / "config.pbtxt").write_text("x")
    (tmp_path / "secret.txt").write_text("do not upload")
    (tmp_path / "repo" / "m" / "inside").symlink_to(tmp_path / "repo" / "m" / "config.pbtxt")
    assert [i.key for i in plan_upload(["repo"], "repo/")] == ["m/config.pbtxt", "m/inside"]
    (tmp_path / "repo" / "m" / "leak").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(UserError, match="symlink leading out of repo"):
        plan_upload(["repo"], "repo/")


def test_local_keys_cannot_escape_the_bucket(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "buckets")
    bucket = BucketRef("models", "LOCAL")
    store.create_bucket(bucket)
    source = tmp_path / "f"
    source.write_text("x")
    result = store.upload(bucket, [UploadItem(source, "../escape", 1)], UploadOptions(), nothing, CancelToken())
    assert result.failed and "not allowed" in result.failed[0][1]
    assert not (tmp_path / "buckets" / "escape").exists()
    with pytest.raises(UserError, match="local buckets live in region LOCAL"):
        store.list_page(BucketRef("models", "GRA"))


def test_deleting_a_local_bucket_that_links_elsewhere_leaves_the_target_alone(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "data").mkdir(parents=True)
    (elsewhere / "keep.txt").write_text("mine")
    store = LocalObjectStore(tmp_path / "buckets")
    store.create_bucket(BucketRef("models", "LOCAL"))
    (tmp_path / "buckets" / "linked").symlink_to(elsewhere)
    with pytest.raises(UserError, match="is a link out of"):
        store.delete_bucket(BucketRef("linked", "LOCAL"))
    assert (elsewhere / "keep.txt").read_text() == "mine" and (tmp_path / "buckets" / "linked").is_symlink()


def test_unknown_ovh_region_is_named_with_the_known_ones() -> None:
    credentials = S3Credentials(Secret("k"), Secret("s3-secret"), "test")
    store = S3ObjectStore(credentials)
    with pytest.raises(UserError) as caught:
        store.list_page(BucketRef("my-models", "XYZ"))
    assert str(caught.value).startswith("unknown Object Storage region 'XYZ': use one of GRA, RBX, SBG")
    assert "set s3_endpoint" in str(caught.value)


def test_local_store_sweeps_what_a_killed_upload_left_behind(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "buckets")
    bucket = BucketRef("models", "LOCAL")
    store.create_bucket(bucket)
    temporaries = tmp_path / "buckets" / "models" / "tmp"
    stale, fresh = temporaries / "tmp-stale", temporaries / "tmp-fresh"
    stale.write_bytes(b"half an upload")
    fresh.write_bytes(b"another process, still writing")
    os.utime(stale, (1_000_000_000, 1_000_000_000))
    source = tmp_path / "f"
    source.write_text("x")
    assert store.upload(bucket, [UploadItem(source, "f", 1)], UploadOptions(), nothing, CancelToken()).ok
    assert sorted(p.name for p in temporaries.iterdir()) == ["tmp-fresh"]
