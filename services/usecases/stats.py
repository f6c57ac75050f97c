"""Reading a served model's statistics once a second, from the server and from each replica
of an app whose replicas answer by themselves (the local platform's; AI Deploy reaches its
replicas only through the app's URL, so there the server's figures are all there is).

One client is kept per address, so a poll opens no connection; the app's replica list is
re-read every few seconds, not every second, since scaling changes it slowly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from services.apps.protocol import App
from services.errors import UserError
from services.inference.protocol import Endpoint, InferenceClient, Transport
from services.inference.stats import ModelStats
from services.usecases.server import Server

REPLICAS_REFRESH_S = 5.0


@dataclass(frozen=True)
class StatsReading:
    model: str
    at: float  # monotonic seconds: rates are per real second between readings
    stats: ModelStats
    replicas: tuple[tuple[str, ModelStats], ...] = ()


class StatsReader:
    def __init__(self, server: Server, client_for: Callable[[Endpoint], InferenceClient], app_now: Callable[[str], App] | None) -> None:
        self.server = server
        self._client_for = client_for
        self._app_now = app_now
        self._clients: dict[str, InferenceClient] = {}
        self._app = server.app
        self._app_read_at = time.monotonic()

    def _client(self, endpoint: Endpoint) -> InferenceClient:
        client = self._clients.get(endpoint.url)
        if client is None:
            client = self._clients[endpoint.url] = self._client_for(endpoint)
        return client

    def _addressable(self) -> list[tuple[str, str]]:
        """(name, url) of the app's replicas that answer by themselves, refreshed now and then."""
        app = self._app
        if app is None or not any(replica.url for replica in app.replicas):
            return []
        if self._app_now is not None and time.monotonic() - self._app_read_at >= REPLICAS_REFRESH_S:
            self._app_read_at = time.monotonic()
            try:
                self._app = app = self._app_now(app.id)
            except UserError:
                pass  # the app went away: the server's own reading will say so
        return [(replica.name, replica.url) for replica in app.replicas if replica.url and replica.ready]

    def read(self, model: str) -> StatsReading:
        """The server's counters for `model`, and each addressable replica's that answered;
        UserError when the server has no statistics extension (or is gone)."""
        stats = self._client(self.server.endpoint).model_stats(model)
        replicas = []
        for name, url in self._addressable():
            try:
                replicas.append((name, self._client(replace(self.server.endpoint, url=url, transport=Transport.HTTP)).model_stats(model)))
            except UserError:
                continue  # a replica restarting: it comes back on a later poll
        return StatsReading(model, time.monotonic(), stats, tuple(replicas))
