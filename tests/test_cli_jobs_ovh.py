"""The tutorial's job commands on an OVHcloud profile, against the fake regional API."""

from __future__ import annotations

import base64
import json
import struct
import threading

import pytest

from tests.fake_ai_api import TENANT, TOKEN, FakeAITrainingAPI
from tests.helpers import run

TUTORIAL_RUN = [
    "job", "run", "--default-http-port", "8000", "--gpu", "1", "--unsecure-http",
    "--volume", "my-models@GRA:/workspace/models:RO",
    "registry.gra.ai.cloud.ovh.net/0123/tritonserver:23.03-py3",
    "--", "bash", "-c", "tritonserver --model-repository=/workspace/models",
]  # fmt: skip


@pytest.fixture(autouse=True)
def gra_profile(api: FakeAITrainingAPI) -> None:
    """Every test here runs on the OVHcloud profile `gra`, against the API fake."""
    assert run(["profile", "add", "gra", "--region", "GRA", "--api-url", api.base_url])[0] == 0


ENV = {"OVHAI_TOKEN": TOKEN, "TRITON_DECK_PROFILE": "gra"}


def test_the_tutorial_commands(api: FakeAITrainingAPI, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(["job", "run", "-o", "json", *TUTORIAL_RUN[2:]], env=ENV)
    assert code == 0, capsys.readouterr().err
    job = json.loads(out)
    assert "unsecure-http makes the job's URL reachable without a token" in capsys.readouterr().err
    assert job["spec"]["volumes"][0]["dataStore"] == {"alias": "GRA", "container": "my-models"}, "the SDK's shape"
    for _ in range(3):
        api.advance(job["id"])
    code, out = run(["job", "get", job["id"], "-o", "json"], env=ENV)
    document = json.loads(out)
    assert document["status"]["url"] == f"https://{job['id']}.job.gra.ai.cloud.ovh.net"  # jq .status.url
    assert document["status"]["state"] == "RUNNING" and document["status"]["ip"].startswith("10.42.")
    assert document == api.jobs[job["id"]].document, "the API's document, whole (infoUrl and all)"
    code, out = run(["job", "list"], env=ENV)
    assert out.splitlines()[0].split() == ["ID", "NAME", "STATE", "AGE", "IMAGE", "JOB_URL"] and job["id"] in out
    api.emit(job["id"], ["pulling data"], source="sync")
    api.emit(job["id"], ["Started HTTPService at 0.0.0.0:8000"])
    code, out = run(["job", "logs", job["id"], "--from", "job"], env=ENV)
    assert [line.split(" ", 1)[1] for line in out.splitlines()] == ["[job] Started HTTPService at 0.0.0.0:8000"]
    threading.Timer(0.3, lambda: (api.emit(job["id"], ["last words"]), api.finish(job["id"]))).start()
    code, out = run(["job", "logs", job["id"], "-f"], env=ENV)
    assert code == 0 and [line.split(" ", 1)[1] for line in out.splitlines()] == [
        "[sync] pulling data",
        "[job] Started HTTPService at 0.0.0.0:8000",
        "[job] last words",
    ]
    code, out = run(["job", "delete", job["id"]], env=ENV)
    assert code == 0 and not api.jobs


def test_stop_then_delete_with_force(api: FakeAITrainingAPI, capsys: pytest.CaptureFixture[str]) -> None:
    job_id = json.loads(run(["job", "run", "-o", "json", *TUTORIAL_RUN[2:]], env=ENV)[1])["id"]
    assert run(["job", "stop", job_id], env=ENV)[0] == 0
    assert api.jobs[job_id].state == "INTERRUPTING"
    code, _ = run(["job", "delete", job_id], env=ENV)
    assert code == 1 and "HTTP 409" in capsys.readouterr().err
    assert run(["job", "delete", job_id, "--force"], env=ENV)[0] == 0


def test_registry_list(api: FakeAITrainingAPI) -> None:
    code, out = run(["registry", "list"], env=ENV)
    assert code == 0
    rows = [line.split() for line in out.splitlines()]
    assert rows == [["ID", "TYPE", "URL"], ["SHARED", f"registry.gra.ai.cloud.ovh.net/{TENANT}"], ["reg-1", "PRIVATE", "ghcr.io/acme"]]


def test_run_flags_reach_the_api(api: FakeAITrainingAPI, tmp_path) -> None:  # type: ignore[no-untyped-def]
    keys = tmp_path / "keys.pub"
    blob = struct.pack(">I", 11) + b"ssh-ed25519" + struct.pack(">I", 32) + bytes(32)
    key = f"ssh-ed25519 {base64.b64encode(blob).decode()} test@host"
    keys.write_text(key + "\n")
    code, out = run(
        ["job", "run", "--cpu", "4", "--flavor", "ai1-1-cpu", "--timeout", "1h", "-s", str(keys), "-e", "A=1", "-l", "team=ml", "-n", "client", "-o", "json", "img"],
        env=ENV,
    )
    assert code == 0
    spec = api.jobs[json.loads(out)["id"]].document["spec"]
    assert spec["resources"] == {"cpu": 4, "gpu": 0, "flavor": "ai1-1-cpu"}
    assert spec["timeout"] == 3600 and spec["sshPublicKeys"] == [key]
    assert spec["envVars"] == [{"name": "A", "value": "1"}] and spec["labels"]["team"] == "ml" and spec["name"] == "client"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["job", "run", "--gpu", "9", "img"], "--gpu 9: a job takes 1 to 4 GPUs"),
        (["job", "run", "--timeout", "soon", "img"], "duration 'soon' is not valid"),
        (["job", "run", "-p", "70000", "img"], "--default-http-port 70000 is not a port"),
        (["job", "run", "-v", "nobucket:/x", "img"], "must be container@ALIAS"),
    ],
)
def test_bad_run_flags_are_one_line(api: FakeAITrainingAPI, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert run(argv, env=ENV)[0] == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and message in err[0]
    assert not api.jobs


def test_a_missing_or_wrong_token_says_where_to_put_one(api: FakeAITrainingAPI, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["job", "list"], env={"TRITON_DECK_PROFILE": "gra"})[0] == 1
    assert "no AI Training token: set OVHAI_TOKEN" in capsys.readouterr().err
    assert run(["job", "list"], env={"TRITON_DECK_PROFILE": "gra", "OVHAI_TOKEN": "bad-token-xyz-987"})[0] == 1
    err = capsys.readouterr().err
    assert "refused the token from env OVHAI_TOKEN (HTTP 401" in err and "bad-token-xyz-987" not in err


def test_opening_a_profile_runs_no_token_command_until_a_request_needs_it(api: FakeAITrainingAPI, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from services.backends import open_services
    from services.config import Profile, ProfileKind

    marker = tmp_path / "ran"
    command = f"sh -c 'touch {marker}; echo {TOKEN}'"
    profile = Profile(name="gra", kind=ProfileKind.OVHCLOUD, region="GRA", api_url=api.base_url, token_command=command)
    platform = open_services(profile, env={}).job_platform
    assert platform is not None and not marker.exists(), "start-up and profile switches stay instant"
    assert platform.list() == [] and marker.exists()


def test_registry_add_attaches_it_to_the_project_and_remove_detaches(api: FakeAITrainingAPI, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "password"
    secret.write_text("registry-password-77\n")
    code, out = run(["registry", "add", "registry.example.com", "-u", "robot", "--password-command", f"cat {secret}"], env=ENV)
    assert code == 0 and "attached to the project (reg-2)" in out, out
    assert api.registries["reg-2"]["url"] == "registry.example.com" and api.registry_passwords["reg-2"] == "registry-password-77"
    assert "registry-password-77" not in out + capsys.readouterr().err
    assert ["reg-2", "PRIVATE", "registry.example.com"] in [line.split() for line in run(["registry", "list"], env=ENV)[1].splitlines()]
    code, out = run(["registry", "remove", "registry.example.com"], env=ENV)
    assert code == 0 and "detached from the project (reg-2)" in out and "reg-2" not in api.registries
    assert run(["registry", "add", "registry.example.com"], env=ENV)[0] == 1
    assert "give -u USER and --password-command CMD" in capsys.readouterr().err


def test_registry_list_survives_a_failing_me(api: FakeAITrainingAPI, capsys: pytest.CaptureFixture[str]) -> None:
    api.fail("GET", r"/v1/me$", 500, times=10)
    code, out = run(["registry", "list"], env=ENV)
    assert code == 0 and ["reg-1", "PRIVATE", "ghcr.io/acme"] in [line.split() for line in out.splitlines()]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("triton-deck: the shared registry is unknown:")


def test_follow_with_a_tail_starts_at_the_tail_and_survives_a_drop(api: FakeAITrainingAPI) -> None:
    job_id = json.loads(run(["job", "run", "-o", "json", *TUTORIAL_RUN[2:]], env=ENV)[1])["id"]
    for _ in range(3):
        api.advance(job_id)
    api.emit(job_id, [f"old {n}" for n in range(50)])
    api.emit(job_id, ["syncing"], source="sync")
    api.drop_plan = [0, 2]  # the follow's first connections are cut: it resumes and still counts from the tail
    threading.Timer(0.5, lambda: (api.emit(job_id, [f"new {n}" for n in range(6)]), api.finish(job_id))).start()
    code, out = run(["job", "logs", job_id, "-f", "--tail", "3", "--from", "job"], env=ENV)
    assert code == 0
    assert [line.split("] ", 1)[1] for line in out.splitlines()] == ["old 47", "old 48", "old 49", *[f"new {n}" for n in range(6)]]
    code, out = run(["job", "logs", job_id, "-f", "--tail", "0"], env=ENV)
    assert code == 0 and out == "", "a finished job has nothing new: tail -n 0 -f prints nothing"
