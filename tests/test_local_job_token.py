"""A local server job without `--unsecure-http` answers only requests with the profile's bearer
token (as an AI Training job URL does); triton-deck's own clients send it without being asked."""

from __future__ import annotations

import io
import stat
import time
from dataclasses import replace

import pytest

from services.jobs.local import LocalJobPlatform
from services.jobs.protocol import JobState
from services.supervised.token import local_token, token_path
from tests.helpers import DEMO_REPOSITORY, http_status, tutorial_spec, upload_demo_repository, wait_for
from tui.cli import main


def cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), env={}, out=out), out.getvalue()


def test_a_private_local_server_job_wants_the_token(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    upload_demo_repository(monkeypatch)
    platform = LocalJobPlatform()
    job = platform.run(replace(tutorial_spec(), unsecure_http=False))
    try:
        assert wait_for(platform, job.id, {JobState.RUNNING, JobState.FAILED}) is JobState.RUNNING
        url = platform.get(job.id).url
        assert url is not None and url.startswith("http://127.0.0.1:")
        token = local_token().reveal()
        assert stat.S_IMODE(token_path().stat().st_mode) == 0o600
        ready = f"{url}/v2/health/ready"
        for _ in range(600):  # the job is RUNNING once the process runs; the models load after
            if http_status(ready, token) == 200:
                break
            time.sleep(0.1)
        assert http_status(ready, token) == 200
        assert http_status(ready) == 403 and http_status(ready, "not-the-token") == 403, "no token, no answer"
        assert http_status(f"{url}/v2/models/efficientnet_lite0") == 403

        code, out = cli("health", "--job", job.id)
        assert code == 0 and "ready" in out.lower(), out
        code, out = cli("health", "--job", job.id, "-i", "grpc")
        assert code == 0 and "ready" in out.lower(), out
        code, out = cli("classify", "--job", job.id, "-m", "efficientnet_lite0", "-s", "INCEPTION", "-c", "1", str(DEMO_REPOSITORY.parent / "samples" / "coffee.png"))
        assert code == 0 and "espresso" in out, out

        code, out = cli("job", "get", job.id)
        assert "access Authorization: Bearer <token> (`triton-deck profile token` prints it)" in out
        assert token not in out
        code, out = cli("profile", "token")
        assert out.strip() == token
        assert token not in (platform.root / job.id / "log.txt").read_text(), "the token never reaches the log"
    finally:
        platform.delete(job.id, force=True)
    capsys.readouterr()
