"""Which objects a download or a delete takes, one rule for the CLI and the Buckets panel.

Named keys must all exist (a missing one is named, nothing is done); a prefix takes every
object under it, "" the whole bucket. The transfer itself is the store's, with its typed
progress and result. A confirmed prefix delete streams: its keys go to the store as the
listing yields them, so deleting a million objects neither waits for nor holds the whole
listing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from services.errors import UserError
from services.storage.listing import iter_objects
from services.storage.protocol import BucketRef, ObjectInfo, ObjectStore


@dataclass(frozen=True)
class Selection:
    """Named keys, or (keys empty) every object under `prefix`."""

    keys: tuple[str, ...] = ()
    prefix: str = ""

    @classmethod
    def typed(cls, keys: Sequence[str], prefix: str | None, everything: bool) -> Selection:
        """The CLI's three ways to name objects; exactly one must be used."""
        if bool(keys) + bool(prefix) + everything != 1:
            raise UserError("name the objects, or give --prefix P, or --all (exactly one of them)")
        return cls(tuple(keys), prefix or "")


def select_objects(store: ObjectStore, bucket: BucketRef, selection: Selection) -> list[ObjectInfo]:
    if not selection.keys:
        return list(iter_objects(store, bucket, selection.prefix))
    found = {key: store.head(bucket, key) for key in selection.keys}
    missing = [key for key, info in found.items() if info is None]
    if missing:
        raise UserError(f"no such object in {bucket}: {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    return [info for info in found.values() if info is not None]


def selected_keys(store: ObjectStore, bucket: BucketRef, selection: Selection) -> Iterator[str]:
    """The keys a delete takes, named ones checked first, a prefix's streamed from its listing."""
    if selection.keys:
        return iter([info.key for info in select_objects(store, bucket, selection)])
    return (info.key for info in iter_objects(store, bucket, selection.prefix))
