"""What the regional OVHcloud AI APIs (AI Training's `/v1/job`, AI Deploy's `/v1/app`) share:
one httpx client per profile, retries, one-line errors, and a log follow that survives drops.

Each failure becomes one line that says what to do; the token only ever travels in the
Authorization header. A platform subclasses `RegionalAPI` with its product name and noun.
"""

from __future__ import annotations

import builtins
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from services.cancel import CancelToken
from services.errors import UserError
from services.jobs.protocol import LogItem, LogMarker
from services.logs.lines import lines_of
from services.logs.resume import Delivered, MatchOverlap, SkipCount, Undecidable
from services.secrets import Secret, redact

if TYPE_CHECKING:  # imported on first request: opening a profile stays cheap
    import httpx

PAGE_SIZE = 100
RESUME_WINDOW = 1000  # delivered lines kept to line up a resumed stream
RESUME_TAIL = 100  # lines asked back to line up a resumed stream (the gap itself is read by `_fill`)
SOCKET_ATTEMPTS = 3  # connections in a row with nothing new before the plain endpoint is polled
POLL_S = 1.0  # between polls of the plain endpoint: the live view is at most about this far behind
POLL_SPELL_S = 10.0  # how long to poll before the socket is tried again
MAX_BACKOFF_S = 4.0
_RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
_IDEMPOTENT = frozenset({"GET", "PUT", "DELETE"})
_KEEPALIVE = "."


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200]
    return str(body.get("message", "")) if isinstance(body, dict) else ""


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", default)))
    except ValueError:
        return default


