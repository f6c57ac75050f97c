"""Local-bucket listing at scale: the directory store against the S3 path, and the TUI's filter.

    python3 -m uv run --group bench python bench/local_listing.py [--keys 100000]

The same keys (`k/NNN/NNNNNN`, and the same count flat in one directory) go into a local
bucket and into SeaweedFS; each listing walks every key page by page as
`bucket object list` does. Targets: local listing ≤1× the S3 paginator on the same keys
(same run), the TUI's filter showing its first matches in under a second.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.seaweed import seaweed_s3  # noqa: E402
from bench.storage import KEY, SECRET, boto3_client  # noqa: E402
from services.storage.listing import iter_objects  # noqa: E402
from services.storage.local import LocalObjectStore  # noqa: E402
from services.storage.protocol import BucketRef  # noqa: E402


def fill_local(store: LocalObjectStore, bucket: BucketRef, names: list[str]) -> None:
    """Write the objects as files, then list once so every ETag record exists (a warm bucket)."""
    store.create_bucket(bucket)
    data = store.root / bucket.name / "data"
    for name in names:
        path = data / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    assert sum(1 for _ in iter_objects(store, bucket)) == len(names)


def timed_listing(count: object) -> float:
    started = time.perf_counter()
    assert callable(count)
    count()
    return time.perf_counter() - started


def filter_answer_seconds(root: Path, bucket: BucketRef, text: str) -> float:
    """Seconds from typing a filter in the real app on this local store to its first rows."""
    from services.backends import ServiceSet
    from services.config import Config, Profile
    from services.fake_set import fake_services
    from tui.app import make_app
    from tui.panels.buckets import BucketsPanel
    from tui.settings import AppSettings
    from widgets.resource_table import ResourceTable

    def factory(profile: Profile) -> ServiceSet:
        services = fake_services(profile)
        services.object_store = LocalObjectStore(root)
        return services

    async def run() -> float:
        app = make_app("local", Config(), factory, AppSettings(poll=False), env={})
        async with app.run_test() as pilot:
            await app.workers.wait_for_complete()
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            table = app.query_one("#buckets-table", ResourceTable)
            started = time.perf_counter()
            app.query_one(BucketsPanel).apply_filter(text)
            while not (table.row_count and str(table.get_row_at(0)[2]).startswith(text)):
                await pilot.pause(0.005)
            return time.perf_counter() - started

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=100_000)
    args = parser.parse_args()
    nested = [f"k/{n // 1000:03d}/{n:06d}" for n in range(args.keys)]
    flat = [f"obj-{n:06d}.bin" for n in range(args.keys)]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        local = LocalObjectStore(root / "buckets")
        fill_local(local, BucketRef("nested", "LOCAL"), nested)
        fill_local(local, BucketRef("flat", "LOCAL"), flat)
        (root / "weed").mkdir()
        with seaweed_s3(root / "weed", credentials=(KEY, SECRET)) as endpoint:
            client = boto3_client(endpoint, 32)
            for bucket_name, names in (("nested", nested), ("flat", flat)):
                client.create_bucket(Bucket=bucket_name)
                with ThreadPoolExecutor(max_workers=32) as pool:
                    list(pool.map(lambda name, b=bucket_name: client.put_object(Bucket=b, Key=name, Body=b"x"), names))
            print(f"{args.keys} keys, local store vs the boto3 paginator on SeaweedFS (same run)")
            for bucket_name, names in (("nested", nested), ("flat", flat)):
                fresh = LocalObjectStore(root / "buckets")  # a new process's view: no sorted names kept
                ours = timed_listing(lambda f=fresh, b=bucket_name, n=names: sum(1 for _ in iter_objects(f, BucketRef(b, "LOCAL"))) == len(n))

                def paginate(b: str = bucket_name, n: list[str] = names) -> None:
                    pages = client.get_paginator("list_objects_v2").paginate(Bucket=b, PaginationConfig={"PageSize": 1000})
                    assert sum(len(page.get("Contents", [])) for page in pages) == len(n)

                s3 = timed_listing(paginate)
                print(f"  {bucket_name:<7} local {ours:6.2f} s   S3 paginator {s3:6.2f} s   local/S3 = {ours / s3:.2f}   (target ≤ 1)")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        fill_local(LocalObjectStore(root), BucketRef("flat", "LOCAL"), flat)
        seconds = filter_answer_seconds(root, BucketRef("flat", "LOCAL"), f"obj-{args.keys - 7:06d}")
        print(f"TUI filter on {args.keys} keys: first match after {seconds:.3f} s (target < 1 s)")


if __name__ == "__main__":
    main()
