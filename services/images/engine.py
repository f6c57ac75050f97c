"""Which container engine to talk to, found the way the docker CLI finds it.

`DOCKER_HOST` first; then the docker context (`DOCKER_CONTEXT`, else `currentContext` in
the docker config) and its endpoint; then the usual sockets (dockerd, rootless dockerd,
podman's service). When nothing answers, the message lists where it looked and how to
start an engine, and only the Images panel is affected.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from services.errors import UserError

DEFAULT_SOCKETS = ("/var/run/docker.sock", "/run/podman/podman.sock")
START_HINT = "start dockerd (or `podman system service`), or set DOCKER_HOST=unix:///path/to/docker.sock"


@dataclass(frozen=True)
class EngineAddress:
    base_url: str
    source: str  # how it was found, for the panel and for error messages


def docker_config_dir(env: Mapping[str, str]) -> Path:
    return Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else Path(env.get("HOME", str(Path.home()))) / ".docker"


def _context_host(name: str, env: Mapping[str, str]) -> str:
    """The docker endpoint of a named context, from `contexts/meta/<sha256(name)>/meta.json`."""
    meta = docker_config_dir(env) / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest() / "meta.json"
    try:
        host = json.loads(meta.read_text(encoding="utf-8"))["Endpoints"]["docker"]["Host"]
    except (OSError, ValueError, KeyError, TypeError):
        raise UserError(f"docker context '{name}' has no readable endpoint ({meta}): `docker context ls`, or set DOCKER_HOST") from None
    return str(host)


def _current_context(env: Mapping[str, str]) -> str | None:
    if env.get("DOCKER_CONTEXT"):
        return env["DOCKER_CONTEXT"]
    try:
        config = json.loads((docker_config_dir(env) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    context = config.get("currentContext") if isinstance(config, dict) else None
    return str(context) if context else None


def candidate_sockets(env: Mapping[str, str]) -> list[str]:
    runtime = env.get("XDG_RUNTIME_DIR")
    rootless = [f"{runtime}/docker.sock", f"{runtime}/podman/podman.sock"] if runtime else []
    return [DEFAULT_SOCKETS[0], *rootless, DEFAULT_SOCKETS[1]]


def discover_engine(env: Mapping[str, str]) -> EngineAddress:
    if env.get("DOCKER_HOST"):
        return EngineAddress(env["DOCKER_HOST"], "DOCKER_HOST")
    context = _current_context(env)
    if context and context != "default":
        return EngineAddress(_context_host(context, env), f"docker context '{context}'")
    for socket in candidate_sockets(env):
        if os.path.exists(socket):
            return EngineAddress(f"unix://{socket}", "default socket")
    looked = ", ".join(["DOCKER_HOST (unset)", "docker context (default)", *candidate_sockets(env)])
    raise UserError(f"no container engine found: looked at {looked}; {START_HINT}")
