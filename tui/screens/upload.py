"""The upload dialog: a directory into the open bucket, with ovhai's prefix rule,
the repository check before anything moves, live totals, and cancel.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, ProgressBar, Static
from textual.worker import Worker, WorkerState, get_current_worker

from services.cancel import CancelToken
from services.errors import UserError
from services.repository import (
    ValidationReport,
    looks_like_repository,
    validate_repository,
)
from services.storage.protocol import (
    BucketRef,
    TransferProgress,
    TransferResult,
)
from services.triton.frameworks import ModelServing, repository_serving
from services.units import human_size
from services.usecases.uploads import MissingBucket, UploadRequest, plan_bucket_upload, run_bucket_upload
from tui.keymap import KEYMAP
from tui.render import serving_lines
from tui.screens.deck_access import DeckAccess
from tui.screens.dialog import DialogKeys
from widgets.inert import inert

if TYPE_CHECKING:
    pass

PROGRESS_INTERVAL_S = 0.1


def report_text(report: ValidationReport | None, servings: Sequence[ModelServing] = (), target: str = "local") -> Text:
    """The check's summary and findings, then per model whether the profile's target serves it."""
    if report is None:
        return Text("not a model repository: uploaded as plain files", style="dim")
    text = inert(report.summary(), style="bold green" if report.ok else "bold red")
    for finding in report.findings[:6]:
        text.append(f"\n{finding}", style="red" if finding.severity == "error" else "yellow")
    if len(report.findings) > 6:
        text.append(f"\n… and {len(report.findings) - 6} more (triton-deck repo validate)", style="dim")
    for serving, line in zip(servings, serving_lines(list(servings), target), strict=True):
        text.append("\n")
        text.append_text(inert(line, style="" if serving.servable else "red"))
    return text


class UploadScreen(DialogKeys, DeckAccess, ModalScreen[bool]):
    """Dismisses True when something was uploaded, so the browser refreshes."""

    BINDINGS = KEYMAP["upload"]

    @dataclass
    class Checked(Message):
        source: str
        report: ValidationReport | None
        servings: list[ModelServing] = field(default_factory=list)

    @dataclass
    class Progressed(Message):
        update: TransferProgress
        started: float

    class BucketMissing(Message):
        pass

    @dataclass
    class Finished(Message):
        result: TransferResult

    def __init__(self, bucket: BucketRef, prefix: str, source: str = "") -> None:
        super().__init__()
        self._bucket = bucket
        self._prefix = prefix
        self._source = source
        self._report: ValidationReport | None = None
        self._checked_source: str | None = None
        self._cancel: CancelToken | None = None
        self._uploaded = False
        self._create_confirmed = False

    @property
    def _target(self) -> str:
        """Where the active profile serves a repository: what the per-model lines are about."""
        return self.services.profile.kind.value

    def compose(self) -> ComposeResult:
        with Vertical(id="upload-box", classes="dialog"):
            yield Static(f"Upload to {self._bucket}/{self._prefix}", id="upload-title")
            with Horizontal(classes="field"):
                yield Label("source", classes="field-label")
                yield Input(self._source, placeholder="(empty) a directory or files to upload, e.g. model_repository/", id="upload-source")
            with Horizontal(classes="field"):
                yield Label("remove prefix", classes="field-label")
                yield Input(self._default_remove(self._source), id="upload-remove")
            with Horizontal(classes="field"):
                yield Label("add prefix", classes="field-label")
                yield Input(self._prefix, id="upload-add")
            yield Static(id="upload-report")
            yield ProgressBar(total=None, show_eta=False, id="upload-progress")
            yield Static(id="upload-status")
            with Horizontal(id="upload-buttons"):
                yield Button("Cancel [esc]", id="upload-cancel")
                yield Button("Upload [ctrl+s]", id="upload-start", variant="primary")

    @staticmethod
    def _default_remove(source: str) -> str:
        return source if not source or source.endswith("/") else source + "/"

    def on_mount(self) -> None:
        self.query_one("#upload-progress", ProgressBar).display = False
        self.query_one("#upload-source", Input).focus()
        if self._source:
            self._check(self._source)

    def _value(self, name: str) -> str:
        return self.query_one(f"#upload-{name}", Input).value

    @on(Input.Submitted, "#upload-source")
    @on(Input.Blurred, "#upload-source")
    def _source_entered(self) -> None:
        source = self._value("source").strip()
        remove = self.query_one("#upload-remove", Input)
        if not remove.value:
            remove.value = self._default_remove(source)
        if source and source != self._checked_source:
            self._check(source)

    @work(thread=True, exclusive=True, group="upload-check", exit_on_error=False)
    def _check(self, source: str) -> None:
        path = Path(source).expanduser()
        if not path.exists():
            raise UserError(f"{source}: no such file or directory")
        if not looks_like_repository(path):
            self.post_message(self.Checked(source, None))
            return
        self.post_message(self.Checked(source, validate_repository(path), repository_serving(path, self._target)))

    @on(Checked)
    def _checked(self, message: Checked) -> None:
        self._checked_source, self._report = message.source, message.report
        self.query_one("#upload-report", Static).update(report_text(message.report, message.servings, self._target))

    def action_upload(self) -> None:
        if self._cancel is not None:
            return
        source = self._value("source").strip()
        if not source:
            self.query_one("#upload-status", Static).update(Text("give a source directory or file", style="red"))
            return
        if self._checked_source == source and self._report is not None and not self._report.ok:
            self.query_one("#upload-status", Static).update(
                Text("the repository has errors: fix them first (or use the CLI's --skip-validation)", style="red")
            )
            return
        self._cancel = CancelToken()
        self.query_one("#upload-start", Button).disabled = True
        self.query_one("#upload-progress", ProgressBar).display = True
        self._upload(source, self._value("remove"), self._value("add"), self._cancel)

    @work(thread=True, exclusive=True, group="upload-run", exit_on_error=False)
    def _upload(self, source: str, remove: str, add: str, cancel: CancelToken) -> None:
        store = self.services.storage()
        worker = get_current_worker()
        request = UploadRequest(self._bucket, (source,), remove, add, create_bucket=self._create_confirmed)
        try:
            planned = plan_bucket_upload(store, request)
        except MissingBucket:
            self.post_message(self.BucketMissing())
            return
        started = time.monotonic()
        last = 0.0

        def progress(update: TransferProgress) -> None:
            nonlocal last
            if worker.is_cancelled:
                cancel.cancel()
            now = time.monotonic()
            if now - last >= PROGRESS_INTERVAL_S or update.files_done == update.files_total:
                last = now
                self.post_message(self.Progressed(update, started))

        self.post_message(self.Finished(run_bucket_upload(store, planned, progress, cancel).result))

    @on(BucketMissing)
    def _bucket_missing(self) -> None:
        """Offer to create it: a second ctrl+s confirms, as the message says."""
        self._cancel = None
        self._create_confirmed = True
        self.query_one("#upload-start", Button).disabled = False
        self.query_one("#upload-progress", ProgressBar).display = False
        self.query_one("#upload-status", Static).update(
            inert(f"bucket {self._bucket} does not exist: ctrl+s again creates it and uploads, esc leaves it", style="yellow")
        )

    @on(Progressed)
    def _progressed(self, message: Progressed) -> None:
        update = message.update
        self.query_one("#upload-progress", ProgressBar).update(total=max(update.bytes_total, 1), progress=update.bytes_done)
        elapsed = max(time.monotonic() - message.started, 1e-6)
        rate = update.bytes_done / elapsed
        remaining = (update.bytes_total - update.bytes_done) / rate if rate > 0 else 0
        self.query_one("#upload-status", Static).update(
            f"{update.files_done}/{update.files_total} files  {human_size(update.bytes_done)} of {human_size(update.bytes_total)}"
            f"  {human_size(int(rate))}/s  ETA {remaining:.0f}s\n{update.key}"
            + (f"  {100 * update.file_done // update.file_total}%" if update.file_total else "")
        )

    @on(Finished)
    def _finished(self, message: Finished) -> None:
        result = message.result
        self._uploaded = bool(result.done)
        self._cancel = None
        text = Text(f"uploaded {len(result.done)}, unchanged {len(result.skipped)}, failed {len(result.failed)}", style="bold")
        for key, reason in result.failed[:5]:
            text.append(f"\n{key}: {reason}", style="red")
        self.query_one("#upload-status", Static).update(text)
        self.query_one("#upload-start", Button).disabled = False

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self._cancel = None
            self.query_one("#upload-start", Button).disabled = False
            error = event.worker.error
            text = error.message if isinstance(error, UserError) else f"{type(error).__name__}: {error}"
            self.query_one("#upload-status", Static).update(inert(text, style="red"))

    @on(Button.Pressed, "#upload-start")
    def _start_pressed(self) -> None:
        self.action_upload()

    @on(Button.Pressed, "#upload-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_cancel(self) -> None:
        """First esc cancels a running upload (nothing partial is left); the next closes."""
        if self._cancel is not None:
            self._cancel.cancel()
            self.query_one("#upload-status", Static).update(Text("cancelling…", style="yellow"))
            return
        self.dismiss(self._uploaded)
