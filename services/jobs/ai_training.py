"""`AITrainingPlatform`: jobs on OVHcloud AI Training through the regional API (`RegionalAPI`).

Paths, fields and codes are those of `ovh-ai-training-api.md` §3–§6: `POST /v1/job`,
`GET /v1/job/{id}`, `PUT /v1/job/{id}/kill`, `DELETE /v1/job/{id}?force=true`, logs as
plain text from `GET /v1/job/{id}/log` and followed over the WebSocket at the same path
with `follow=true`. Each failure becomes one line that says what to do; the token only
ever travels in the Authorization header.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from services.cancel import CancelToken
from services.errors import UserError
from services.jobs.document import job_from_document, spec_document
from services.jobs.protocol import Job, JobSpec, JobState, LogItem, PlatformCapabilities, RegistryInfo, RegistryListing
from services.regional_api import PAGE_SIZE, RegionalAPI
from services.secrets import Secret


def _job(document: dict[str, Any]) -> Job:
    return replace(job_from_document(document), raw=document)


class AITrainingPlatform(RegionalAPI):
    """Jobs through the regional API; requests, errors and the log follow are `RegionalAPI`'s."""

    capabilities = PlatformCapabilities(registries=True)

    def __init__(
        self, base_url: str, token: Callable[[], Secret], token_source: str, *, region: str = "GRA", shared_registry: str | None = None, **options: Any
    ) -> None:
        super().__init__(base_url, token, token_source, **options)
        self._region = region
        self._shared_registry = shared_registry

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

    def follow_logs(self, job_id: str, cancel: CancelToken) -> Iterator[LogItem]:
        """The whole log, then live lines, across drops, until the job is finished."""
        return self._follow(f"/job/{job_id}/log", f"the log of job {job_id}", lambda: self.get(job_id).state.is_terminal, cancel)

