"""Service calls in thread workers, cancelled with the worker.

A service call takes a `CancelToken`; the token a worker hands it is set the moment
Textual cancels the worker (the screen closed, an exclusive run replaced it, the app
quit), so leaving a screen stops its transfer or stream instead of letting it run on.
"""

from __future__ import annotations

from textual.worker import get_current_worker

from services.cancel import CancelToken


def worker_token() -> CancelToken:
    """A token cancelled when the calling thread worker is; call it inside the worker."""
    worker = get_current_worker()
    return CancelToken(linked=lambda: worker.is_cancelled)
