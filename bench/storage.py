"""Object storage benchmark: our S3 store against awscli, s5cmd and boto3's TransferManager,
all against the same local SeaweedFS server, in one run.

    python3 -m uv run --group bench python bench/storage.py [--small 2500] [--big-mb 200] [--list-keys 100000] [--workers 8] [--rounds 3]

Upload: the same tree (many small files plus one big file) into a fresh prefix per tool and round;
targets: faster than awscli, within 20% of s5cmd, never slower than TransferManager.
Download: that set back into a fresh directory per tool; ≤1.2× s5cmd, never slower than boto3.
Delete: one copy of it per tool; ≤1.5× s5cmd, never slower than boto3's DeleteObjects loop.
Listing: every key of a 100,000-key bucket; ≤1.5× s5cmd ls, never slower than the paginator.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.seaweed import seaweed_s3  # noqa: E402
from services.cancel import CancelToken  # noqa: E402
from services.config import S3Credentials  # noqa: E402
from services.secrets import Secret  # noqa: E402
from services.storage.listing import iter_objects  # noqa: E402
from services.storage.planning import plan_upload  # noqa: E402
from services.storage.protocol import BucketRef, UploadOptions  # noqa: E402
from services.storage.s3 import S3ObjectStore  # noqa: E402
from services.usecases.storage import Selection, selected_keys  # noqa: E402

KEY, SECRET = "bench-access", "bench-secret"
TOOL_ENV = {**os.environ, "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": "us-east-1"}


def timed(run: Callable[[], object]) -> float:
    os.sync()  # no contender pays for the previous one's writeback
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def median_of_rounds(contenders: dict[str, Callable[[int], object]], rounds: int, after_round: Callable[[int], None] = lambda _r: None) -> dict[str, float]:
    """Each contender `rounds` times (given the round's number), the order rotated every round so
    none always meets a cold server or a disk still busy with another's files; the medians.
    This VM's disk makes one run of 200 MiB vary by 2×: a single run compares noise."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for number in range(rounds):
        for name in names[number % len(names) :] + names[: number % len(names)]:
            times[name].append(timed(functools.partial(contenders[name], number)))
        after_round(number)
    return {name: statistics.median(values) for name, values in times.items()}


def make_tree(root: Path, small: int, big_mb: int) -> int:
    rng = random.Random(11)
    total = 0
    for index in range(small):
        path = root / f"model_{index // 50}" / "1" / f"part_{index}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = rng.randbytes(rng.randint(1024, 8192))
        path.write_bytes(data)
        total += len(data)
    big = root / "big_model" / "1" / "model.onnx"
    big.parent.mkdir(parents=True, exist_ok=True)
    with big.open("wb") as handle:
        for _ in range(big_mb):
            handle.write(os.urandom(1024 * 1024))
    return total + big_mb * 1024 * 1024


def boto3_client(endpoint: str, workers: int):  # type: ignore[no-untyped-def]
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=KEY, aws_secret_access_key=SECRET,
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=workers * 2,
                      request_checksum_calculation="when_required", response_checksum_validation="when_required"),
    )  # fmt: skip


def upload_benchmark(endpoint: str, tree: Path, workers: int, total_bytes: int, rounds: int) -> None:
    from boto3.s3.transfer import TransferConfig, create_transfer_manager

    store = S3ObjectStore(S3Credentials(Secret(KEY), Secret(SECRET), "bench"), endpoint_url=endpoint, signing_region="us-east-1", workers=workers)
    bucket = BucketRef("bench-upload", "GRA")
    store.create_bucket(bucket)
    client = boto3_client(endpoint, workers)
    files = sorted(p for p in tree.rglob("*") if p.is_file())
    os.chdir(tree.parent)
    store.list_buckets()  # every contender starts with a ready client

    def ours(number: int) -> None:
        items = plan_upload([tree.name], remove_prefix=f"{tree.name}/", add_prefix=f"ours-{number}/")
        result = store.upload(bucket, items, UploadOptions(workers=workers, skip_unchanged=False), lambda _p: None, CancelToken())
        assert result.ok, result.failed[:3]

    def transfer_manager(number: int) -> None:
        config = TransferConfig(max_concurrency=workers, multipart_threshold=16 * 1024 * 1024, multipart_chunksize=16 * 1024 * 1024)
        with create_transfer_manager(client, config) as manager:
            futures = [manager.upload(str(p), bucket.name, f"tm-{number}/{p.relative_to(tree)}") for p in files]
            for future in futures:
                future.result()

    def awscli(number: int) -> None:
        env = {**TOOL_ENV, "AWS_CONFIG_FILE": str(tree.parent / "aws-config")}
        (tree.parent / "aws-config").write_text(f"[default]\ns3 =\n  max_concurrent_requests = {workers}\n")
        subprocess.run([sys.executable, "-m", "awscli", "s3", "cp", "--recursive", "--quiet", "--endpoint-url", endpoint, str(tree), f"s3://{bucket.name}/aws-{number}/"], check=True, env=env)

    def s5cmd(number: int) -> None:
        binary = str(Path(sys.executable).with_name("s5cmd"))
        subprocess.run([binary, "--endpoint-url", endpoint, "--numworkers", str(workers), "cp", f"{tree}/*", f"s3://{bucket.name}/s5-{number}/"], check=True, env=TOOL_ENV, stdout=subprocess.DEVNULL)

    results = median_of_rounds({"triton-deck": ours, "TransferManager": transfer_manager, "awscli": awscli, "s5cmd": s5cmd}, rounds)
    mine = results["triton-deck"]
    print(f"\nupload: {len(files)} files, {total_bytes / 2**20:.0f} MiB, {workers} workers, median of {rounds} rounds")
    for name, seconds in results.items():
        print(f"  {name:<16} {seconds:7.2f} s   {total_bytes / 2**20 / seconds:7.1f} MiB/s   ours/this = {mine / seconds:.2f}")
    print(f"  targets: ours/awscli < 1 ({mine / results['awscli']:.2f}), ours/s5cmd ≤ 1.2 ({mine / results['s5cmd']:.2f}), ours/TransferManager ≤ 1 ({mine / results['TransferManager']:.2f})")
    print(f"  small objects sent with the lean signed PUT: {store.fast_puts_sent} (the rest through boto3)")


