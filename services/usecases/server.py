"""Which server a health check or a classification talks to: one rule for every front end.

A typed URL wins; then a named app or job; else the newest RUNNING job with an address,
those running tritonserver first (`serving_jobs`), else the newest app with a replica up. The endpoint carries the token the job
or app URL wants, unless it is `--unsecure-http`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.inference.endpoint import endpoint_for_app, endpoint_for_job, endpoint_for_url, serving_jobs
from services.usecases.apps import resolve_app
from services.usecases.jobs import resolve_job

if TYPE_CHECKING:
    from services.apps.protocol import App
    from services.backends import ServiceSet
    from services.inference.protocol import Endpoint, Transport
    from services.jobs.protocol import Job


@dataclass(frozen=True)
class Server:
    """Where to send requests and, when it came from one, the job behind it."""

    endpoint: Endpoint
    job: Job | None = None
    app: App | None = None

    @property
    def origin(self) -> str:
        if self.app:
            return f"app {self.app.name}"
        return f"job {self.job.name}" if self.job else "typed URL"


def find_server(services: ServiceSet, transport: Transport, url: str | None = None, job_id: str | None = None, app_id: str | None = None) -> Server | None:
    """The server to use, or None when no URL or job was given and no job is serving.

    Raises the jobs capability's one-line reason when a job is needed and jobs are not available."""
    if url:
        return Server(endpoint_for_url(url, transport, services.ai_token))
    if app_id:
        app = resolve_app(services.apps(), app_id)
        return Server(endpoint_for_app(app, transport, services.ai_token), app=app)
    platform = services.jobs()
    if job_id:
        job = resolve_job(platform, job_id)
        return Server(endpoint_for_job(job, transport, services.ai_token), job)
    jobs = serving_jobs(platform.list())
    if jobs:
        return Server(endpoint_for_job(jobs[0], transport, services.ai_token), jobs[0])
    apps = [app for app in services.app_platform.list() if app.state.is_up and app.available_replicas > 0] if services.app_platform else []
    return Server(endpoint_for_app(apps[0], transport, services.ai_token), app=apps[0]) if apps else None
