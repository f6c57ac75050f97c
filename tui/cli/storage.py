"""`triton-deck bucket ...`: the ovhai bucket commands, on any profile's object store.

    triton-deck bucket object upload --create my-models@LOCAL model_repository/ --remove-prefix model_repository/
    triton-deck bucket object list my-models@LOCAL

A progress bar when stderr is a terminal, one plain line per file when it is not (logs, CI).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeVar

from services.cancel import CancelToken
from services.errors import UserError
from services.storage.listing import iter_objects
from services.storage.protocol import (
    BucketRef,
    ObjectInfo,
    ObjectStore,
    TransferProgress,
    TransferResult,
    UploadOptions,
)
from services.units import human_size
from services.usecases.storage import Selection, select_objects, selected_keys
from services.usecases.uploads import UploadRequest, plan_bucket_upload, run_bucket_upload
from tui.cli.output import row_cell, shown, warn
from tui.cli.parser import CommandGroup, OutputOption
from tui.cli.repo import print_report
from tui.render import DATE_FORMAT, object_cells

if TYPE_CHECKING:
    from tui.cli.context import Context

EXIT_OK, EXIT_FAILURE = 0, 1
MAX_WORKERS = 64
R = TypeVar("R")


def _store(ctx: Context) -> ObjectStore:
    return ctx.services.storage()


class ProgressReporter:
    """Totals as a live bar on a terminal, or a line per finished file when piped, saying
    what became of it (`uploading 3/6 k` for a file then kept unchanged would be a lie)."""

    def __init__(self, verb: str, stream: TextIO, files_total: int, bytes_total: int, done_word: str = "") -> None:
        self._verb = verb
        self._done_word = done_word or verb
        self._stream = stream
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._last_files = 0
        self._bar = None
        if stream.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._bar = Progress(
                TextColumn(f"{verb} {{task.fields[files]}}"),
                BarColumn(),
                DownloadColumn(binary_units=True),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(file=stream),
                transient=True,
            )
            self._task = self._bar.add_task(verb, total=bytes_total, files=f"0/{files_total}")
            self._bar.start()

    def __call__(self, update: TransferProgress) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.update(self._task, completed=update.bytes_done, files=f"{update.files_done}/{update.files_total}")
            elif update.files_done > self._last_files:
                self._last_files = update.files_done
                word = {"done": self._done_word, "skipped": "kept", "failed": "failed"}.get(update.outcome, self._verb)
                print(shown(f"{word} {update.files_done}/{update.files_total} {update.key}", self._stream), file=self._stream)

    def close(self) -> float:
        if self._bar is not None:
            self._bar.stop()
        return time.monotonic() - self._started


def _report(ctx: Context, verb: str, result: TransferResult, seconds: float, total_bytes: int) -> int:
    rate = f", {human_size(int(total_bytes / seconds))}/s" if seconds > 0 and result.done else ""
    ctx.print(f"{verb} {len(result.done)}, unchanged or kept {len(result.skipped)}, failed {len(result.failed)} in {seconds:.1f}s{rate}")
    for key, reason in result.failed:
        warn(f"triton-deck: {key}: {reason}")
    return EXIT_OK if result.ok else EXIT_FAILURE


def _run_transfer(label: str, files: int, size: int, work: Callable[[ProgressReporter, CancelToken], R]) -> tuple[R, float]:
    """Run a transfer; ctrl+c cancels it cleanly (no partial objects or files) instead of killing it."""
    reporter = ProgressReporter(label, sys.stderr, files, size, done_word=label.removesuffix("ing") + "ed")
    cancel = CancelToken()
    try:
        result = work(reporter, cancel)
    except KeyboardInterrupt:
        cancel.cancel()
        raise
    finally:
        seconds = reporter.close()
    return result, seconds


def cmd_bucket_list(ctx: Context) -> int:
    buckets = _store(ctx).list_buckets()
    if ctx.args.output == "json":
        ctx.print_json([{"name": b.ref.name, "region": b.ref.region, "created": b.created.isoformat() if b.created else None} for b in buckets])
        return EXIT_OK
    ctx.print(f"{'DATE':<19} NAME")
    for bucket in buckets:
        ctx.print(f"{bucket.created.strftime(DATE_FORMAT) if bucket.created else '':<19} {bucket.ref}")
    return EXIT_OK


def cmd_bucket_create(ctx: Context) -> int:
    bucket = BucketRef.parse(ctx.args.bucket)
    store = _store(ctx)
    if store.bucket_exists(bucket):
        raise UserError(f"bucket {bucket} already exists")
    store.create_bucket(bucket)
    ctx.print(f"created {bucket}")
    return EXIT_OK


def cmd_bucket_delete(ctx: Context) -> int:
    bucket = BucketRef.parse(ctx.args.bucket)
    store = _store(ctx)
    if not store.bucket_exists(bucket):
        raise UserError(f"no bucket {bucket}: `triton-deck bucket list` shows the profile's buckets")
    if not ctx.args.yes:
        if not sys.stdin.isatty():
            raise UserError(f"deleting bucket {bucket} needs confirmation: add -y")
        if input(f"delete bucket {bucket}? [y/N] ").strip().lower() not in ("y", "yes"):
            ctx.print("nothing deleted")
            return EXIT_FAILURE
    store.delete_bucket(bucket)
    ctx.print(f"deleted {bucket}")
    return EXIT_OK


def _object_row(info: ObjectInfo) -> str:
    cells = object_cells(info)
    return f"{cells['DATE']:<19} {cells['BYTES']:>10} {row_cell(info.key)} {cells['ETAG']}"


def cmd_object_list(ctx: Context) -> int:
    bucket = BucketRef.parse(ctx.args.bucket)
    objects = iter_objects(_store(ctx), bucket, ctx.args.prefix or "")
    if ctx.args.output == "json":
        ctx.print_json(
            [
                {"key": o.key, "size": o.size, "lastModified": o.last_modified.isoformat(), "etag": o.etag, "storageClass": o.storage_class}
                for o in objects
            ]
        )
        return EXIT_OK
    ctx.print(f"{'DATE':<19} {'BYTES':>10} NAME ETAG")
    for info in objects:  # printed page by page as they arrive
        ctx.print(_object_row(info))
    return EXIT_OK


def cmd_object_upload(ctx: Context) -> int:
    args = ctx.args
    if not 1 <= args.workers <= MAX_WORKERS:
        raise UserError(f"--workers {args.workers}: give 1 to {MAX_WORKERS} parallel transfers")
    store = _store(ctx)
    request = UploadRequest(
        bucket=BucketRef.parse(args.bucket),
        paths=tuple(args.paths),
        remove_prefix=args.remove_prefix or "",
        add_prefix=args.add_prefix or "",
        create_bucket=args.create,
        skip_validation=args.skip_validation,
        options=UploadOptions(workers=args.workers, overwrite=not args.no_overwrite),
    )
    planned = plan_bucket_upload(store, request, on_report=print_report)
    done, seconds = _run_transfer(
        "uploading", len(planned.items), planned.size, lambda reporter, cancel: run_bucket_upload(store, planned, reporter, cancel)
    )
    if done.created_bucket:
        ctx.print(f"created {request.bucket}")
    return _report(ctx, "uploaded", done.result, seconds, planned.size)


def cmd_object_download(ctx: Context) -> int:
    args = ctx.args
    bucket = BucketRef.parse(args.bucket)
    store = _store(ctx)
    objects = select_objects(store, bucket, Selection.typed(args.objects, args.prefix, args.all))
    destination = Path(args.output_dir)
    size = sum(info.size for info in objects)
    result, seconds = _run_transfer(
        "downloading",
        len(objects),
        size,
        lambda reporter, cancel: store.download(bucket, objects, destination, reporter, cancel, remove_prefix=args.remove_prefix or ""),
    )
    return _report(ctx, "downloaded", result, seconds, size)


def cmd_object_delete(ctx: Context) -> int:
    """With -y a prefix's keys go as they are listed; otherwise they are counted for the question first."""
    args = ctx.args
    bucket = BucketRef.parse(args.bucket)
    store = _store(ctx)
    selection = Selection.typed(args.objects, args.prefix, args.all)
    keys: Iterable[str] = selected_keys(store, bucket, selection)
    if not args.yes:
        keys = list(keys)
        if not keys:
            ctx.print(f"nothing to delete in {bucket}")
            return EXIT_OK
        if not sys.stdin.isatty():
            raise UserError(f"deleting {len(keys)} object(s) from {bucket} needs confirmation: add -y")
        answer = input(f"delete {len(keys)} object(s) from {bucket}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            ctx.print("nothing deleted")
            return EXIT_FAILURE
    result = store.delete(bucket, keys, lambda _update: None, CancelToken())
    if not result.done and not result.failed:
        ctx.print(f"nothing to delete in {bucket}")
        return EXIT_OK
    return _report(ctx, "deleted", result, 0.0, 0)


def _selection_arguments(parser: argparse.ArgumentParser) -> None:
    """Which objects a download or delete acts on: named keys, a prefix, or all (one of them)."""
    parser.add_argument("bucket", metavar="NAME@REGION")
    parser.add_argument("objects", nargs="*", metavar="OBJECT")
    parser.add_argument("-p", "--prefix", help="every object under this prefix")
    parser.add_argument("--all", action="store_true", help="every object of the bucket")


def add_bucket_commands(groups: argparse._SubParsersAction, common: argparse.ArgumentParser, output_option: OutputOption) -> None:  # type: ignore[type-arg]
    bucket = CommandGroup(groups, common, output_option, "bucket", "list, create, delete and browse buckets; upload, download, delete objects")
    bucket.action("list", cmd_bucket_list, "list the profile's buckets", output=True)
    bucket.action("create", cmd_bucket_create, "create a bucket").add_argument("bucket", metavar="NAME@REGION")
    delete = bucket.action("delete", cmd_bucket_delete, "delete an empty bucket")
    delete.add_argument("bucket", metavar="NAME@REGION")
    delete.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")

    objects = bucket.group("object", "objects of a bucket")
    object_list = objects.action("list", cmd_object_list, "list objects: DATE BYTES NAME ETAG", output=True)
    object_list.add_argument("bucket", metavar="NAME@REGION")
    object_list.add_argument("-p", "--prefix", help="only keys starting with this")

    upload = objects.action("upload", cmd_object_upload, "upload files or directories (key = path - remove-prefix + add-prefix)")
    upload.add_argument("bucket", metavar="NAME@REGION")
    upload.add_argument("paths", nargs="+", metavar="PATH")
    upload.add_argument("-r", "--remove-prefix", help="strip this from the front of each path")
    upload.add_argument("-a", "--add-prefix", help="prepend this to each key")
    upload.add_argument("--no-overwrite", action="store_true", help="keep objects that already exist")
    upload.add_argument("-w", "--workers", type=int, default=8, help="parallel transfers (default 8)")
    upload.add_argument("--skip-validation", action="store_true", help="upload a model repository even if it has errors")
    upload.add_argument("--create", action="store_true", help="create the bucket if it does not exist (a missing one is refused)")

    download = objects.action("download", cmd_object_download, "download objects, a prefix, or everything")
    _selection_arguments(download)
    download.add_argument("-o", "--output-dir", default=".", help="where to write (default .)")
    download.add_argument("-r", "--remove-prefix", help="strip this from each key to name the file")

    delete = objects.action("delete", cmd_object_delete, "delete objects, a prefix, or everything")
    _selection_arguments(delete)
    delete.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
