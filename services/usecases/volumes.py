"""A job's or app's volumes checked at submit time, not minutes later in `job get`.

An RO volume on a bucket that does not exist starts a server on an empty model directory:
the mistyped `nosuch@GRA` is refused here with the fix. A RW volume's bucket may be missing
on purpose: AI Training creates it when it syncs back, and so does the local profile.
Where the profile has no object store, or the store cannot answer, the platform decides.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.errors import UserError
from services.jobs.protocol import VolumeSpec
from services.storage.protocol import BucketRef, ObjectStore


def check_volume_buckets(store: ObjectStore | None, volumes: Iterable[VolumeSpec]) -> None:
    if store is None:
        return
    for volume in volumes:
        if volume.permission.upper() != "RO":
            continue
        bucket = BucketRef(volume.container, volume.alias.upper())
        try:
            exists = store.bucket_exists(bucket)
        except (UserError, OSError):
            continue  # another region or an unreachable store: the platform has the last word
        if not exists:
            raise UserError(
                f"--volume {volume}: no bucket {bucket}; create it with `triton-deck bucket create {bucket}` "
                f"or upload into it with `bucket object upload --create {bucket} …`"
            )
