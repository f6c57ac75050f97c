"""Which objects a download or a delete takes, one rule for the CLI and the Buckets panel.

Named keys must all exist (a missing one is named, nothing is done); a prefix takes every
object under it, "" the whole bucket. The transfer itself is the store's, with its typed
progress and result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.errors import UserError
from services.storage.protocol import BucketRef, ObjectInfo, ObjectStore, iter_objects


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

