"""Cooperative cancellation shared by every long service call.

Blocking calls run in worker threads that cannot be interrupted, so each service loop
checks a `CancelToken` between chunks, layers or lines and stops cleanly when it is set.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Cancelled(Exception):
    """Raised inside a service when its `CancelToken` was set."""


class CancelToken:
    """Set once, read from any thread.

    `linked` ties the token to an outside flag (a UI worker's own cancellation), so a
    service loop stops when the screen that started it goes away.
    """

    def __init__(self, linked: Callable[[], bool] | None = None) -> None:
        self._event = threading.Event()
        self._linked = linked

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        if not self._event.is_set() and self._linked is not None and self._linked():
            self._event.set()
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise Cancelled()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; returns True (early) when cancelled."""
        return self._event.wait(seconds) or self.cancelled