def download_benchmark(endpoint: str, scratch: Path, workers: int, total_bytes: int, rounds: int) -> None:
    """Our first-round upload (under ours-0/) down into a fresh directory per tool and round."""
    from boto3.s3.transfer import TransferConfig, create_transfer_manager

    store = S3ObjectStore(S3Credentials(Secret(KEY), Secret(SECRET), "bench"), endpoint_url=endpoint, signing_region="us-east-1", workers=workers)
    bucket = BucketRef("bench-upload", "GRA")
    client = boto3_client(endpoint, workers)
    objects = list(iter_objects(store, bucket, "ours-0/"))

    def into(tool: str, number: int) -> Path:
        return scratch / f"dl-{number}" / tool

    def ours(number: int) -> None:
        result = store.download(bucket, objects, into("ours", number), lambda _p: None, CancelToken(), remove_prefix="ours-0/")
        assert result.ok, result.failed[:3]

    def transfer_manager(number: int) -> None:  # the raw boto3 way: TransferManager downloads, as many as workers at once
        config = TransferConfig(max_concurrency=workers, multipart_threshold=16 * 1024 * 1024, multipart_chunksize=16 * 1024 * 1024)
        with create_transfer_manager(client, config) as manager:
            futures = []
            for info in objects:
                target = into("tm", number) / info.key.removeprefix("ours-0/")
                target.parent.mkdir(parents=True, exist_ok=True)
                futures.append(manager.download(bucket.name, info.key, str(target)))
            for future in futures:
                future.result()

    def awscli(number: int) -> None:
        env = {**TOOL_ENV, "AWS_CONFIG_FILE": str(scratch / "aws-config")}
        subprocess.run([sys.executable, "-m", "awscli", "s3", "cp", "--recursive", "--quiet", "--endpoint-url", endpoint, f"s3://{bucket.name}/ours-0/", str(into("aws", number))], check=True, env=env)

    def s5cmd(number: int) -> None:
        binary = str(Path(sys.executable).with_name("s5cmd"))
        subprocess.run([binary, "--endpoint-url", endpoint, "--numworkers", str(workers), "cp", f"s3://{bucket.name}/ours-0/*", f"{into('s5', number)}/"], check=True, env=TOOL_ENV, stdout=subprocess.DEVNULL)

    contenders = {"triton-deck": ours, "TransferManager": transfer_manager, "awscli": awscli, "s5cmd": s5cmd}
    results = median_of_rounds(contenders, rounds, after_round=lambda number: shutil.rmtree(scratch / f"dl-{number}"))
    mine = results["triton-deck"]
    print(f"\ndownload: {len(objects)} files, {total_bytes / 2**20:.0f} MiB, {workers} workers, median of {rounds} rounds")
    for name, seconds in results.items():
        print(f"  {name:<16} {seconds:7.2f} s   {total_bytes / 2**20 / seconds:7.1f} MiB/s   ours/this = {mine / seconds:.2f}")
    print(f"  targets: ours/s5cmd ≤ 1.2 ({mine / results['s5cmd']:.2f}), ours/TransferManager ≤ 1 ({mine / results['TransferManager']:.2f})")


