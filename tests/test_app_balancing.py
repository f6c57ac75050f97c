"""A local app's endpoint balances every request, not every connection, against real replicas:
one keep-alive HTTP client and one gRPC channel spread over both replicas, a stream stays on
one, a replica killed under load costs only what was in flight on it, and a replica that
becomes ready takes its share of a running client's load at once."""

from __future__ import annotations

import json
import os
import queue
import time
from typing import Any

import numpy as np
import pytest

from services.apps.protocol import FixedScaling
from services.storage.protocol import BucketRef
from tests.helpers import BackgroundLoad, infer_count, replica_ports, running_app, wait_for_app
from tui.cli import main


def simple_inputs(client_module: Any) -> list[Any]:
    data = np.arange(16, dtype=np.int32).reshape(1, 16)
    inputs = [client_module.InferInput(name, [1, 16], "INT32") for name in ("INPUT0", "INPUT1")]
    for tensor in inputs:
        tensor.set_data_from_numpy(data)
    return inputs


def grpc_port_of(platform: Any, app: Any, http_port: int) -> int:
    """A replica's own gRPC port, from its log line (`(HTTP h, gRPC g, ...`)."""
    log = (platform.root / app.id / "log.txt").read_text()
    line = next(line for line in log.splitlines() if f"(HTTP {http_port}," in line)
    return int(line.split("gRPC ", 1)[1].split(",", 1)[0].rstrip(")"))


def counts(ports: list[int]) -> list[int]:
    return [infer_count(port) for port in ports]


def spread(before: list[int], after: list[int]) -> list[int]:
    return [later - earlier for earlier, later in zip(before, after, strict=True)]


def test_one_client_per_protocol_spreads_over_both_replicas_and_a_stream_stays_on_one(models_bucket: BucketRef, capsys: Any) -> None:
    import tritonclient.grpc as grpcclient
    import tritonclient.http as httpclient

    with running_app(2) as (platform, app):
        assert app.url and app.grpc_address
        ports = replica_ports(platform, app)
        assert len(ports) == 2

        before = counts(ports)
        http = httpclient.InferenceServerClient(app.url.removeprefix("http://"))  # one keep-alive connection
        for _ in range(100):
            assert (http.infer("simple", simple_inputs(httpclient)).as_numpy("OUTPUT0") == np.arange(16) * 2).all()
        http.close()
        by_http = spread(before, counts(ports))
        assert sum(by_http) == 100 and all(30 <= n <= 70 for n in by_http), by_http

        before = counts(ports)
        channel = grpcclient.InferenceServerClient(app.grpc_address)  # one channel, one HTTP/2 connection
        for _ in range(100):
            assert (channel.infer("simple", simple_inputs(grpcclient)).as_numpy("OUTPUT1") == 0).all()
        by_grpc = spread(before, counts(ports))
        assert sum(by_grpc) == 100 and all(30 <= n <= 70 for n in by_grpc), by_grpc
        from tritonclient.utils import InferenceServerException

        refusals = []
        for address in (app.grpc_address, f"127.0.0.1:{grpc_port_of(platform, app, ports[0])}"):  # through the endpoint, then direct
            direct = grpcclient.InferenceServerClient(address)
            with pytest.raises(InferenceServerException) as refused:
                direct.infer("no_such_model", simple_inputs(grpcclient))
            refusals.append((refused.value.status(), refused.value.message()))
            direct.close()
        assert refusals[0] == refusals[1], "a replica's status and message pass through unchanged"

        before = counts(ports)
        answers: queue.Queue[tuple[str, Any]] = queue.Queue()
        channel.start_stream(callback=lambda result, error: answers.put((result.get_response().id if result else "", error)))
        for number in range(20):
            channel.async_stream_infer("simple", simple_inputs(grpcclient), request_id=str(number))
        received = [answers.get(timeout=30) for _ in range(20)]
        channel.stop_stream()
        channel.close()
        assert [error for _, error in received] == [None] * 20 and [identifier for identifier, _ in received] == [str(n) for n in range(20)]
        assert sorted(spread(before, counts(ports))) == [0, 20], "a stream stays on one replica for its life"

        deadline = time.monotonic() + 10  # the app's status says how many each answered in the last minute (a stream is one call)
        while True:
            replicas = platform.get(app.id).replicas
            if sum(r.requests or 0 for r in replicas) >= 202 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert sum(r.requests or 0 for r in replicas) == 202 and all((r.requests or 0) >= 60 for r in replicas), replicas
        assert sum(r.failed or 0 for r in replicas) == 1, "the refused call is counted as failed"
        assert all(r.latency_ms is not None and r.latency_ms > 0 for r in replicas)
        capsys.readouterr()
        assert main(["--profile", "local", "app", "get", app.id, "-o", "json"]) == 0
        document = json.loads(capsys.readouterr().out)
        assert sorted(r["requestsLastMinute"] for r in document["status"]["replicas"]) == sorted(r.requests for r in replicas)


def test_a_replica_killed_under_load_fails_only_what_was_in_flight_on_it(models_bucket: BucketRef) -> None:
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException

    with running_app(2) as (platform, app):
        assert app.url
        client = httpclient.InferenceServerClient(app.url.removeprefix("http://"))  # kept for the whole run
        with BackgroundLoad(lambda: client.infer("simple", simple_inputs(httpclient)), (InferenceServerException,)) as load:
            time.sleep(1)
            victim = replica_ports(platform, app)[0]
            os.system(f"pkill -KILL -f 'http-port={victim} '")
            killed = time.monotonic()
            time.sleep(2)
        client.close()
        outcomes = load.outcomes
        failed = [at for at, ok in outcomes if not ok]
        after = [ok for at, ok in outcomes if at > killed + 0.5]
        assert len(failed) <= 2, f"{len(failed)} failed: at most what was in flight on the victim"
        assert len(after) > 20 and all(after), "the same client's later requests succeed without reconnecting"


def test_a_replica_that_becomes_ready_takes_its_share_of_a_running_client_at_once(models_bucket: BucketRef) -> None:
    import tritonclient.http as httpclient

    with running_app(1) as (platform, app):
        assert app.url
        first = replica_ports(platform, app)
        client = httpclient.InferenceServerClient(app.url.removeprefix("http://"))
        with BackgroundLoad(lambda: client.infer("simple", simple_inputs(httpclient)), ()):
            platform.scale(app.id, FixedScaling(2))
            wait_for_app(platform, app.id, lambda a: a.available_replicas == 2)
            new = [port for port in replica_ports(platform, app) if port not in first]
            assert len(new) == 1
            ports = first + new
            before = counts(ports)
            time.sleep(5)
            share = spread(before, counts(ports))
        client.close()
        assert sum(share) > 20 and share[1] >= 0.3 * sum(share), share
