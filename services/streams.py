"""Turn a blocking line iterator into timed batches.

A UI must not get one message per log line (a firehose freezes it), nor sit on a
half-filled batch while the source blocks waiting for the next line. A reader thread
drains the source into a queue; the consumer takes whatever arrived every `interval`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

from services.cancel import CancelToken

T = TypeVar("T")
_END = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def batched(source: Iterable[T], interval: float, cancel: CancelToken, max_batch: int = 5000) -> Iterator[list[T]]:
    """Yield non-empty lists of items as they arrive, at most every `interval` seconds.

    An exception raised by the source is re-raised here, after the items before it.
    """
    pending: queue.Queue[object] = queue.Queue(maxsize=max_batch * 4)

    def read() -> None:
        try:
            for item in source:
                while not cancel.cancelled:
                    try:
                        pending.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if cancel.cancelled:
                    return
            pending.put(_END)
        except BaseException as error:  # handed to the consumer, which re-raises it
            pending.put(_Failure(error))

    threading.Thread(target=read, name="batched-reader", daemon=True).start()
    while not cancel.cancelled:
        batch: list[T] = []
        try:
            item = pending.get(timeout=interval)
            while True:
                if item is _END:
                    if batch:
                        yield batch
                    return
                if isinstance(item, _Failure):
                    if batch:
                        yield batch
                    raise item.error
                batch.append(item)  # type: ignore[arg-type]
                if len(batch) >= max_batch:
                    break
                item = pending.get_nowait()
        except queue.Empty:
            pass
        if batch:
            yield batch
