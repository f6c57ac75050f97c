"""The rules every front end shares, decided once: what an upload leaves out, which job is the server."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from services.config import local_profile
from services.fake_set import fake_services
from services.inference.protocol import Transport
from services.storage.planning import plan_upload
from services.usecases.server import find_server
from tui.cli import main


def repository_with_caches(root: Path) -> Path:
    model = root / "model_repository" / "classifier"
    (model / "1" / "__pycache__").mkdir(parents=True)
    (model / "config.pbtxt").write_text('name: "classifier"\nbackend: "python"\n')
    (model / "1" / "model.py").write_text("class TritonPythonModel:\n    pass\n")
    (model / "1" / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"\x00bytecode")
    return root / "model_repository"


def test_bytecode_caches_are_left_out_of_every_upload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    repository_with_caches(tmp_path)
    assert [item.key for item in plan_upload(["model_repository/"], "model_repository/")] == ["classifier/1/model.py", "classifier/config.pbtxt"]
    out = io.StringIO()
    assert main(["bucket", "object", "upload", "--create", "cache@LOCAL", "model_repository/", "-r", "model_repository/"], env={}, out=out) == 0
    out = io.StringIO()
    assert main(["bucket", "object", "list", "cache@LOCAL", "-o", "json"], env={}, out=out) == 0
    assert "__pycache__" not in out.getvalue()


def test_the_server_is_the_url_then_the_job_then_the_newest_serving_job() -> None:
    services = fake_services(local_profile())
    newest = find_server(services, Transport.HTTP)
    assert newest is not None and newest.job is not None and newest.job.state.value == "RUNNING"
    assert newest.endpoint.url == newest.job.url
    typed = find_server(services, Transport.HTTP, url="localhost:9000")
    assert typed is not None and typed.job is None and typed.origin == "typed URL"
    named = find_server(services, Transport.GRPC, job_id=newest.job.id)
    assert named is not None and named.job == newest.job


def test_the_pipeline_reports_progress_as_data_and_the_screen_draws_it() -> None:
    """Services emit fractions; only the UI turns them into bars."""
    from services.cancel import CancelToken
    from services.jobs.fake import FakeJobPlatform
    from services.pipeline.plan import Step, demo_plan
    from services.pipeline.runner import PipelineRunner
    from services.pipeline.state import PipelineStore, Progress
    from tests.helpers import TickingPlatform
    from tui.render import progress_line

    services = fake_services(local_profile())
    assert isinstance(services.job_platform, FakeJobPlatform)
    services.job_platform = TickingPlatform(services.job_platform)
    seen = []
    PipelineRunner(services, PipelineStore("local"), lambda step, record: seen.append((step, list(record.progress), record.tail, record.detail)), CancelToken(), poll_s=0).run(
        demo_plan(local_profile())
    )
    uploads = [progress for step, progress, _tail, _detail in seen if step is Step.UPLOAD and progress]
    assert uploads and all(0.0 <= bar.fraction <= 1.0 for bars in uploads for bar in bars)
    assert not any("━" in line for _step, _progress, tail, detail in seen for line in [*tail, detail]), "no bars drawn in services"
    assert progress_line(Progress(0.5)).startswith("━" * 15 + "╌" * 15) and progress_line(Progress(1.0, "abc123", "Pushed")).endswith(" Pushed")
