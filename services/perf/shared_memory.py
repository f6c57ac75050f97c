"""`perf --shared-memory system`: the inputs written once into POSIX shared memory and
registered with the server, so requests name a region instead of carrying the tensors.

Only a server on this host can map the regions, so only loopback endpoints (the local
profile) take it. Every region is unregistered and unlinked when the sweep ends, however it
ends: nothing is left in /dev/shm.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from multiprocessing import shared_memory

from services.errors import UserError
from services.inference.endpoint import parse_address
from services.inference.lean import tensor_bytes
from services.inference.protocol import InferenceClient, InputData, SharedRegion

PREFIX = "triton_deck_perf"


def _on_this_host(client: InferenceClient) -> bool:
    host = parse_address(client.endpoint.url, client.endpoint.transport).host
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextmanager
def shared_inputs(client: InferenceClient, steps: Sequence[Sequence[InputData]]) -> Iterator[list[dict[str, SharedRegion]]]:
    """Per step, per input, its registered region; all of them gone when the block ends."""
    if not _on_this_host(client):
        raise UserError("--shared-memory system needs the server on this host (the local profile): its regions live in this machine's /dev/shm")
    made: list[tuple[str, shared_memory.SharedMemory]] = []
    try:
        regions: list[dict[str, SharedRegion]] = []
        for number, step in enumerate(steps):
            step_regions = {}
            for data in step:
                payload = tensor_bytes(data)
                name = f"{PREFIX}_{os.getpid()}_{number}_{len(made)}"
                block = shared_memory.SharedMemory(name=name, create=True, size=max(1, len(payload)))
                made.append((name, block))
                assert block.buf is not None
                block.buf[: len(payload)] = payload
                client.register_shared_memory(name, f"/{name}", len(payload))
                step_regions[data.name] = SharedRegion(name, len(payload))
            regions.append(step_regions)
        yield regions
    finally:
        for name, block in made:
            try:
                client.unregister_shared_memory(name)
            except UserError:
                pass  # the server is gone: its registrations went with it
            block.close()
            block.unlink()
