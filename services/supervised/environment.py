"""What a local job's processes may see of the caller's environment: what a container would.

A job runs code and prints its environment as readily as anything else, so tokens and
keys (`OVHAI_TOKEN`, `AWS_*`, whatever else the caller exported) must never reach it.
Both lists are allow-lists: a new secret variable is left out without anyone naming it.
"""

from __future__ import annotations

from collections.abc import Mapping

# What an image's process gets from its runtime besides its own `--env` pairs.
CONTAINER_VARIABLES = ("PATH", "LANG", "LANGUAGE", "TZ")
# What the supervisor needs to find this installation, the local buckets and the server cache.
SUPERVISOR_VARIABLES = (*CONTAINER_VARIABLES, "HOME", "TMPDIR", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "PYTHONPATH")


def _kept(base: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    return {name: value for name, value in base.items() if name in names or name.startswith("LC_")}


def container_environment(base: Mapping[str, str]) -> dict[str, str]:
    return _kept(base, CONTAINER_VARIABLES)


def supervisor_environment(base: Mapping[str, str]) -> dict[str, str]:
    return _kept(base, SUPERVISOR_VARIABLES)
