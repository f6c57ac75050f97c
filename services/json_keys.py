"""One key convention for every JSON document triton-deck writes: the OVHcloud API's
camelCase (`lastModified`, `latencyMs`, `topK`), whatever the Python field is called.
Documents it reads back (a plan, a saved run) are taken in either spelling, so files
written before the convention still load.
"""

from __future__ import annotations

import re
from typing import Any

_UPPER = re.compile(r"(?<=[a-z0-9])([A-Z])")


def camel(name: str) -> str:
    """`last_modified` and `s3 endpoint` → `lastModified`, `s3Endpoint`; camelCase stays."""
    head, *rest = re.split(r"[_ ]+", name.strip())
    return head[:1].lower() + head[1:] + "".join(part[:1].upper() + part[1:] for part in rest)


def snake(name: str) -> str:
    """`topK` → `top_k`; snake_case stays."""
    return _UPPER.sub(r"_\1", name).lower()


def camel_keys(value: Any) -> Any:
    """`value` with every dict key, at any depth, in camelCase."""
    if isinstance(value, dict):
        return {camel(str(key)): camel_keys(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [camel_keys(item) for item in value]
    return value
