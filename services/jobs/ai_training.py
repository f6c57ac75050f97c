"""`AITrainingPlatform`: jobs on OVHcloud AI Training through the regional API (httpx).

Paths, fields and codes are those of `ovh-ai-training-api.md` §3–§6: `POST /v1/job`,
`GET /v1/job/{id}`, `PUT /v1/job/{id}/kill`, `DELETE /v1/job/{id}?force=true`, logs as
plain text from `GET /v1/job/{id}/log` and followed over the WebSocket at the same path
with `follow=true`. Each failure becomes one line that says what to do; the token only
ever travels in the Authorization header.
"""

from __future__ import annotations

import builtins
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from services.cancel import CancelToken
from services.errors import UserError
from services.jobs.document import job_from_document, spec_document
from services.jobs.log_resume import Delivered, MatchOverlap, SkipCount, Undecidable
from services.jobs.protocol import Job, JobSpec, JobState, LogItem, LogMarker, PlatformCapabilities, RegistryInfo, RegistryListing
from services.secrets import Secret, redact

if TYPE_CHECKING:  # imported on first request: opening a profile stays cheap
    import httpx

PAGE_SIZE = 100
RESUME_WINDOW = 1000  # delivered lines kept to line up a resumed stream
RESUME_TAIL = 100  # lines asked back on reconnect; grows (and stays) when gaps are longer
_RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
_IDEMPOTENT = frozenset({"GET", "PUT", "DELETE"})
_KEEPALIVE = "."


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200]
    return str(body.get("message", "")) if isinstance(body, dict) else ""


def _job(document: dict[str, Any]) -> Job:
    return replace(job_from_document(document), raw=document)


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", default)))
    except ValueError:
        return default


