"""A fake OVHcloud AI regional API (AI Training jobs, AI Deploy apps): a real HTTP + WebSocket
server on 127.0.0.1.

It follows `ovh-ai-training-api.md` (paths under /v1, JSON field names, job states and
their order, 204 from kill and delete, `{"message": ...}` errors, plain-text logs, log
frames over a WebSocket with "." keep-alives) and lets a test inject faults: any HTTP
status on any route (with Retry-After), WebSocket connections cut after N new lines, after every
N frames (replayed ones included) or every N seconds, slow
and silent streams. Apps follow `ovh-ai-deploy.md` (§1 paths and codes, §3 states): a create
body must be one the SDK's `AppSpec` reads (a custom-metric strategy, which SDK 0.1a4 cannot
parse, is checked field by field instead), and both a fixed and an automatic strategy is 400. The WebSocket side is RFC 6455 written out by hand so a drop can be
a real TCP reset in the middle of a stream, which no polite server library would do.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from services.jobs.document import stamp
from services.ports import free_port
from tests.ovhai_sdk import as_the_sdk_reads_it

TOKEN = "fake-ai-token-0123456789"
TENANT = "0123456789abcdef0123456789abcdef"
START_PATH = ("QUEUED", "INITIALIZING", "PENDING", "RUNNING")
STOP_PATH = ("INTERRUPTING", "FINALIZING", "INTERRUPTED")
TERMINAL = {"DONE", "INTERRUPTED", "FAILED", "ERROR", "SYNC_FAILED"}
APP_START_PATH = ("QUEUED", "INITIALIZING", "SCALING", "RUNNING")
APP_DOWN = frozenset({"STOPPED", "FAILED", "ERROR", "DELETED"})
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_EPOCH = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    times: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "injected failure"
    delay_s: float = 0.0


@dataclass
class FakeJob:
    document: dict[str, Any]
    lines: list[str] = field(default_factory=list)
    finished_states: frozenset[str] = frozenset(TERMINAL)  # an app's are APP_DOWN

    @property
    def state(self) -> str:
        return str(self.document["status"]["state"])

    @property
    def finished(self) -> bool:
        return self.state in self.finished_states


class FakeAITrainingAPI:
    """Start with `start()`, stop with `stop()`; `base_url` is what a profile's api_url takes."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.jobs: dict[str, FakeJob] = {}
        self.requests: list[tuple[str, str]] = []
        self.bodies: list[dict[str, Any]] = []  # every POST /v1/job body, as sent
        self.apps: dict[str, FakeJob] = {}
        self.app_bodies: list[tuple[str, str, Any]] = []  # (method, path, body) of every app request with a body
        first = {"id": "reg-1", "url": "ghcr.io/acme", "username": "acme", "createdAt": stamp(_EPOCH), "updatedAt": stamp(_EPOCH), "user": "user-fake"}
        self.registries: dict[str, dict[str, Any]] = {"reg-1": first}  # attached to the project
        self.registry_passwords: dict[str, str] = {}
        self.ws_connections = 0
        self.drops = 0
        self.keepalive_s = 0.2
        self.frame_delay_s = 0.0
        self.drop_plan: list[int] = []  # new lines to send on each next connection before cutting it
        self.cut_every_frames: int | None = None  # cut every connection after this many frames, replayed ones included
        self.cut_every_s: float | None = None  # cut every connection after this long
        self.plain_log_reads = 0
        self._faults: list[Fault] = []
        self._clock = _EPOCH
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeAITrainingAPI:
        self.port = free_port()
        api = self

        class Handler(_Handler):
            fake = api

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-ai-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._changed:
            self.jobs.clear()
            self._changed.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- test controls -----------------------------------------------------------------------

    def fail(
        self, method: str, path: str, status: int, times: int = 1, headers: dict[str, str] | None = None, message: str = "injected failure", delay_s: float = 0.0
    ) -> None:
        """The next `times` requests matching `method` and the `path` regex get `status` (after `delay_s`)."""
        with self._changed:
            self._faults.append(Fault(method, re.compile(path), status, times, headers or {}, message, delay_s))

    def advance(self, job_id: str, state: str | None = None) -> None:
        """Move a job one step along its path (or straight to `state`)."""
        with self._changed:
            job = self.jobs[job_id]
            target = state or _next_state(job.state)
            if target is not None:
                self._move(job, target)
            self._changed.notify_all()

    def emit(self, job_id: str, texts: list[str], source: str = "job") -> None:
        """Append log lines, stamped and tagged as `ovhai job logs` prints them (an app's `source` is a replica)."""
        with self._changed:
            job = self.jobs.get(job_id) or self.apps[job_id]
            job.lines.extend(f"{stamp(self._clock)} [{source}] {text}" for text in texts)
            self._changed.notify_all()

    def finish(self, job_id: str, state: str = "DONE", exit_code: int = 0) -> None:
        with self._changed:
            job = self.jobs[job_id]
            self._move(job, state)
            job.document["status"]["exitCode"] = exit_code
            job.document["status"]["finalizedAt"] = stamp(self._clock)
            self._changed.notify_all()

    # -- model -------------------------------------------------------------------------------

    def _move(self, job: FakeJob, state: str, kind: str = "JOB") -> None:
        self._clock += timedelta(seconds=5)
        status = job.document["status"]
        status["state"] = state
        status["history"].append({"state": state, "date": stamp(self._clock)})
        status["lastTransitionDate"] = stamp(self._clock)
        job.document["updatedAt"] = stamp(self._clock)
        status["info"] = {"code": f"{kind}_{state}", "message": f"{kind.title()} is {state.lower()}", "arguments": {}}

    def create(self, spec: dict[str, Any]) -> FakeJob:
        job_id = str(uuid.UUID(int=len(self.jobs) + 1))
        self._clock += timedelta(seconds=1)
        now = stamp(self._clock)
        labels = {**(spec.get("labels") or {}), "ovh/id": job_id, "ovh/type": "job"}
        document = {
            "id": job_id,
            "createdAt": now,
            "updatedAt": now,
            "user": "user-fake",
            "spec": {**spec, "labels": labels, "name": spec.get("name") or f"job-{len(self.jobs) + 1}"},
            "status": {
                "state": "QUEUED",
                "history": [{"state": "QUEUED", "date": now}],
                "info": {"code": "JOB_QUEUED", "message": "Job is queued", "arguments": {}},
                "url": f"https://{job_id}.job.gra.ai.cloud.ovh.net",
                "ip": f"10.42.0.{len(self.jobs) + 10}",
                "externalIp": None,
                "grpcAddress": f"https://{job_id}.job-grpc.gra.ai.cloud.ovh.net",
                "infoUrl": f"https://ui.gra.ai.cloud.ovh.net/job/{job_id}",
                "duration": 0,
                "exitCode": None,
                "finalizedAt": None,
                "volumes": [],
                "dataSync": [],
            },
        }
        job = FakeJob(document)
        self.jobs[job_id] = job
        return job

    def create_app(self, spec: dict[str, Any]) -> FakeJob:
        app_id = str(uuid.UUID(int=0xA00 + len(self.apps) + 1))
        self._clock += timedelta(seconds=1)
        now = stamp(self._clock)
        labels = {**(spec.get("labels") or {}), "ovh/id": app_id, "ovh/type": "app"}
        resources = {"cpu": 7, "gpu": 1, "flavor": "ai1-1-gpu", "memory": 42_949_672_960, "ephemeralStorage": 687_194_767_360, **(spec.get("resources") or {})}
        document = {
            "id": app_id, "createdAt": now, "updatedAt": now, "user": "user-fake",
            "spec": {**spec, "labels": labels, "name": spec.get("name") or f"app-{len(self.apps) + 1}", "resources": resources},
            "status": {
                "state": "QUEUED", "availableReplicas": 0, "history": [{"state": "QUEUED", "date": now}],
                "info": {"code": "APP_QUEUED", "message": "App is queued", "arguments": {}},
                "url": f"https://{app_id}.app.gra.ai.cloud.ovh.net", "grpcAddress": f"https://{app_id}.app-grpc.gra.ai.cloud.ovh.net",
                "infoUrl": f"https://ui.gra.ai.cloud.ovh.net/app/{app_id}", "lastTransitionDate": now, "volumes": [], "dataSync": [],
            },
        }  # fmt: skip
        app = FakeJob(document, finished_states=APP_DOWN)
        self.apps[app_id] = app
        return app

    def advance_app(self, app_id: str, state: str | None = None) -> None:
        """Move an app one step along QUEUED → INITIALIZING → SCALING → RUNNING (or to `state`)."""
        with self._changed:
            app = self.apps[app_id]
            path = APP_START_PATH
            target = state or (path[path.index(app.state) + 1] if app.state in path[:-1] else None)
            if target is not None:
                self._move(app, target, "APP")
                replicas = _fixed_replicas(app.document["spec"])
                app.document["status"]["availableReplicas"] = replicas if target == "RUNNING" else 0 if target in APP_DOWN else app.document["status"]["availableReplicas"]
            self._changed.notify_all()

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._changed:
            for fault in self._faults:
                if fault.method == method and fault.path.search(path) and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def wait_for_lines(self, job: FakeJob, sent: int, timeout: float) -> tuple[list[str], bool]:
        """Lines past `sent` (blocking up to `timeout`), and whether the job is finished."""
        with self._changed:
            if len(job.lines) <= sent and not job.finished:
                self._changed.wait(timeout)
            return job.lines[sent:], job.finished


