"""`AIDeployPlatform`: apps on OVHcloud AI Deploy through the regional API (`RegionalAPI`).

Paths, queries and bodies are those of `ovh-ai-deploy.md` §1: `POST /v1/app`, `GET /v1/app`
(every page, `statusState` and `labelSelector` filters), `PUT /v1/app/{id}/scalingstrategy`,
`PUT /v1/app/{id}/image`, `PUT …/start|stop`, `DELETE /v1/app/{id}?force=true`, logs from
`GET /v1/app/{id}/log` (`replica`, `tail`) and followed at the same path with `follow=true`.
Responses are read leniently (`services.apps.document`): unknown states and fields are kept.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator

from services.apps.document import app_from_document, scaling_document, spec_document
from services.apps.protocol import App, AppSpec, AppState, Scaling
from services.cancel import CancelToken
from services.jobs.protocol import LogItem
from services.regional_api import PAGE_SIZE, RegionalAPI


class AIDeployPlatform(RegionalAPI):
    product = "AI Deploy"
    noun = "app"
    list_hint = "list apps with `triton-deck app list`"

    def run(self, spec: AppSpec) -> App:
        return app_from_document(self._request("POST", "/app", what="creating the app", json=spec_document(spec)).json())

    def get(self, app_id: str) -> App:
        return app_from_document(self._request("GET", f"/app/{app_id}", what=f"app {app_id}").json())

    def list(self, states: tuple[AppState, ...] = (), label: str | None = None) -> builtins.list[App]:
        apps: list[App] = []
        page = 1
        while True:
            params: list[tuple[str, str | int]] = [("page", page), ("size", PAGE_SIZE), ("sort", "createdAt"), ("order", "desc")]
            params += [("statusState", state.value) for state in states]
            if label:
                params.append(("labelSelector", label))
            body = self._request("GET", "/app", what="listing apps", params=params).json()
            items = body.get("items", []) if isinstance(body, dict) else body
            apps.extend(app_from_document(item) for item in items if isinstance(item, dict) and item.get("id"))
            metadata = body.get("metadata", {}) if isinstance(body, dict) else {}
            if not items or page >= int(metadata.get("pageCount") or page):
                break
            page += 1
        return sorted(apps, key=lambda app: (app.created_at, app.id), reverse=True)

    def scale(self, app_id: str, scaling: Scaling) -> None:
        self._request("PUT", f"/app/{app_id}/scalingstrategy", what=f"scaling app {app_id}", json=scaling_document(scaling))

    def set_image(self, app_id: str, image: str) -> None:
        self._request("PUT", f"/app/{app_id}/image", what=f"setting the image of app {app_id}", json={"url": image})

    def start(self, app_id: str) -> None:
        self._request("PUT", f"/app/{app_id}/start", what=f"starting app {app_id}")

    def stop(self, app_id: str) -> None:
        self._request("PUT", f"/app/{app_id}/stop", what=f"stopping app {app_id}")

    def delete(self, app_id: str, force: bool = False) -> None:
        self._request("DELETE", f"/app/{app_id}", what=f"deleting app {app_id}", params={"force": "true"} if force else None)

    def logs(self, app_id: str, replica: str | None = None, tail: int | None = None) -> builtins.list[str]:
        return self._plain_log(f"/app/{app_id}/log", f"the log of app {app_id}", {"replica": replica} if replica else {}, tail)

    def follow_logs(self, app_id: str, cancel: CancelToken, replica: str | None = None) -> Iterator[LogItem]:
        query = {"replica": replica} if replica else {}
        return self._follow(f"/app/{app_id}/log", f"the log of app {app_id}", lambda: self.get(app_id).state.is_down, cancel, query)
