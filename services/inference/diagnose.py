"""Which layer failed between us and Triton, in one line that names the fix.

tritonclient reports the same outage differently per protocol: HTTP raises raw OSErrors
(refused, DNS, TLS, timeouts) and `InferenceServerException("[401] ...")` for any status
a proxy answers, gRPC wraps everything in `InferenceServerException` with a `StatusCode`.
Both are mapped here to DNS / connection / TLS / timeout / proxy-status messages; errors
Triton itself raises about a model or a request are left to the caller (`None`).
"""

from __future__ import annotations

import http.client
import socket
import ssl

from services.errors import UserError
from services.inference.endpoint import Address
from services.inference.protocol import DEFAULT_PORTS, Transport

PROXY_STATUS_HINTS = {
    401: "the endpoint wants the AI token: the job is not --unsecure-http, so give a token (OVHAI_TOKEN or the profile) or rerun the job with --unsecure-http",
    403: "the token is not allowed to reach this job: check it belongs to the job's project",
    404: "nothing serves Triton at this path: check the URL's base path and port",
    502: "the proxy cannot reach Triton: is the job RUNNING and has Triton started?",
    503: "the proxy cannot reach Triton: is the job RUNNING and has Triton started?",
    504: "the proxy timed out waiting for Triton: is the job RUNNING and has Triton started?",
}
TRANSPORT_NAMES = {Transport.HTTP: "HTTP", Transport.GRPC: "gRPC"}
GRPC_STATUS_HTTP = {"StatusCode.UNAUTHENTICATED": 401, "StatusCode.PERMISSION_DENIED": 403}


def _wrong_port_hint(address: Address) -> str:
    other = Transport.GRPC if address.transport is Transport.HTTP else Transport.HTTP
    mine, theirs = TRANSPORT_NAMES[address.transport], TRANSPORT_NAMES[other]
    return f"is {address.port} the {mine} port ({DEFAULT_PORTS[address.transport]} by default) and not the {theirs} one?"


def _status_error(code: int, address: Address) -> UserError:
    hint = PROXY_STATUS_HINTS.get(code, "check the URL")
    return UserError(f"HTTP {code} from {address.display}: {hint}")


# The failures both protocols can meet, worded once (gRPC's TLS advice differs, so it stays apart).


def _unresolved(address: Address, what: str) -> UserError:
    return UserError(f"cannot resolve host '{address.host}' of {address.display}: check the URL (a job's {what} is in `triton-deck job get`)")


def _refused(address: Address) -> UserError:
    where = f"{address.host}:{address.port}"
    return UserError(f"nothing listens on {where} ({address.display}): is the server job RUNNING? {_wrong_port_hint(address)}")


def _timed_out(address: Address, timeout_s: float) -> UserError:
    return UserError(f"{address.display} did not answer within {timeout_s:g} s: check the URL and that the server is up")


def _not_triton(address: Address) -> UserError:
    return UserError(f"{address.display} did not answer as a Triton {TRANSPORT_NAMES[address.transport]} server: {_wrong_port_hint(address)}")


def _os_error(error: OSError, address: Address, timeout_s: float) -> UserError:
    if isinstance(error, socket.gaierror):
        return _unresolved(address, "URL")
    if isinstance(error, ssl.SSLError):
        reason = getattr(error, "reason", None) or type(error).__name__
        return UserError(f"TLS handshake with {address.host}:{address.port} failed ({reason}): use https:// for a job URL, http:// or host:port for a plain server")
    if isinstance(error, ConnectionRefusedError):
        return _refused(address)
    if isinstance(error, TimeoutError | socket.timeout):
        return _timed_out(address, timeout_s)
    if isinstance(error, ConnectionError):
        return UserError(f"{address.display} closed the connection ({type(error).__name__}): {_wrong_port_hint(address)}")
    return UserError(f"cannot reach {address.display}: {error.strerror or error}")


def _grpc_error(status: str, message: str, address: Address, timeout_s: float) -> UserError | None:
    lowered = message.lower()
    if status in GRPC_STATUS_HTTP:
        return _status_error(GRPC_STATUS_HTTP[status], address)
    if status == "StatusCode.DEADLINE_EXCEEDED":
        return _timed_out(address, timeout_s)
    if status != "StatusCode.UNAVAILABLE" and status != "StatusCode.UNIMPLEMENTED":
        return None
    if "dns" in lowered or "resolv" in lowered or "lookup" in lowered:
        return _unresolved(address, "address")
    if "ssl" in lowered or "handshake" in lowered or "tls" in lowered:
        return UserError(f"TLS handshake with {address.host}:{address.port} failed: use host:port for a plain gRPC server, https:// only where TLS is served")
    if "refused" in lowered:
        return _refused(address)
    return _not_triton(address)


def explain(error: BaseException, address: Address, timeout_s: float) -> UserError | None:
    """A transport-layer failure as a one-line UserError, or None when Triton itself answered."""
    from tritonclient.utils import InferenceServerException

    if isinstance(error, OSError):
        return _os_error(error, address, timeout_s)
    if isinstance(error, InferenceServerException):
        status = str(error.status() or "")
        if status.startswith("StatusCode."):
            return _grpc_error(status, str(error.message() or ""), address, timeout_s)
        if status.isdigit() and _not_from_triton(error):
            return _status_error(int(status), address)
        return None
    if isinstance(error, http.client.HTTPException | ValueError):  # not HTTP, or HTTP but not Triton's JSON
        return _not_triton(address)
    return None


def _not_from_triton(error: BaseException) -> bool:
    """Triton answers errors as JSON `{"error": ...}`; tritonclient keeps any other body as debug details."""
    details = getattr(error, "debug_details", lambda: None)()
    return details is not None or str(getattr(error, "message", lambda: "")()).startswith("client received an empty response")