def _next_state(state: str) -> str | None:
    for path in (START_PATH, STOP_PATH):
        if state in path[:-1]:
            return path[path.index(state) + 1]
    return None


def _validate_spec(spec: Any) -> str | None:
    if not isinstance(spec, dict) or not spec.get("image"):
        return "image is required"
    for volume in spec.get("volumes") or []:
        if not str(volume.get("mountPath", "")).startswith("/"):
            return "volume mountPath must start with /"
        if volume.get("permission") not in ("RO", "RW", "RWD"):
            return "volume permission must be RO, RW or RWD"
    resources = spec.get("resources") or {}
    if int(resources.get("gpu") or 0) > 4:
        return "at most 4 GPUs per job"
    return None


def _fixed_replicas(spec: dict[str, Any]) -> int:
    strategy = spec.get("scalingStrategy") or {}
    if "automatic" in strategy:
        return int(strategy["automatic"].get("replicasMin") or 1)
    return int((strategy.get("fixed") or {}).get("replicas") or 1)


def _validate_scaling(strategy: Any) -> str | None:
    """The public API's rules (`ovh-ai-deploy.md` §2, §5): one strategy, bounds 1–10."""
    if strategy is None:
        return None
    if not isinstance(strategy, dict) or ("fixed" in strategy) == ("automatic" in strategy):
        return "scalingStrategy takes exactly one of fixed and automatic"
    if "fixed" in strategy:
        replicas = (strategy["fixed"] or {}).get("replicas")
        return None if isinstance(replicas, int) and 1 <= replicas <= 10 else "fixed.replicas must be 1 to 10"
    automatic = strategy["automatic"] or {}
    low, high = automatic.get("replicasMin"), automatic.get("replicasMax")
    if not (isinstance(low, int) and isinstance(high, int) and 0 <= low <= high <= 10 and high >= 1):
        return "automatic replicasMin/replicasMax must be 0 ≤ min ≤ max ≤ 10"
    custom = automatic.get("customMetrics")
    if custom is not None:
        if automatic.get("resourceType") is not None or automatic.get("averageUsageTarget") is not None:
            return "customMetrics replaces resourceType and averageUsageTarget"
        if not (custom.get("apiUrl") and custom.get("valueLocation") and isinstance(custom.get("targetValue"), int | float)):
            return "customMetrics needs apiUrl, valueLocation and targetValue"
        if custom.get("format", "PROMETHEUS") not in ("JSON", "XML", "YAML", "PROMETHEUS") or custom.get("aggregationType", "AVERAGE") not in ("AVERAGE", "MIN", "MAX", "SUM"):
            return "customMetrics format or aggregationType is not one the API knows"
    return None


