"""Upload into a bucket: one use case for `bucket object upload`, the upload dialog and Deploy.

validate → plan → check the bucket → upload. Each front end used to hold its own copy with
its own validation rule, and two of them stored absolute paths in the keys. Here:

* a source that looks like a model repository is validated; errors stop the upload unless
  the caller skips validation on purpose;
* the keys follow ovhai's prefix rule (`services.storage.planning`), and when the source is
  a repository the layout the bucket will have is checked too: its model directories must
  land at the root (or at the add-prefix), which is what Triton polls;
* a missing bucket is refused with the fix, unless the caller asked for it to be created
  (a mistyped `nosuch@GRA` must not become a new bucket silently, as aws-cli refuses it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from services.cancel import CancelToken
from services.errors import UserError
from services.repository import ValidationReport, looks_like_repository, validate_repository
from services.storage.planning import plan_upload
from services.storage.protocol import BucketRef, ObjectStore, ProgressCallback, TransferResult, UploadItem, UploadOptions


@dataclass(frozen=True)
class UploadRequest:
    bucket: BucketRef
    paths: tuple[str, ...]
    remove_prefix: str = ""
    add_prefix: str = ""
    create_bucket: bool = False  # on purpose only: `--create`, the dialog's confirmation, Deploy's own bucket
    skip_validation: bool = False
    options: UploadOptions = field(default_factory=UploadOptions)


@dataclass(frozen=True)
class PlannedUpload:
    """What will be sent, and what was found on the way (the reports are shown by the caller)."""

    request: UploadRequest
    items: tuple[UploadItem, ...]
    reports: tuple[ValidationReport, ...]
    bucket_exists: bool

    @property
    def size(self) -> int:
        return sum(item.size for item in self.items)


@dataclass(frozen=True)
class UploadDone:
    result: TransferResult
    created_bucket: bool


class MissingBucket(UserError):
    """The bucket does not exist and nobody asked for it: the dialog offers to create it."""


def missing_bucket_message(bucket: BucketRef) -> str:
    return f"no bucket {bucket}: create it with `triton-deck bucket create {bucket}`, or upload with --create"


def _reports(paths: Sequence[str], skip: bool, on_report: Callable[[ValidationReport], None]) -> tuple[ValidationReport, ...]:
    reports = []
    for typed in paths:
        path = Path(typed).expanduser()
        if not looks_like_repository(path):
            continue
        report = validate_repository(path)
        reports.append(report)
        on_report(report)
        if not report.ok and not skip:
            raise UserError(f"{report.summary()}: fix them, or upload anyway with --skip-validation")
    return tuple(reports)


def _check_layout(report: ValidationReport, typed: str, items: Sequence[UploadItem], add_prefix: str) -> None:
    """Triton polls the models at the bucket's root (or the mounted prefix): say so when they would not be there."""
    keys = [item.key[len(add_prefix) :] for item in items if item.key.startswith(add_prefix)]
    if not report.models or any(key.split("/", 1)[0] in report.models for key in keys):
        return
    model = report.models[0]
    extra = next((key[: key.index(f"/{model}/") + 1] for key in keys if f"/{model}/" in key), "")
    where = f"under '{extra}'" if extra else "elsewhere"
    raise UserError(
        f"the bucket would hold the models of {typed} {where}, not at its root, so Triton could not load them: "
        f"upload with --remove-prefix {typed.rstrip('/')}/"
    )


def _ignore(_report: ValidationReport) -> None:
    pass


def plan_bucket_upload(store: ObjectStore, request: UploadRequest, on_report: Callable[[ValidationReport], None] = _ignore) -> PlannedUpload:
    """Everything checked before a byte moves; one UserError naming the problem and the fix.

    `on_report` sees each repository's validation as it is made, errors included, so the
    CLI prints the findings before the one line that stops the upload.
    """
    exists = store.bucket_exists(request.bucket)  # first: a wrong region is the store's one line
    reports = _reports(request.paths, request.skip_validation, on_report)
    items = plan_upload(request.paths, remove_prefix=request.remove_prefix, add_prefix=request.add_prefix)
    if not items:
        raise UserError(f"nothing to upload in {' '.join(request.paths)}: the paths hold no files")
    for typed, report in zip([p for p in request.paths if looks_like_repository(Path(p).expanduser())], reports, strict=True):
        if report.ok:
            _check_layout(report, typed, items, request.add_prefix)
    if not exists and not request.create_bucket:
        raise MissingBucket(missing_bucket_message(request.bucket))
    return PlannedUpload(request, tuple(items), reports, exists)


def run_bucket_upload(store: ObjectStore, planned: PlannedUpload, progress: ProgressCallback, cancel: CancelToken) -> UploadDone:
    """Create the bucket if that was asked for and it is still missing, then send every planned file."""
    created = False
    if not planned.bucket_exists and not store.bucket_exists(planned.request.bucket):
        store.create_bucket(planned.request.bucket)
        created = True
    result = store.upload(planned.request.bucket, planned.items, planned.request.options, progress, cancel)
    return UploadDone(result, created)
