"""A supervised job's or app's volumes, synced in from local buckets before its process starts."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from services.cancel import CancelToken
from services.confine import mount_target
from services.errors import UserError
from services.jobs.protocol import VolumeSpec
from services.storage.listing import iter_objects
from services.storage.local import LocalObjectStore
from services.storage.protocol import BucketRef


def sync_volumes_in(workspace: Path, volumes: Iterable[VolumeSpec], log: Callable[[str], None]) -> None:
    """Each volume's objects from its local bucket into `workspace` (an app's replicas share
    one copy); RO volumes are made read-only, as on AI Training and AI Deploy."""
    store = LocalObjectStore()
    for volume in volumes:
        bucket = BucketRef(volume.container, volume.alias.upper())  # the local datastore is LOCAL, however typed
        target = mount_target(workspace, volume.mount_path)
        target.mkdir(parents=True, exist_ok=True)
        objects = list(iter_objects(store, bucket, volume.prefix))
        result = store.download(bucket, objects, target, lambda _p: None, CancelToken(), remove_prefix=volume.prefix)
        if not result.ok:
            raise UserError(f"syncing {bucket} failed for {len(result.failed)} object(s): {result.failed[0][1]}")
        if volume.permission == "RO":
            for path in target.rglob("*"):
                if path.is_file():
                    path.chmod(0o444)
        log(f"synced {len(result.done)} object(s) from {bucket} to {volume.mount_path} ({volume.permission})")