def _sdk_view(spec: dict[str, Any]) -> dict[str, Any]:
    """What to hand the SDK's `AppSpec`: a custom-metric strategy (which SDK 0.1a4 cannot read)
    as a CPU one, checked by `_validate_scaling` instead."""
    automatic = (spec.get("scalingStrategy") or {}).get("automatic")
    if isinstance(automatic, dict) and "customMetrics" in automatic:
        plain = {k: v for k, v in automatic.items() if k != "customMetrics"} | {"resourceType": "CPU", "averageUsageTarget": 75}
        return {**spec, "scalingStrategy": {"automatic": plain}}
    return spec


class _Handler(BaseHTTPRequestHandler):
    fake: FakeAITrainingAPI
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    # -- plumbing ----------------------------------------------------------------------------

    def _send(self, status: int, body: Any = None, *, text: str | None = None, headers: dict[str, str] | None = None) -> None:
        # A log line may carry bytes that are not UTF-8: they are held as surrogate escapes.
        payload = b"" if body is None and text is None else (text.encode("utf-8", "surrogateescape") if text is not None else json.dumps(body).encode())
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8" if text is not None else "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else None

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        self.fake.requests.append((method, self.path))
        body = self._body() if method in ("POST", "PUT") else None
        if path.startswith("/v1/app"):
            self.fake.app_bodies.append((method, self.path, body))
        if self.headers.get("Authorization") != f"Bearer {self.fake.token}":
            return self._send(401, {"message": "Invalid or missing token"})
        if fault := self.fake.take_fault(method, path):
            threading.Event().wait(fault.delay_s)
            return self._send(fault.status, {"message": fault.message}, headers=fault.headers)
        routes: list[tuple[str, str, Callable[..., None]]] = [
            ("POST", r"/v1/job", self._run),
            ("GET", r"/v1/job", self._list),
            ("GET", r"/v1/job/([^/]+)", self._get),
            ("PUT", r"/v1/job/([^/]+)/kill", self._kill),
            ("DELETE", r"/v1/job/([^/]+)", self._delete),
            ("GET", r"/v1/job/([^/]+)/log", self._log),
            ("GET", r"/v1/registry", self._registries),
            ("POST", r"/v1/registry", self._attach_registry),
            ("DELETE", r"/v1/registry/([^/]+)", self._detach_registry),
            ("GET", r"/v1/me", self._me),
            ("POST", r"/v1/app", self._app_run),
            ("GET", r"/v1/app", self._app_list),
            ("GET", r"/v1/app/([^/]+)", self._app_get),
            ("PUT", r"/v1/app/([^/]+)/scalingstrategy", self._app_scale),
            ("PUT", r"/v1/app/([^/]+)/image", self._app_image),
            ("PUT", r"/v1/app/([^/]+)/start", self._app_start),
            ("PUT", r"/v1/app/([^/]+)/stop", self._app_stop),
            ("DELETE", r"/v1/app/([^/]+)", self._app_delete),
            ("GET", r"/v1/app/([^/]+)/log", self._app_log),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match and route_method == method:
                return handler(*match.groups(), query=query, body=body)
        self._send(404, {"message": f"no route {method} {path}"})

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _job(self, job_id: str) -> FakeJob | None:
        job = self.fake.jobs.get(job_id)
        if job is None:
            self._send(404, {"message": f"Job {job_id} not found"})
        return job

    # -- routes ------------------------------------------------------------------------------

    def _run(self, *, query: Any, body: Any) -> None:
        if problem := _validate_spec(body):
            return self._send(400, {"message": problem})
        self.fake.bodies.append(body)
        with self.fake._changed:  # kept as the SDK's model reads it: an unknown field is lost, as on a schema-driven server
            job = self.fake.create(as_the_sdk_reads_it("JobSpec", body))
        self._send(200, job.document)

    def _list(self, *, query: dict[str, list[str]], body: Any) -> None:
        page, size = int(query.get("page", ["1"])[0]), int(query.get("size", ["10"])[0])
        states = set(query.get("statusState", []))
        jobs = [job.document for job in self.fake.jobs.values() if not states or job.state in states]
        jobs.sort(key=lambda document: document["createdAt"], reverse=query.get("order", ["asc"])[0] == "desc")
        page_count = max(1, -(-len(jobs) // size))
        items = jobs[(page - 1) * size : page * size]
        links = {"next": f"/v1/job?page={page + 1}&size={size}"} if page < page_count else {}
        self._send(200, {"items": items, "metadata": {"currentPage": page, "pageCount": page_count, "total": len(jobs), "links": links}})

    def _get(self, job_id: str, *, query: Any, body: Any) -> None:
        if job := self._job(job_id):
            self._send(200, job.document)

    def _kill(self, job_id: str, *, query: Any, body: Any) -> None:
        if job := self._job(job_id):
            if job.state in TERMINAL:
                return self._send(409, {"message": f"Job is already {job.state}"})
            self.fake.advance(job_id, "INTERRUPTING")
            self._send(204)

    def _delete(self, job_id: str, *, query: dict[str, list[str]], body: Any) -> None:
        if job := self._job(job_id):
            if job.state not in TERMINAL and query.get("force", ["false"])[0] != "true":
                return self._send(409, {"message": f"Job is {job.state}: stop it first or use force"})
            with self.fake._changed:
                del self.fake.jobs[job_id]
                self.fake._changed.notify_all()
            self._send(204)

    def _registries(self, *, query: Any, body: Any) -> None:
        items = list(self.fake.registries.values())
        self._send(200, {"items": items, "metadata": {"currentPage": 1, "pageCount": 1, "total": len(items), "links": {}}})

    def _attach_registry(self, *, query: Any, body: Any) -> None:
        if not isinstance(body, dict) or not all(isinstance(body.get(key), str) and body[key] for key in ("url", "username", "password")):
            return self._send(400, {"message": "url, username and password are required"})
        registry_id = f"reg-{len(self.fake.registries) + 1}"
        item = {"id": registry_id, "url": body["url"], "username": body["username"], "createdAt": stamp(_EPOCH), "updatedAt": stamp(_EPOCH), "user": "user-fake"}
        self.fake.registries[registry_id] = item
        self.fake.registry_passwords[registry_id] = body["password"]
        self._send(200, item)

    def _detach_registry(self, registry_id: str, *, query: Any, body: Any) -> None:
        if self.fake.registries.pop(registry_id, None) is None:
            return self._send(404, {"message": f"Registry {registry_id} not found"})
        self._send(204)

    def _me(self, *, query: Any, body: Any) -> None:
        quotas = {"resources": {"CPU": 12, "GPU": 4}, "storage": 0}
        self._send(200, {"name": "user-fake", "tenant": TENANT, "role": "ai_training_operator", "tokenKind": "app", "quotas": quotas})

    def _log(self, job_id: str, *, query: dict[str, list[str]], body: Any) -> None:
        job = self._job(job_id)
        if job is None:
            return
        tail = int(query["tail"][0]) if "tail" in query else None
        if self.headers.get("Upgrade", "").lower() == "websocket" and query.get("follow", ["false"])[0] == "true":
            return self._follow(job, tail)
        with self.fake._changed:
            lines = job.lines[-tail:] if tail else list(job.lines)
            self.fake.plain_log_reads += 1
        self._send(200, text="".join(f"{line}\n" for line in lines))

    # -- apps ----------------------------------------------------------------------------------

    def _app(self, app_id: str) -> FakeJob | None:
        app = self.fake.apps.get(app_id)
        if app is None:
            self._send(404, {"message": f"App {app_id} not found"})
        return app

    def _app_run(self, *, query: Any, body: Any) -> None:
        if problem := _validate_spec(body) or _validate_scaling((body or {}).get("scalingStrategy")):
            return self._send(400, {"message": problem})
        try:
            as_the_sdk_reads_it("AppSpec", _sdk_view(body))
        except (KeyError, ValueError, TypeError) as error:
            return self._send(400, {"message": f"invalid app spec: {error!r}"})
        with self.fake._changed:
            app = self.fake.create_app(body)
        self._send(200, app.document)

    def _app_list(self, *, query: dict[str, list[str]], body: Any) -> None:
        page, size = int(query.get("page", ["1"])[0]), int(query.get("size", ["10"])[0])
        states = set(query.get("statusState", []))
        name, _, value = query.get("labelSelector", ["="])[0].partition("=")
        apps = [
            app.document for app in self.fake.apps.values()
            if (not states or app.state in states) and (not name or app.document["spec"]["labels"].get(name) == value)
        ]  # fmt: skip
        apps.sort(key=lambda document: (document.get("createdAt", ""), document["id"]), reverse=query.get("order", ["asc"])[0] == "desc")
        page_count = max(1, -(-len(apps) // size))
        items = apps[(page - 1) * size : page * size]
        links = {"next": f"/v1/app?page={page + 1}&size={size}"} if page < page_count else {}
        self._send(200, {"items": items, "metadata": {"currentPage": page, "pageCount": page_count, "total": len(apps), "links": links}})

    def _app_get(self, app_id: str, *, query: Any, body: Any) -> None:
        if app := self._app(app_id):
            self._send(200, app.document)

    def _app_scale(self, app_id: str, *, query: Any, body: Any) -> None:
        if problem := _validate_scaling(body) or (None if body else "a scaling strategy is required"):
            return self._send(400, {"message": problem})
        if app := self._app(app_id):
            with self.fake._changed:
                app.document["spec"]["scalingStrategy"] = body
                if app.state == "RUNNING":
                    self.fake._move(app, "SCALING", "APP")
            self._send(204)

    def _app_image(self, app_id: str, *, query: Any, body: Any) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("url"), str) or not body["url"]:
            return self._send(400, {"message": "url is required"})
        if app := self._app(app_id):
            app.document["spec"]["image"] = body["url"]
            self._send(200, text=json.dumps(body["url"]))

    def _app_start(self, app_id: str, *, query: Any, body: Any) -> None:
        if app := self._app(app_id):
            if app.state != "STOPPED":
                return self._send(409, {"message": f"App is {app.state}: only a STOPPED app starts"})
            with self.fake._changed:
                self.fake._move(app, "QUEUED", "APP")
            self._send(204)

    def _app_stop(self, app_id: str, *, query: Any, body: Any) -> None:
        if app := self._app(app_id):
            if app.state in APP_DOWN or app.state == "STOPPING":
                return self._send(409, {"message": f"App is already {app.state}"})
            with self.fake._changed:
                self.fake._move(app, "STOPPING", "APP")
                self.fake._move(app, "STOPPED", "APP")
                app.document["status"]["availableReplicas"] = 0
                self.fake._changed.notify_all()
            self._send(204)

    def _app_delete(self, app_id: str, *, query: dict[str, list[str]], body: Any) -> None:
        if app := self._app(app_id):
            if app.state not in APP_DOWN and query.get("force", ["false"])[0] != "true":
                return self._send(409, {"message": f"App is {app.state}: stop it first or use force"})
            with self.fake._changed:
                del self.fake.apps[app_id]
                self.fake._changed.notify_all()
            self._send(204)

    def _app_log(self, app_id: str, *, query: dict[str, list[str]], body: Any) -> None:
        app = self._app(app_id)
        if app is None:
            return
        tail = int(query["tail"][0]) if "tail" in query else None
        replica = query.get("replica", [None])[0]
        source = app if replica is None else FakeJob(app.document, [line for line in app.lines if f" [{replica}] " in line], APP_DOWN)
        if self.headers.get("Upgrade", "").lower() == "websocket" and query.get("follow", ["false"])[0] == "true":
            return self._follow(source, tail)
        with self.fake._changed:
            lines = source.lines[-tail:] if tail else list(source.lines)
        self._send(200, text="".join(f"{line}\n" for line in lines))

    # -- WebSocket follow ----------------------------------------------------------------------

    def _follow(self, job: FakeJob, tail: int | None) -> None:
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        fake = self.fake
        with fake._changed:
            fake.ws_connections += 1
        connection = self.connection
        closed = threading.Event()
        lock = threading.Lock()
        ending = threading.Event()  # set when this side starts the closing handshake
        reader = threading.Thread(target=_answer_client_frames, args=(connection, closed, ending, lock), daemon=True)
        reader.start()
        try:
            self._send_log(job, tail, connection, closed, ending, lock)
        finally:
            reader.join(1.0)  # let it answer the client's close before the socket goes

    def _send_log(self, job: FakeJob, tail: int | None, connection: socket.socket, closed: threading.Event, ending: threading.Event, lock: threading.Lock) -> None:
        fake = self.fake
        with fake._changed:
            drop_after = fake.drop_plan.pop(0) if fake.drop_plan else None
            sent = max(0, len(job.lines) - tail) if tail else 0
        replay_end = len(job.lines)  # the drop counts frames past what was already written when it connected
        frames, opened = 0, time.monotonic()
        while not closed.is_set():
            if fake.cut_every_s is not None and time.monotonic() - opened >= fake.cut_every_s:
                fake.drops += 1
                _reset(connection)
                return
            fresh, finished = fake.wait_for_lines(job, sent, fake.keepalive_s)
            if not fresh and finished:
                ending.set()
                _send_frame(connection, 0x8, struct.pack("!H", 1000), lock)
                closed.wait(1.0)
                return
            if not fresh:
                _send_frame(connection, 0x2, b".", lock)
                continue
            for line in fresh:
                if closed.is_set():
                    return
                cut = fake.cut_every_frames is not None and frames >= fake.cut_every_frames
                if cut or (drop_after is not None and sent - replay_end >= drop_after):
                    fake.drops += 1
                    _reset(connection)
                    return
                _send_frame(connection, 0x2, (line + "\n").encode("utf-8", "surrogateescape"), lock)
                sent += 1
                frames += 1
                if fake.frame_delay_s:
                    closed.wait(fake.frame_delay_s)


def _send_frame(connection: socket.socket, opcode: int, payload: bytes, lock: threading.Lock) -> None:
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    with lock:
        connection.sendall(header + payload)


def _reset(connection: socket.socket) -> None:
    """Cut the connection the rude way: no close frame, both directions shut at once."""
    connection.shutdown(socket.SHUT_RDWR)


def _read_exact(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _answer_client_frames(connection: socket.socket, closed: threading.Event, ending: threading.Event, lock: threading.Lock) -> None:
    """Read the client's (masked) frames: pong its pings, note its close."""
    try:
        while True:
            first, second = _read_exact(connection, 2)
            size = second & 0x7F
            if size == 126:
                size = struct.unpack("!H", _read_exact(connection, 2))[0]
            elif size == 127:
                size = struct.unpack("!Q", _read_exact(connection, 8))[0]
            mask = _read_exact(connection, 4) if second & 0x80 else b"\0\0\0\0"
            payload = bytes(byte ^ mask[i % 4] for i, byte in enumerate(_read_exact(connection, size)))
            opcode = first & 0x0F
            if opcode == 0x9:
                _send_frame(connection, 0xA, payload, lock)
            elif opcode == 0x8:
                closed.set()  # stop the sender first, then answer
                if not ending.is_set():
                    _send_frame(connection, 0x8, payload[:2], lock)
                return
    except OSError:
        return
    finally:
        closed.set()
