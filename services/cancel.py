"""Cooperative cancellation shared by every long service call.

Blocking calls run in worker threads that cannot be interrupted, so each service loop
checks a `CancelToken` between chunks, layers or lines and stops cleanly when it is set.
"""

from __future__ import annotations

import threading


class Cancelled(Exception):
    """Raised inside a service when its `CancelToken` was set."""


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; returns True (early) when cancelled."""
        return self._event.wait(seconds)