class RegionalAPI:
    """One API client per profile; safe to share between worker threads (httpx.Client is).

    `token` is called once, on the first request, in whatever worker makes it: a
    `token_command` never runs while the app starts or switches profile."""

    product = "AI Training"
    noun = "job"
    list_hint = "list jobs with `triton-deck job list`"

    def __init__(
        self,
        base_url: str,
        token: Callable[[], Secret],
        token_source: str,
        *,
        timeout_s: float = 15.0,
        retries: int = 4,
        backoff_s: float = 0.5,
        resume_window: int = RESUME_WINDOW,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._token_source = token_source
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
                    raise UserError(f"{self.product} did not answer in {self._timeout_s:g} s ({what}): try again, or check {self.base_url}") from error
                reason = redact(str(error)) or type(error).__name__
                raise UserError(f"cannot reach {self.product} at {self.base_url} ({what}): {reason}") from error
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
                f"{self.product} refused the token from {self._token_source} (HTTP {code}, {what}): it is wrong, revoked or "
                "read-only; create an operator token with `ovhai token create NAME --role operator` and set OVHAI_TOKEN"
            )
        if code == 402:
            return UserError(f"{self.product} refused {what} for billing or quota reasons (HTTP 402){suffix}: check the project's quota and payment")
        if code == 404:
            return UserError(f"{what}: not found (HTTP 404){suffix}; {self.list_hint}")
        if code == 409:
            return UserError(f"{what}: conflict with the {self.noun}'s current state (HTTP 409){suffix}")
        if code == 429:
            return UserError(f"{self.product} is rate-limiting requests (HTTP 429, {what}): wait {retry_after:g} s and try again")
        if code >= 500:
            return UserError(f"{self.product} failed on {what} (HTTP {code}){suffix}: try again in a moment")
        return UserError(f"{self.product} rejected {what} (HTTP {code}){suffix}")

    # -- logs ------------------------------------------------------------------------------

    def _socket_url(self, path: str, tail: int | None, query: dict[str, str]) -> str:
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        full = {**query, "follow": "true", **({"tail": str(tail)} if tail else {})}
        return f"{scheme}://{parts.netloc}{parts.path}{path}?{urlencode(full)}"

    def _plain_log(self, path: str, what: str, query: dict[str, str], tail: int | None = None) -> builtins.list[str]:
        params = {**query, **({"tail": str(tail)} if tail else {})}
        return lines_of(self._request("GET", path, what=what, params=params or None).content)

    def _follow(self, path: str, what: str, finished: Callable[[], bool], cancel: CancelToken, query: dict[str, str] | None = None) -> Iterator[LogItem]:
        """The whole log at `path`, then live lines, across drops, until `finished()`.

        Progress is monotonic: every line delivered on any connection counts. After a drop
        the gap is read from the plain endpoint (the last lines, lined up with what was
        delivered; see `_fill`), then the socket resumes with a short overlap. A connection
        that brings nothing new backs off exponentially (to MAX_BACKOFF_S); after
        SOCKET_ATTEMPTS such connections in a row the plain endpoint is polled instead for
        POLL_SPELL_S, then the socket is tried again. Once `finished()`, one last read
        fills in the end.
        """
        query = query or {}
        delivered = Delivered(self._resume_window)
        resumed = False
        by_count = False  # the socket's overlap was ambiguous: its next replay starts at line 0
        idle = 0  # connections in a row that brought no new line
        poll_until = 0.0
        while not cancel.cancelled:
            if time.monotonic() < poll_until:
                fresh = self._fill(path, what, delivered, query)
                yield from fresh
                if not fresh and finished():
                    yield from self._fill(path, what, delivered, query)
                    return
                cancel.wait(POLL_S)
                continue
            if resumed:  # the gap first, from the plain endpoint: one request, never cut mid-replay
                yield from self._fill(path, what, delivered, query)
            asked = RESUME_TAIL if resumed and not by_count else None
            aligner = SkipCount(delivered.count) if asked is None else MatchOverlap(delivered.recent)
            brought = 0
            try:
                for line in self._stream(path, what, asked, cancel, query):
                    if line is _OPENED:
                        if resumed:
                            yield LogMarker.RECONNECTED
                        continue
                    fresh = aligner.feed(line)
                    by_count = by_count and not fresh
                    brought += len(fresh)
                    delivered.record(fresh)
                    yield from fresh
            except Undecidable as undecidable:
                by_count = undecidable.ambiguous
            except _StreamDropped:
                pass
            if cancel.cancelled:
                return
            if finished():
                yield from self._fill(path, what, delivered, query)
                return
            resumed = True
            idle = 0 if brought else idle + 1
            if idle >= SOCKET_ATTEMPTS:
                poll_until, idle = time.monotonic() + POLL_SPELL_S, SOCKET_ATTEMPTS - 1  # one more failure polls again
                continue
            cancel.wait(min(MAX_BACKOFF_S, self._backoff_s * 2 ** (idle - 1)) if idle else 0.01)

    def _fill(self, path: str, what: str, delivered: Delivered, query: dict[str, str]) -> list[str]:
        """The lines past what was delivered, from the plain endpoint, recorded as delivered.

        The last lines are asked for, lined up with the delivered ones, and four times as many
        while the gap is longer than what came back; a log that repeats itself too much to
        line up, or a gap longer than twice what was delivered (nothing yet, say), is read
        from the start and skipped by count: then the whole log is the shorter read."""
        tail = RESUME_TAIL
        while 0 < delivered.count and tail <= 2 * delivered.count:  # beyond that, the whole log is the cheaper read
            replay = self._plain_log(path, what, query, tail=tail)
            aligner = MatchOverlap(delivered.recent)
            try:
                fresh = [line for replayed in replay for line in aligner.feed(replayed)]
                fresh += aligner.finish()
            except Undecidable as undecidable:
                if not undecidable.ambiguous and len(replay) >= tail:
                    tail *= 4
                    continue
                break
            delivered.record(fresh)
            return fresh
        counter = SkipCount(delivered.count)
        fresh = [line for replayed in self._plain_log(path, what, query) for line in counter.feed(replayed)]
        delivered.record(fresh)
        return fresh

    def _stream(self, path: str, what: str, tail: int | None, cancel: CancelToken, query: dict[str, str]) -> Iterator[str]:
        """`_OPENED`, then the lines of one WebSocket connection; `_StreamDropped` when it breaks.

        Frames are line-aligned: a frame holds one or more lines, its last newline optional;
        they are split by the same rule as local logs (`services.logs.lines`).
        """
        from websockets.exceptions import ConnectionClosedOK, InvalidStatus, WebSocketException
        from websockets.sync.client import connect

        headers = self._authorization()
        url = self._socket_url(path, tail, query)
        try:
            with connect(url, additional_headers=headers, open_timeout=self._timeout_s, close_timeout=1) as socket:
                yield _OPENED
                while not cancel.cancelled:
                    try:
                        frame = socket.recv(timeout=0.25)
                    except TimeoutError:
                        continue
                    if frame == _KEEPALIVE or frame == _KEEPALIVE.encode():
                        continue
                    yield from lines_of(frame)
        except ConnectionClosedOK:
            return
        except InvalidStatus as error:
            status = error.response.status_code
            if status in (401, 402, 403, 404, 409):
                body = (error.response.body or b"").decode("utf-8", errors="replace")
                raise self._error(status, body[:200], what) from None
            raise _StreamDropped() from None
        except (OSError, TimeoutError, WebSocketException):
            raise _StreamDropped() from None


_OPENED = "\x00opened"  # sentinel compared by identity, never a log line


class _StreamDropped(Exception):
    """The WebSocket broke (not a clean close): re-read the job and maybe reconnect."""
