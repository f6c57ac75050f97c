"""`triton-deck app ...` on an OVHcloud profile, against the fake regional API's AI Deploy side.

Each command's path and body are checked field by field against `ovh-ai-deploy.md`, and
every body the client sends (but the custom-metric one SDK 0.1a4 cannot read) must be one
the official SDK's models accept and give back without loss.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from services.apps.ai_deploy import AIDeployPlatform
from services.apps.protocol import AppState
from services.cancel import CancelToken
from services.jobs.protocol import LogMarker
from services.secrets import Secret
from tests.fake_ai_api import TOKEN, FakeAITrainingAPI
from tests.helpers import run
from tests.ovhai_sdk import models

IMAGE = "nvcr.io/nvidia/tritonserver:24.08-py3"
ENV = {"OVHAI_TOKEN": TOKEN, "TRITON_DECK_PROFILE": "gra"}


@pytest.fixture(autouse=True)
def gra_profile(api: FakeAITrainingAPI) -> None:
    """Every test here runs on the OVHcloud profile `gra`, against the API fake."""
    assert run(["profile", "add", "gra", "--region", "GRA", "--api-url", api.base_url])[0] == 0


def sdk_round_trip(model: str, body: dict[str, Any]) -> None:
    parsed = getattr(models(), model).from_dict(body)
    assert parsed.to_dict() == body, f"the SDK's {model} changes the body"


def last_body(api: FakeAITrainingAPI, method: str, fragment: str) -> Any:
    return next(body for sent, path, body in reversed(api.app_bodies) if sent == method and fragment in path)


def test_the_triton_preset_sends_the_documented_body(api: FakeAITrainingAPI, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(["app", "run", IMAGE, "--models", "triton-models@GRA", "--name", "triton-demo", "--flavor", "l4-1-gpu", "-l", "team=ml",
                     "--auto-min-replicas", "1", "--auto-max-replicas", "3", "--auto-resource-type", "CPU", "--auto-resource-usage-threshold", "75", "-o", "json"], env=ENV)  # fmt: skip
    assert code == 0, capsys.readouterr().err
    body = last_body(api, "POST", "/v1/app")
    assert body == {  # ovh-ai-deploy.md §2, "Example: Triton create body"
        "image": IMAGE, "name": "triton-demo",
        "command": ["tritonserver", "--model-repository=/workspace/models"],
        "defaultHttpPort": 8000, "grpcPort": 8001,
        "probe": {"path": "/v2/health/ready", "port": 8000},
        "resources": {"flavor": "l4-1-gpu", "gpu": 1},
        "scalingStrategy": {"automatic": {"replicasMin": 1, "replicasMax": 3, "resourceType": "CPU", "averageUsageTarget": 75}},
        "volumes": [{"mountPath": "/workspace/models", "permission": "RO", "cache": False, "dataStore": {"alias": "GRA", "container": "triton-models"}}],
        "labels": {"team": "ml"}, "unsecureHttp": False,
    }  # fmt: skip
    sdk_round_trip("AppSpec", body)
    app = json.loads(out)
    assert app["status"]["state"] == "QUEUED" and app["spec"]["labels"]["ovh/type"] == "app"


def test_options_after_the_image_and_a_command_after_the_separator(api: FakeAITrainingAPI) -> None:
    code, _ = run(["app", "run", "ubuntu", "--cpu", "2", "--replicas", "2", "-p", "8080", "--", "python3", "-m", "http.server", "8080"], env=ENV)
    assert code == 0
    body = last_body(api, "POST", "/v1/app")
    assert body["command"] == ["python3", "-m", "http.server", "8080"] and body["resources"] == {"cpu": 2, "gpu": 0}
    assert body["scalingStrategy"] == {"fixed": {"replicas": 2}} and "probe" not in body and "volumes" not in body
    sdk_round_trip("AppSpec", body)


def test_every_command_sends_its_documented_request(api: FakeAITrainingAPI, capsys: pytest.CaptureFixture[str]) -> None:
    app_id = json.loads(run(["app", "run", IMAGE, "--models", "m@GRA", "-o", "json"], env=ENV)[1])["id"]
    for _ in range(3):
        api.advance_app(app_id)
    prefix = app_id[:8]
    assert run(["app", "scale", prefix, "--replicas", "3"], env=ENV)[0] == 0
    scaling = last_body(api, "PUT", "/scalingstrategy")
    assert scaling == {"fixed": {"replicas": 3}}
    sdk_round_trip("ScalingStrategy", scaling)
    assert api.apps[app_id].state == "SCALING"
    assert run(["app", "scale", prefix, "--auto-custom-api-url", "http://<SELF>:8002/metrics", "--auto-custom-value-location",
                'nv_inference_pending_request_count{model="resnet50"}', "--auto-custom-target-value", "4", "--auto-max-replicas", "4"], env=ENV)[0] == 0  # fmt: skip
    assert last_body(api, "PUT", "/scalingstrategy") == {"automatic": {"replicasMin": 1, "replicasMax": 4, "customMetrics": {
        "apiUrl": "http://<SELF>:8002/metrics", "format": "PROMETHEUS", "valueLocation": 'nv_inference_pending_request_count{model="resnet50"}',
        "targetValue": 4.0, "aggregationType": "AVERAGE"}}}  # fmt: skip
    assert run(["app", "set-image", prefix, "nvcr.io/nvidia/tritonserver:24.09-py3"], env=ENV)[0] == 0
    assert last_body(api, "PUT", "/image") == {"url": "nvcr.io/nvidia/tritonserver:24.09-py3"}
    assert run(["app", "stop", prefix], env=ENV)[0] == 0 and api.apps[app_id].state == "STOPPED"
    code, _ = run(["app", "stop", prefix], env=ENV)
    assert code == 1 and "already STOPPED" in capsys.readouterr().err
    assert run(["app", "start", prefix], env=ENV)[0] == 0 and api.apps[app_id].state == "QUEUED"
    code, _ = run(["app", "delete", prefix], env=ENV)
    assert code == 1 and "HTTP 409" in capsys.readouterr().err and app_id in api.apps
    assert run(["app", "delete", prefix, "--force"], env=ENV)[0] == 0 and not api.apps
    paths = [path for method, path in api.requests if method != "GET"]
    assert paths == [
        "/v1/app", f"/v1/app/{app_id}/scalingstrategy", f"/v1/app/{app_id}/scalingstrategy", f"/v1/app/{app_id}/image",
        f"/v1/app/{app_id}/stop", f"/v1/app/{app_id}/start", f"/v1/app/{app_id}", f"/v1/app/{app_id}?force=true",
    ]  # fmt: skip


def test_listing_reads_every_page_filters_and_keeps_what_it_does_not_know(api: FakeAITrainingAPI) -> None:
    ids = [json.loads(run(["app", "run", IMAGE, "--models", "m@GRA", "-l", f"n={n % 2}", "-o", "json"], env=ENV)[1])["id"] for n in range(105)]
    odd = api.apps[ids[1]].document
    odd["status"]["state"] = "HIBERNATING"  # a state from after this build
    del odd["status"]["history"], odd["createdAt"]  # optional fields gone
    odd["spec"]["scalingStrategy"] = {"automatic": {"replicasMin": 1, "replicasMax": 2, "customMetrics": {"apiUrl": "u", "valueLocation": "v", "targetValue": 1}}}
    code, out = run(["app", "list", "-q"], env=ENV)
    assert code == 0 and sorted(out.split()) == sorted(ids)
    assert [query for method, query in api.requests if query.startswith("/v1/app?")][-1].startswith("/v1/app?page=2&size=100")
    code, out = run(["app", "list"], env=ENV)
    assert "HIBERNATING" in out and "auto 1-2 v≥1" in out
    code, out = run(["app", "list", "-q", "--label", "n=1"], env=ENV)
    assert len(out.split()) == 52 and "labelSelector=n%3D1" in api.requests[-1][1]
    code, out = run(["app", "list", "-q", "--state", "queued"], env=ENV)
    assert len(out.split()) == 104 and "statusState=QUEUED" in api.requests[-1][1]


def test_errors_are_one_line_each(api: FakeAITrainingAPI, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run(["app", "get", "00000000-0000-0000-0000-000000000000"], env=ENV)
    assert code == 1 and "not found (HTTP 404)" in capsys.readouterr().err
    code, _ = run(["app", "list"], env={**ENV, "OVHAI_TOKEN": "wrong"})
    assert code == 1 and "AI Deploy refused the token" in capsys.readouterr().err
    api.fail("GET", r"^/v1/app$", 429, times=10, headers={"Retry-After": "0"})
    code, _ = run(["app", "list"], env=ENV)
    assert code == 1 and "rate-limiting" in capsys.readouterr().err
    code, _ = run(["app", "run", IMAGE, "--replicas", "11"], env=ENV)
    assert code == 1 and "1 to 10 replicas" in capsys.readouterr().err
    code, _ = run(["app", "run", IMAGE, "--replicas", "2", "--auto-max-replicas", "3"], env=ENV)
    assert code == 1 and "--replicas and --auto-*" in capsys.readouterr().err
    assert not api.apps


def test_follow_logs_across_drops_loses_and_repeats_nothing(api: FakeAITrainingAPI) -> None:
    app_id = json.loads(run(["app", "run", IMAGE, "--models", "m@GRA", "-o", "json"], env=ENV)[1])["id"]
    for _ in range(3):
        api.advance_app(app_id)
    platform = AIDeployPlatform(api.base_url, lambda: Secret(TOKEN), "env OVHAI_TOKEN", backoff_s=0.01)
    expected = [f"line {n}" for n in range(300)]
    api.drop_plan = [7, 40, 3, 60]

    got: list[object] = []
    caught_up = threading.Condition()

    def write() -> None:
        """In step with the reader: a drop counts lines written after the reconnection, so a writer
        racing ahead (a loaded machine) would leave nothing new to cut and the plan unspent."""
        for n in range(0, 300, 10):
            api.emit(app_id, expected[n : n + 10], source=f"{app_id[:8]}-{n // 10 % 2}")
            with caught_up:
                caught_up.wait_for(lambda want=n + 10: sum(item is not LogMarker.RECONNECTED for item in got) >= want, timeout=10)
        api.advance_app(app_id, "STOPPED")

    threading.Thread(target=write).start()
    for item in platform.follow_logs(app_id, CancelToken()):
        with caught_up:
            got.append(item)
            caught_up.notify_all()
    lines = [item.split("] ", 1)[1] for item in got if item is not LogMarker.RECONNECTED]
    assert lines == expected and api.drops == 4 and got.count(LogMarker.RECONNECTED) == 4
    assert platform.get(app_id).state is AppState.STOPPED
    assert len(platform.logs(app_id, replica=f"{app_id[:8]}-0")) == 150