class AITrainingPlatform:
    """One API client per profile; safe to share between worker threads (httpx.Client is).

    `token` is called once, on the first request, in whatever worker makes it: a
    `token_command` never runs while the app starts or switches profile."""

    capabilities = PlatformCapabilities(registries=True)

    def __init__(
        self,
        base_url: str,
        token: Callable[[], Secret],
        token_source: str,
        *,
        region: str = "GRA",
        shared_registry: str | None = None,
        timeout_s: float = 15.0,
        retries: int = 4,
        backoff_s: float = 0.5,
        resume_window: int = RESUME_WINDOW,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._token_source = token_source
        self._region = region
        self._shared_registry = shared_registry
        self._retries = retries
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._timeout_s = timeout_s
        self._resume_window = resume_window
        self._lock = threading.RLock()
        self._secret: Secret | None = None
        self._client: httpx.Client | None = None

    def _authorization(self) -> dict[str, str]:
        with self._lock:
            if self._secret is None:
                self._secret = self._token()
            return {"Authorization": f"Bearer {self._secret.reveal()}"}

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                import httpx

                self._client = httpx.Client(
                    base_url=self.base_url,
                    timeout=httpx.Timeout(self._timeout_s, connect=min(self._timeout_s, 10.0)),
                    headers={**self._authorization(), "Accept": "application/json"},
                )
            return self._client

    # -- requests --------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, what: str, params: Any = None, json: Any = None) -> httpx.Response:
        """Send once, or again for idempotent calls after a 5xx/timeout, and after any 429."""
        import httpx

        attempt = 0
        while True:
            attempt += 1
            may_retry = attempt <= self._retries
            backoff = self._backoff_s * 2 ** (attempt - 1)
            try:
                response = self._http().request(method, path, params=params, json=json)
            except httpx.TransportError as error:  # timeouts included
                if method in _IDEMPOTENT and may_retry:
                    self._sleep(backoff)
                    continue
                if isinstance(error, httpx.TimeoutException):
                    raise UserError(f"AI Training did not answer in {self._timeout_s:g} s ({what}): try again, or check {self.base_url}") from error
                reason = redact(str(error)) or type(error).__name__
                raise UserError(f"cannot reach AI Training at {self.base_url} ({what}): {reason}") from error
            if response.status_code == 429 and may_retry:
                self._sleep(_retry_after(response, backoff))
                continue
            if response.status_code in _RETRYABLE_STATUS and method in _IDEMPOTENT and may_retry:
                self._sleep(backoff)
                continue
            if response.is_success:
                return response
            raise self._error(response.status_code, _message(response), what, _retry_after(response, 0))

    def _error(self, code: int, message: str, what: str, retry_after: float = 0) -> UserError:
        detail = redact(message)
        suffix = f": {detail}" if detail else ""
        if code in (401, 403):
            return UserError(
                f"AI Training refused the token from {self._token_source} (HTTP {code}, {what}): it is wrong, revoked or "
                "read-only; create an operator token with `ovhai token create NAME --role operator` and set OVHAI_TOKEN"
            )
        if code == 402:
            return UserError(f"AI Training refused {what} for billing or quota reasons (HTTP 402){suffix}: check the project's quota and payment")
        if code == 404:
            return UserError(f"{what}: not found (HTTP 404){suffix}; list jobs with `triton-deck job list`")
        if code == 409:
            return UserError(f"{what}: conflict with the job's current state (HTTP 409){suffix}")
        if code == 429:
            return UserError(f"AI Training is rate-limiting requests (HTTP 429, {what}): wait {retry_after:g} s and try again")
        if code >= 500:
            return UserError(f"AI Training failed on {what} (HTTP {code}){suffix}: try again in a moment")
        return UserError(f"AI Training rejected {what} (HTTP {code}){suffix}")

    # -- jobs ------------------------------------------------------------------------------

    def run(self, spec: JobSpec) -> Job:
        """Start the job, and check the API kept its volumes: a server with an empty
        `/workspace/models` is a billed GPU doing nothing, so such a job is stopped at once."""
        response = self._request("POST", "/job", what="starting the job", json=spec_document(spec))
        job = _job(response.json())
        kept = [(volume.container, volume.alias, volume.mount_path) for volume in job.spec.volumes]
        sent = [(volume.container, volume.alias, volume.mount_path) for volume in spec.volumes]
        if kept != sent:
            self.stop(job.id)
            lost = ", ".join(str(volume) for volume in spec.volumes if (volume.container, volume.alias, volume.mount_path) not in kept)
            raise UserError(f"the AI Training API dropped the volume(s) {lost} from job {job.short_id}: the job was stopped; check the volume syntax and retry")
        return job

    def get(self, job_id: str) -> Job:
        return _job(self._request("GET", f"/job/{job_id}", what=f"job {job_id}").json())

    def list(self, states: tuple[JobState, ...] = ()) -> builtins.list[Job]:
        """Every page of `GET /v1/job`, newest first; the state filter runs on the server."""
        jobs: list[Job] = []
        page = 1
        while True:
            params: list[tuple[str, str | int]] = [("page", page), ("size", PAGE_SIZE), ("sort", "createdAt"), ("order", "desc")]
            params += [("statusState", state.value) for state in states]
            body = self._request("GET", "/job", what="listing jobs", params=params).json()
            items = body.get("items", []) if isinstance(body, dict) else body
            jobs.extend(_job(item) for item in items)
            metadata = body.get("metadata", {}) if isinstance(body, dict) else {}
            if not items or page >= int(metadata.get("pageCount") or page):
                break
            page += 1
        return sorted(jobs, key=lambda job: (job.created_at, job.id), reverse=True)

    def stop(self, job_id: str) -> None:
        self._request("PUT", f"/job/{job_id}/kill", what=f"stopping job {job_id}")  # 204, or 200 with the job

    def delete(self, job_id: str, force: bool = False) -> None:
        params = {"force": "true"} if force else None
        self._request("DELETE", f"/job/{job_id}", what=f"deleting job {job_id}", params=params)

    def registries(self) -> RegistryListing:
        """The shared registry (no id, as `ovhai registry list` shows it), then attached ones;
        what fails is named in `problems` and the rest is still listed."""
        rows: list[RegistryInfo] = []
        problems: list[str] = []
        shared = self._shared_registry
        if not shared:
            try:
                tenant = self._request("GET", "/me", what="reading the project").json().get("tenant")
            except UserError as error:
                problems.append(f"the shared registry is unknown: {error.message}")
                tenant = None
            shared = f"registry.{self._region.lower()}.ai.cloud.ovh.net/{tenant}" if tenant else None
        if shared:
            rows.append(RegistryInfo(url=shared))
        try:
            body = self._request("GET", "/registry", what="listing registries", params={"page": 1, "size": PAGE_SIZE}).json()
        except UserError as error:
            problems.append(f"attached registries are unknown: {error.message}")
            body = {}
        items = body.get("items", []) if isinstance(body, dict) else body
        rows += [RegistryInfo(url=item["url"], kind="PRIVATE", id=item.get("id")) for item in items]
        return RegistryListing(tuple(rows), tuple(problems))

    def attach_registry(self, url: str, username: str, password: Secret) -> RegistryInfo:
        body = {"url": url, "username": username, "password": password.reveal()}
        answer = self._request("POST", "/registry", what=f"attaching registry {url}", json=body).json()
        return RegistryInfo(url=answer.get("url", url), kind="PRIVATE", id=answer.get("id"))

    def detach_registry(self, registry_id: str) -> None:
        self._request("DELETE", f"/registry/{registry_id}", what=f"detaching registry {registry_id}")

    # -- logs ------------------------------------------------------------------------------

    def logs(self, job_id: str, tail: int | None = None) -> builtins.list[str]:
        params = {"tail": tail} if tail else None
        return self._request("GET", f"/job/{job_id}/log", what=f"the log of job {job_id}", params=params).text.splitlines()

    def _socket_url(self, job_id: str, tail: int | None) -> str:
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        query = {"follow": "true", **({"tail": str(tail)} if tail else {})}
        return f"{scheme}://{parts.netloc}{parts.path}/job/{job_id}/log?{urlencode(query)}"

    def follow_logs(self, job_id: str, cancel: CancelToken) -> Iterator[LogItem]:
        """The whole log, then live lines, across drops, until the job is finished.

        After a drop the job is re-read: still running means reconnect with `tail` and
        line up the overlap (or, when that is ambiguous, replay from the start and skip
        what was delivered); finished means one last plain read fills in the end.
        """
        delivered = Delivered(self._resume_window)
        resumed = False
        tail = min(RESUME_TAIL, delivered.window)
        by_count = False  # the overlap was ambiguous: replay from the start instead
        failures = 0
        while not cancel.cancelled:
            asked = tail if resumed and not by_count else None
            aligner = SkipCount(delivered.count) if asked is None else MatchOverlap(delivered.recent)
            try:
                for line in self._stream(job_id, asked, cancel):
                    if line is _OPENED:
                        failures = 0
                        if resumed:
                            yield LogMarker.RECONNECTED
                        continue
                    fresh = aligner.feed(line)
                    by_count = by_count and not fresh
                    delivered.record(fresh)
                    yield from fresh
            except Undecidable as undecidable:
                if undecidable.ambiguous or tail >= delivered.window:
                    by_count = True
                tail = min(tail * 2, delivered.window)
            except _StreamDropped:
                failures += 1
            if cancel.cancelled:
                return
            if self.get(job_id).state.is_terminal:
                yield from self._catch_up(job_id, delivered)
                return
            resumed = True
            cancel.wait(min(5.0, self._backoff_s * 2 ** (failures - 1)) if failures > 1 else 0.01)

    def _catch_up(self, job_id: str, delivered: Delivered) -> Iterator[str]:
        """The lines a finished job wrote after the stream went away."""
        try:
            aligner = MatchOverlap(delivered.recent)
            fresh = [line for replayed in self.logs(job_id, tail=delivered.window) for line in aligner.feed(replayed)]
            fresh += aligner.finish()
        except Undecidable:
            counter = SkipCount(delivered.count)
            fresh = [line for replayed in self.logs(job_id) for line in counter.feed(replayed)]
        delivered.record(fresh)
        yield from fresh

    def _stream(self, job_id: str, tail: int | None, cancel: CancelToken) -> Iterator[str]:
        """`_OPENED`, then the lines of one WebSocket connection; `_StreamDropped` when it breaks.

        Frames are line-aligned: a frame holds one or more lines, its last newline optional.
        """
        from websockets.exceptions import ConnectionClosedOK, InvalidStatus, WebSocketException
        from websockets.sync.client import connect

        headers = self._authorization()
        url = self._socket_url(job_id, tail)
        try:
            with connect(url, additional_headers=headers, open_timeout=self._timeout_s, close_timeout=1) as socket:
                yield _OPENED
                while not cancel.cancelled:
                    try:
                        frame = socket.recv(timeout=0.25)
                    except TimeoutError:
                        continue
                    text = frame.decode("utf-8", errors="replace") if isinstance(frame, bytes) else frame
                    if text == _KEEPALIVE:
                        continue
                    lines = text.split("\n")
                    if lines[-1] == "":
                        lines.pop()
                    yield from lines
        except ConnectionClosedOK:
            return
        except InvalidStatus as error:
            status = error.response.status_code
            if status in (401, 402, 403, 404, 409):
                body = (error.response.body or b"").decode("utf-8", errors="replace")
                raise self._error(status, body[:200], f"the log of job {job_id}") from None
            raise _StreamDropped() from None
        except (OSError, TimeoutError, WebSocketException):
            raise _StreamDropped() from None


_OPENED = "\x00opened"  # sentinel compared by identity, never a log line


class _StreamDropped(Exception):
    """The WebSocket broke (not a clean close): re-read the job and maybe reconnect."""
