"""Every object under a prefix, in key order, as fast as the server can answer.

A ListObjectsV2 listing is a chain: each page's token asks for the next, so one chain goes
no faster than a round trip plus a parse per 1,000 keys. When the keys fall under several
prefixes (a model repository: a folder per model; a job's outputs: a folder per run), the
listing becomes several chains at once: one delimiter request finds the prefixes, each
prefix is listed on its own worker, and the consumer takes their pages in key order. Each
chain runs at most `PAGES_AHEAD` pages ahead and at most `2 × chains` prefixes are open at
a time, so memory stays bounded however slow the consumer (a terminal) is.

A listing that fits in one page costs one request, as before; one that cannot be split
(a flat bucket, a delimiter listing longer than a page) goes on as a single chain, the
next page fetched while the current one is consumed.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from services.storage.protocol import BucketRef, ObjectInfo, ObjectStore

CHAINS = 4
PAGES_AHEAD = 4
SPLIT_DEPTH = 4  # single-folder levels descended to find prefixes worth splitting on
_POLL_S = 0.1


@dataclass(frozen=True)
class _Level:
    """A delimiter listing that fits in one page: its objects and its prefixes."""

    objects: tuple[ObjectInfo, ...]
    prefixes: tuple[str, ...]


def iter_objects(store: ObjectStore, bucket: BucketRef, prefix: str = "", page_size: int = 1000, chains: int = CHAINS) -> Iterator[ObjectInfo]:
    """Every object under `prefix`, page by page, in key order, never the whole bucket at once."""
    first = store.list_page(bucket, prefix, None, None, page_size)
    yield from first.objects
    if not first.next_token:
        return
    after = first.objects[-1].key if first.objects else ""
    level = _split(store, bucket, prefix, page_size) if chains > 1 else None
    if level is None:
        yield from _chain(store, bucket, prefix, first.next_token, page_size)
        return
    yield from _merged(store, bucket, level, after, page_size, chains)


def _split(store: ObjectStore, bucket: BucketRef, prefix: str, page_size: int) -> _Level | None:
    """The level under `prefix` (descending through lone folders) with two prefixes or more,
    or None when there is none in one page."""
    for _ in range(SPLIT_DEPTH):
        page = store.list_page(bucket, prefix, "/", None, page_size)
        if page.next_token:
            return None
        if len(page.prefixes) == 1 and not page.objects:
            prefix = page.prefixes[0]
            continue
        return _Level(page.objects, page.prefixes) if len(page.prefixes) > 1 else None
    return None


def _chain(store: ObjectStore, bucket: BucketRef, prefix: str, token: str | None, page_size: int) -> Iterator[ObjectInfo]:
    """One chain from `token` on, the next page fetched while this one is consumed."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="list-ahead") as ahead:
        pending = ahead.submit(store.list_page, bucket, prefix, None, token, page_size)
        while True:
            page = pending.result()
            if page.next_token:
                pending = ahead.submit(store.list_page, bucket, prefix, None, page.next_token, page_size)
            yield from page.objects
            if not page.next_token:
                return


def _holds_keys_after(prefix: str, after: str) -> bool:
    return prefix > after or after.startswith(prefix)


class _Prefix:
    """One prefix's chain on a worker, its pages handed over through a short queue."""

    _DONE = object()

    def __init__(self, store: ObjectStore, bucket: BucketRef, prefix: str, page_size: int, stop: threading.Event) -> None:
        self._store, self._bucket, self._prefix, self._page_size, self._stop = store, bucket, prefix, page_size, stop
        self._pages: queue.Queue[object] = queue.Queue(maxsize=PAGES_AHEAD)

    def produce(self) -> None:
        token: str | None = None
        try:
            while not self._stop.is_set():
                page = self._store.list_page(self._bucket, self._prefix, None, token, self._page_size)
                self._hand_over(page.objects)
                token = page.next_token
                if not token:
                    break
        except Exception as error:  # handed to the consumer, raised where this prefix's keys belong
            self._hand_over(error)
        self._hand_over(self._DONE)

    def _hand_over(self, item: object) -> None:
        while not self._stop.is_set():
            try:
                self._pages.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                continue

    def consume(self) -> Iterator[ObjectInfo]:
        while (item := self._pages.get()) is not self._DONE:
            if isinstance(item, Exception):
                raise item
            assert isinstance(item, tuple)
            yield from item


def _merged(store: ObjectStore, bucket: BucketRef, level: _Level, after: str, page_size: int, chains: int) -> Iterator[ObjectInfo]:
    """The level's objects and prefixes' chains after key `after`, in key order."""
    entries: list[ObjectInfo | str] = [info for info in level.objects if info.key > after]
    entries += [prefix for prefix in level.prefixes if _holds_keys_after(prefix, after)]
    entries.sort(key=lambda entry: entry if isinstance(entry, str) else entry.key)
    stop = threading.Event()
    window = 2 * chains
    with ThreadPoolExecutor(max_workers=chains, thread_name_prefix="list-chain") as pool:
        open_prefixes: deque[_Prefix] = deque()
        waiting = deque(entry for entry in entries if isinstance(entry, str))

        def open_more() -> None:
            while waiting and len(open_prefixes) < window:
                chain = _Prefix(store, bucket, waiting.popleft(), page_size, stop)
                pool.submit(chain.produce)  # its outcome, error included, comes through its queue
                open_prefixes.append(chain)

        try:
            open_more()
            for entry in entries:
                if not isinstance(entry, str):
                    yield entry
                    continue
                chain = open_prefixes.popleft()
                open_more()
                yield from (info for info in chain.consume() if info.key > after)
        finally:
            stop.set()  # a consumer that stops early leaves no worker waiting to hand over a page