def delete_benchmark(endpoint: str, workers: int) -> None:
    """Each tool deletes its own first-round copy of the upload (ours-0/, tm-0/, aws-0/, s5-0/)."""
    store = S3ObjectStore(S3Credentials(Secret(KEY), Secret(SECRET), "bench"), endpoint_url=endpoint, signing_region="us-east-1", workers=workers)
    bucket = BucketRef("bench-upload", "GRA")
    client = boto3_client(endpoint, workers)
    counts = {prefix: sum(1 for _ in iter_objects(store, bucket, prefix)) for prefix in ("ours-0/", "tm-0/", "aws-0/", "s5-0/")}

    def ours() -> None:  # as `bucket object delete --prefix ours-0/ -y`: the keys stream from the listing
        assert store.delete(bucket, selected_keys(store, bucket, Selection(prefix="ours-0/")), lambda _p: None, CancelToken()).ok

    def boto3_batches() -> None:  # the raw boto3 way: list, then DeleteObjects 1,000 at a time
        keys = [entry["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket.name, Prefix="tm-0/") for entry in page.get("Contents", [])]
        for start in range(0, len(keys), 1000):
            client.delete_objects(Bucket=bucket.name, Delete={"Objects": [{"Key": key} for key in keys[start : start + 1000]]})

    def awscli() -> None:
        subprocess.run([sys.executable, "-m", "awscli", "s3", "rm", "--recursive", "--quiet", "--endpoint-url", endpoint, f"s3://{bucket.name}/aws-0/"], check=True, env=TOOL_ENV)

    def s5cmd() -> None:
        binary = str(Path(sys.executable).with_name("s5cmd"))
        subprocess.run([binary, "--endpoint-url", endpoint, "--numworkers", str(workers), "rm", f"s3://{bucket.name}/s5-0/*"], check=True, env=TOOL_ENV, stdout=subprocess.DEVNULL)

    results = {name: timed(run) for name, run in (("triton-deck", ours), ("boto3 batches", boto3_batches), ("awscli", awscli), ("s5cmd", s5cmd))}
    mine = results["triton-deck"]
    print(f"\ndelete: {counts['ours-0/']} objects each ({', '.join(f'{prefix} {count}' for prefix, count in counts.items())})")
    for name, seconds in results.items():
        print(f"  {name:<16} {seconds:7.2f} s   ours/this = {mine / seconds:.2f}")
    print(f"  targets: ours/s5cmd ≤ 1.5 ({mine / results['s5cmd']:.2f}), ours/boto3 ≤ 1 ({mine / results['boto3 batches']:.2f})")


def listing_benchmark(endpoint: str, keys: int, workers: int, rounds: int) -> None:
    client = boto3_client(endpoint, 32)
    bucket = BucketRef("bench-list", "GRA")
    client.create_bucket(Bucket=bucket.name)
    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(lambda n: client.put_object(Bucket=bucket.name, Key=f"k/{n // 1000:03d}/{n:06d}", Body=b"x"), range(keys)))
    store = S3ObjectStore(S3Credentials(Secret(KEY), Secret(SECRET), "bench"), endpoint_url=endpoint, signing_region="us-east-1", workers=workers)
    store.list_buckets()  # a ready client, as the paginator has

    def ours(_round: int) -> None:
        assert sum(1 for _ in iter_objects(store, bucket)) == keys

    def paginator(_round: int) -> None:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket.name, PaginationConfig={"PageSize": 1000})
        assert sum(len(page.get("Contents", [])) for page in pages) == keys

    def s5cmd(_round: int) -> None:
        binary = str(Path(sys.executable).with_name("s5cmd"))
        subprocess.run([binary, "--endpoint-url", endpoint, "ls", f"s3://{bucket.name}/*"], check=True, env=TOOL_ENV, stdout=subprocess.DEVNULL)

    results = median_of_rounds({"triton-deck": ours, "boto3 paginator": paginator, "s5cmd ls": s5cmd}, rounds)
    mine = results["triton-deck"]
    print(f"\nlisting: {keys} keys, median of {rounds} rounds")
    for name, seconds in results.items():
        print(f"  {name:<16} {seconds:7.2f} s   ours/this = {mine / seconds:.2f}")
    print(f"  targets: ours/s5cmd ≤ 1.5 ({mine / results['s5cmd ls']:.2f}), ours/paginator ≤ 1 ({mine / results['boto3 paginator']:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=2500)
    parser.add_argument("--big-mb", type=int, default=200)
    parser.add_argument("--list-keys", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each upload, download and listing contender (medians)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "weed").mkdir()
        total = make_tree(root / "tree", args.small, args.big_mb)
        with seaweed_s3(root / "weed", credentials=(KEY, SECRET)) as endpoint:  # signatures checked
            print(f"SeaweedFS at {endpoint}")
            upload_benchmark(endpoint, root / "tree", args.workers, total, args.rounds)
            download_benchmark(endpoint, root, args.workers, total, args.rounds)
            delete_benchmark(endpoint, args.workers)
            listing_benchmark(endpoint, args.list_keys, args.workers, args.rounds)


if __name__ == "__main__":
    main()
