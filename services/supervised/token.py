"""The local profile's job token: what a local server job without `--unsecure-http` asks for.

As on AI Training, a job URL is private unless the job was started `--unsecure-http`:
tritonserver itself refuses every HTTP and gRPC request that lacks the header
`Authorization: Bearer <token>` (its restricted-API options). The token is made once per
machine user, kept in a 0600 file, and sent by triton-deck's own clients automatically.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from services import locations
from services.secrets import Secret
from services.shared_file import locked, write_atomic

# Every API group tritonserver lets a header guard (HTTP names; gRPC takes the same list).
GUARDED_APIS = "health,metadata,inference,shared-memory,model-config,model-repository,statistics,trace,logging"


def token_path() -> Path:
    return locations.data_dir() / "local-token"


def local_token(path: Path | None = None) -> Secret:
    """The token, made on first use (under a lock, so two first uses agree on it)."""
    path = path or token_path()
    with locked(path):
        try:
            value = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            value = ""
        if not value:
            value = secrets.token_urlsafe(32)
            write_atomic(path, value + "\n")
    return Secret(value)


def server_guard_args(token: Secret) -> list[str]:
    """tritonserver options that refuse any request without the bearer token.

    gRPC clients send it as `triton-grpc-protocol-authorization` (Triton's prefix for a
    guarded gRPC header) besides `authorization`; see `TritonInferenceClient._headers`."""
    header = f"authorization=Bearer {token.reveal()}"
    return [f"--http-restricted-api={GUARDED_APIS}:{header}", f"--grpc-restricted-protocol={GUARDED_APIS}:{header}"]
