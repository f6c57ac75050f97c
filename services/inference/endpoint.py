"""Where a Triton server answers, from what a user types, a job or an app.

tritonclient wants `host:port[/base]` without a scheme and a separate TLS switch, and its
HTTP client rejects `http://` outright. Users paste `https://<job>.job.gra.ai.cloud.ovh.net`
from `status.url`, or `localhost:8000` as image_client takes it, so both forms land here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from services.apps.protocol import App
from services.errors import UserError
from services.inference.protocol import DEFAULT_PORTS, Endpoint, Transport
from services.jobs.protocol import Job, JobState
from services.secrets import Secret

SCHEME_PORTS = {"http": 80, "https": 443}
AI_JOB_HOST_SUFFIX = ".ai.cloud.ovh.net"


@dataclass(frozen=True)
class Address:
    """A parsed endpoint: what tritonclient needs (`target`, `tls`) and what a user reads (`display`)."""

    host: str
    port: int
    base_path: str
    tls: bool
    transport: Transport

    @property
    def target(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}{self.base_path}"

    @property
    def display(self) -> str:
        """As a browser would show it: no port where it is the scheme's own (443, 80)."""
        if self.transport is Transport.GRPC:
            return f"{'grpcs' if self.tls else 'grpc'}://{self.target}"
        scheme = "https" if self.tls else "http"
        if self.port == SCHEME_PORTS[scheme]:
            host = f"[{self.host}]" if ":" in self.host else self.host
            return f"{scheme}://{host}{self.base_path}"
        return f"{scheme}://{self.target}"


def parse_address(url: str, transport: Transport) -> Address:
    """`https://host`, `http://host:port/base`, `host:port` or `host` (then 8000 for HTTP, 8001 for gRPC)."""
    text = url.strip()
    if not text:
        raise UserError("no server URL: give one like localhost:8000 or https://<job-id>.job.gra.ai.cloud.ovh.net")
    has_scheme = "://" in text
    try:
        parts = urlsplit(text if has_scheme else f"//{text}")
    except ValueError as error:  # an unclosed [ of an IPv6 address
        raise UserError(f"server URL '{url}': {error}: write an IPv6 address as [::1]:8000") from None
    scheme = parts.scheme.lower()
    if has_scheme and scheme not in SCHEME_PORTS:
        raise UserError(f"server URL '{url}' has scheme '{parts.scheme}': use http://, https:// or host:port")
    try:
        port = parts.port
    except ValueError:
        raise UserError(f"server URL '{url}' has a bad port: use a number 1-65535 (8000 for HTTP, 8001 for gRPC)") from None
    host = parts.hostname or ""
    if not host or parts.query or parts.fragment or parts.username:
        raise UserError(f"server URL '{url}' is not host[:port][/path]: e.g. localhost:8000 or https://<job-id>.job.gra.ai.cloud.ovh.net")
    base_path = parts.path.rstrip("/")
    if base_path and transport is Transport.GRPC:
        raise UserError(f"server URL '{url}' has a path, which gRPC cannot use: give host:port (8001 by default)")
    default_port = SCHEME_PORTS[scheme] if has_scheme else DEFAULT_PORTS[transport]
    return Address(host, port or default_port, base_path, tls=scheme == "https", transport=transport)


def serving_jobs(jobs: Iterable[Job]) -> list[Job]:
    """RUNNING jobs with an address, those running tritonserver first, newest first: where a
    health check or a classification goes when no URL is given."""
    running = [job for job in jobs if job.state is JobState.RUNNING and (job.url or job.ip)]
    running.sort(key=lambda job: job.created_at, reverse=True)
    return sorted(running, key=lambda job: not any("tritonserver" in word for word in job.spec.command))


def endpoint_for_url(url: str, transport: Transport, token: Callable[[], Secret] | None) -> Endpoint:
    """A typed URL; an AI Training job host gets the AI token (a job that is --unsecure-http ignores it)."""
    host = parse_address(url, transport).host
    return Endpoint(url, transport, token() if token and host.endswith(AI_JOB_HOST_SUFFIX) else None)


def endpoint_for_job(job: Job, transport: Transport, token: Callable[[], Secret] | None) -> Endpoint:
    """HTTP at `status.url`; gRPC at the job's gRPC address or `status.ip` + 8001. The AI token
    goes along unless the job was started with `--unsecure-http`."""
    if job.state is not JobState.RUNNING:
        raise UserError(f"job {job.short_id} is {job.state.value}, not RUNNING: wait for it (`triton-deck job get {job.short_id}`)")
    if transport is Transport.GRPC:
        url = job.grpc_address or (f"{job.ip}:{DEFAULT_PORTS[Transport.GRPC]}" if job.ip else None)
    else:
        url = job.url
    if not url:
        raise UserError(f"job {job.short_id} has no {transport.value} address yet: check `triton-deck job get {job.short_id}`")
    bearer = token() if token and not job.spec.unsecure_http else None
    return Endpoint(url, transport, bearer)


def endpoint_for_app(app: App, transport: Transport, token: Callable[[], Secret] | None) -> Endpoint:
    """HTTP at the app URL, gRPC at its gRPC address (TLS on 443 on AI Deploy); the token goes
    along unless the app is `--unsecure-http`. An app with no replica up answers nothing."""
    if not app.state.is_up or app.available_replicas < 1:
        raise UserError(f"app {app.short_id} is {app.state.value} with {app.available_replicas} replica(s) up: wait for one (`triton-deck app get {app.short_id}`)")
    url = app.grpc_address if transport is Transport.GRPC else app.url
    if not url:
        hint = "run it with --grpc-port 8001" if transport is Transport.GRPC else f"check `triton-deck app get {app.short_id}`"
        raise UserError(f"app {app.short_id} has no {transport.value} address: {hint}")
    bearer = token() if token and not app.spec.unsecure_http else None
    return Endpoint(url, transport, bearer)
