"""Tune searches started from the TUI, held by the app rather than by the Tune screen.

A search takes minutes; leaving its screen must not stop it, and opening the screen again
for the same server and model shows it where it is (every event so far replayed, then the
new ones). The search runs in an app-level thread worker: quitting the app cancels it, and
`tune` loads the config it found back on its way out.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from textual.app import App
from textual.worker import Worker, WorkerState

from tui.workers import worker_token

if TYPE_CHECKING:  # the search's modules load with the first search, not with the app
    from services.inference.protocol import InferenceClient
    from services.usecases.tune import TuneEvent, TuneSettings

Listener = Callable[["TuneEvent | str"], None]  # an event, or the one line the search failed with


@dataclass(eq=False)
class TuneRun:
    url: str
    model: str
    settings: TuneSettings
    events: list[TuneEvent] = field(default_factory=list)  # appended on the app's thread only
    error: str | None = None
    listener: Listener | None = None
    worker: Worker[None] | None = None

    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.state in (WorkerState.PENDING, WorkerState.RUNNING)

    def publish(self, item: TuneEvent | str) -> None:
        if isinstance(item, str):
            self.error = item
        else:
            self.events.append(item)
        if self.listener is not None:
            self.listener(item)

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()  # the search's token is the worker's: it stops and loads the config back


class TuneRuns:
    """The app's searches, one per (server URL, model): a new one replaces a finished one."""

    def __init__(self) -> None:
        self._runs: dict[tuple[str, str], TuneRun] = {}

    def get(self, url: str, model: str) -> TuneRun | None:
        return self._runs.get((url, model))

    def running(self) -> list[TuneRun]:
        return [run for run in self._runs.values() if run.running]

    def start(self, app: App[None], client: InferenceClient, settings: TuneSettings) -> TuneRun:
        from services.usecases.tune import tune

        run = TuneRun(client.endpoint.url, settings.sweep.model, settings)
        self._runs[(run.url, run.model)] = run

        def search() -> None:
            def send(item: TuneEvent | str) -> None:
                with contextlib.suppress(RuntimeError):  # the app is closing: nobody to show it to
                    app.call_from_thread(run.publish, item)

            try:
                with contextlib.closing(tune(client, settings, worker_token())) as events:
                    for event in events:
                        send(event)
            except Exception as error:  # noqa: BLE001 - every failure is the run's one line
                send(str(getattr(error, "message", None) or f"unexpected error ({type(error).__name__}): {error}"))

        run.worker = app.run_worker(search, thread=True, group="tune", name=f"tune {run.model}", exit_on_error=False)
        return run
