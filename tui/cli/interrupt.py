"""Ctrl-C as a request to stop, for commands whose work runs in threads of native clients.

A KeyboardInterrupt raised wherever the main thread happens to be can land inside
tritonclient's gevent or gRPC code; an interrupted hub then crashes the interpreter as it
exits (a segfault after the summary was printed). Here the first SIGINT only cancels the
token, the work ends at its next check and reports what it measured; a second SIGINT is the
usual KeyboardInterrupt, for a user who will not wait.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from services.cancel import CancelToken


@contextmanager
def interrupt_cancels(cancel: CancelToken) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def on_interrupt(_signum: int, _frame: FrameType | None) -> None:
        cancel.cancel()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
