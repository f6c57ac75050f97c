"""The CLI as a user runs it, in real processes, against the fake regional API over real HTTP:
global options on either side of the subcommand, ovhai's `job run` grammar, ids by prefix,
`job list` filters, `logs --tail` sent to the API, and a registry attached to the project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.fake_ai_api import TOKEN, FakeAITrainingAPI

IMAGE = "registry.gra.ai.cloud.ovh.net/0123/tritonserver:23.03-py3"


def cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", *argv], capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "OVHAI_TOKEN": TOKEN, **(env or {})},
    )  # fmt: skip


@pytest.fixture(autouse=True)
def prod_profile(api: FakeAITrainingAPI) -> None:
    assert cli("profile", "add", "prod", "--api-url", api.base_url).returncode == 0


def test_the_ovhai_grammar_in_real_processes(api: FakeAITrainingAPI) -> None:
    # --profile before the subcommand, options on both sides of IMAGE, the command after `--` (OVHcloud's CLI guide).
    ran = cli("--profile", "prod", "job", "run", "--gpu", "1", IMAGE, "--name", "triton", "-o", "json", "--", "echo", "hi")
    assert ran.returncode == 0, ran.stderr
    job = json.loads(ran.stdout)
    sent = api.jobs[job["id"]].document["spec"]
    assert sent["command"] == ["echo", "hi"] and sent["name"] == "triton" and sent["resources"]["gpu"] == 1
    for _ in range(3):
        api.advance(job["id"])

    assert cli("job", "list", "-q").stdout == "", "without --profile: the saved default (local), which has no such job"
    for argv in (("--profile", "prod", "job", "list", "-q"), ("job", "list", "-q", "--profile", "prod"), ("job", "--profile", "prod", "list", "-q")):
        listed = cli(*argv)
        assert listed.returncode == 0 and listed.stdout.split() == [job["id"]], (argv, listed.stderr)
    assert cli("job", "list", "-q", "--state", "DONE", "--profile", "prod").stdout == ""

    prefix = job["id"][:8]  # what the app and the deploy output show
    got = cli("job", "get", prefix, "-o", "json", "--profile", "prod")
    assert got.returncode == 0 and json.loads(got.stdout)["id"] == job["id"]

    api.emit(job["id"], [f"line {n}" for n in range(5)])
    api.requests.clear()
    logs = cli("job", "logs", prefix, "--tail", "2", "--profile", "prod")
    assert logs.returncode == 0 and [line.split(" ", 1)[1] for line in logs.stdout.splitlines()] == ["[job] line 3", "[job] line 4"]
    queries = [parse_qs(urlsplit(path).query) for method, path in api.requests if "/log" in path]
    assert queries and all(query.get("tail") == ["2"] for query in queries), "the tail goes to the API, not cut here"


def test_a_registry_added_on_an_ai_training_profile_is_attached_to_the_project(api: FakeAITrainingAPI) -> None:
    password = f"{sys.executable} -c \"print('s3cret-pw')\""
    added = cli("registry", "add", "registry.example:5000", "-u", "deck", "--password-command", password, "--profile", "prod")
    assert added.returncode == 0, added.stderr
    assert "attached to the project" in added.stdout and "s3cret-pw" not in added.stdout + added.stderr
    listed = cli("registry", "list", "--profile", "prod")
    assert "registry.example:5000" in listed.stdout
    removed = cli("registry", "remove", "registry.example:5000", "--profile", "prod")
    assert removed.returncode == 0 and "detached from the project" in removed.stdout
    assert "registry.example:5000" not in cli("registry", "list", "--profile", "prod").stdout
