"""Logs survive any byte: the shared line rule, the backward tail, and real local jobs
printing what real programs print (invalid UTF-8, split characters, NUL, no newline)."""

from __future__ import annotations

import os
import time
import tracemalloc
from pathlib import Path

from services.jobs.local import LocalJobPlatform
from services.jobs.local_store import job_to_record, write_record
from services.jobs.protocol import Job, JobSpec, JobState, StateChange
from services.logs.lines import MAX_LINE, LineSplitter
from services.logs.tail import WINDOW, last_lines
from services.storage.protocol import BucketRef
from services.supervised.files import now
from tests.helpers import wait_for


def test_the_line_rule_keeps_every_byte_and_never_splits_a_character() -> None:
    splitter = LineSplitter(max_line=8)
    assert splitter.feed(b"A\x9b\nab\xc3") == [b"A\x9b"]
    assert splitter.feed(b"\xa9\r\n\x00z") == [b"ab\xc3\xa9"]
    assert splitter.feed(b"123456\xe2\x82\xac") == [b"\x00z123456"]
    assert splitter.flush() == [b"\xe2\x82\xac"]
    assert splitter.flush() == []


def test_tail_of_one_huge_line_is_bounded_and_says_it_was_cut(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    with log.open("wb") as handle:
        handle.write(b"first\n")
        for _ in range(16):
            handle.write(b"\xc3\xa9" * (512 * 1024))
        handle.write(b"\n")
    tracemalloc.start()
    lines = last_lines(log, 2)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert lines[0] == "first"
    assert lines[1].startswith("[line cut: its first 15.0 MiB not shown] ")
    assert lines[1].endswith("é" * 100) and "\ufffd" not in lines[1]
    assert peak < 8 * WINDOW


def job_lines(platform: LocalJobPlatform, job_id: str) -> list[str]:
    return [line.split(" [job] ", 1)[1] for line in platform.logs(job_id) if " [job] " in line]


def test_a_job_printing_hostile_bytes_keeps_every_line_in_order(models_bucket: BucketRef) -> None:
    script = (
        "import sys, time\n"
        "out = sys.stdout.buffer\n"
        "out.write(b'A\\x9b\\n'); out.flush()\n"
        "out.write(b'split \\xe2\\x82'); out.flush(); time.sleep(0.3); out.write(b'\\xac done\\n')\n"
        "out.write(b'nul \\x00 here\\n')\n"
        "out.write(b'x' * 1_000_000 + b'\\n')\n"
        "for n in range(200_000): out.write(b'line %d ' % n + b'y' * 480 + b'\\n')\n"
        "out.write(b'last')\n"
    )
    platform = LocalJobPlatform()
    job = platform.run(JobSpec(image="local/tools", command=("python3", "-c", script), gpu=0))
    assert wait_for(platform, job.id, {JobState.DONE, JobState.FAILED}, timeout=120) is JobState.DONE
    lines = job_lines(platform, job.id)
    assert lines[:3] == ["A\ufffd", "split € done", "nul \x00 here"]
    cut = lines[3 : 3 + -(-1_000_000 // MAX_LINE)]
    assert "".join(cut) == "x" * 1_000_000
    rest = lines[3 + len(cut) :]
    assert len(rest) == 200_001 and rest[-1] == "last"
    assert all(line.startswith(f"line {n} ") for n, line in enumerate(rest[:-1]))


def test_a_job_whose_supervisor_never_started_fails_and_goes_at_once(models_bucket: BucketRef) -> None:
    platform = LocalJobPlatform()
    platform.root.mkdir(parents=True, exist_ok=True)
    job_dir = platform.root / "0b1c5a2e-0000-4000-8000-000000000001"
    job_dir.mkdir()
    created = now()
    job = Job(id=job_dir.name, spec=JobSpec(image="local/tools", command=("true",), gpu=0), state=JobState.QUEUED, created_at=created, history=(StateChange(JobState.QUEUED, created),))
    write_record(job_dir, job_to_record(job, None))
    assert platform.get(job.id).state is JobState.QUEUED, "within the grace period it is starting"
    old = time.time() - 60
    os.utime(job_dir / "job.json", (old, old))
    failed = platform.get(job.id)
    assert failed.state is JobState.FAILED and "never started" in (failed.info_message or "")
    platform.delete(job.id)
    assert not job_dir.exists()


def test_a_job_dir_without_a_record_is_swept(models_bucket: BucketRef) -> None:
    platform = LocalJobPlatform()
    platform.root.mkdir(parents=True, exist_ok=True)
    half = platform.root / "0b1c5a2e-0000-4000-8000-000000000002"
    half.mkdir()
    old = time.time() - 60
    os.utime(half, (old, old))
    assert platform.list() == [] and not half.exists()


def test_an_app_replica_printing_hostile_bytes_keeps_every_line_in_order(tmp_path: Path) -> None:
    """A python-backend model that prints what real programs print while it loads: the replica's
    lines reach the app's log whole, in order, and the app runs on."""
    import textwrap

    from services.apps.local import LocalAppPlatform
    from services.apps.protocol import AppSpec, AppState, FixedScaling, Probe
    from services.cancel import CancelToken
    from services.jobs.protocol import VolumeSpec
    from services.storage.local import LocalObjectStore
    from services.storage.planning import plan_upload
    from services.storage.protocol import UploadOptions

    model = tmp_path / "repo" / "noisy"
    (model / "1").mkdir(parents=True)
    (model / "config.pbtxt").write_text(
        'name: "noisy"\nbackend: "python"\nmax_batch_size: 0\n'
        'input [ { name: "X" data_type: TYPE_INT32 dims: [ 1 ] } ]\noutput [ { name: "Y" data_type: TYPE_INT32 dims: [ 1 ] } ]\n'
    )
    (model / "1" / "model.py").write_text(textwrap.dedent("""
        import os, sys, time
        import triton_python_backend_utils as pb_utils

        class TritonPythonModel:
            def initialize(self, args):
                out = os.fdopen(os.dup(1), "wb", buffering=0)
                out.write(b'A\\x9b\\n')
                out.write(b'split \\xe2\\x82'); time.sleep(0.3); out.write(b'\\xac done\\n')
                out.write(b'nul \\x00 here\\n')
                out.write(b'x' * 300_000 + b'\\n')
                out.write(b'loaded\\n')

            def execute(self, requests):
                return [pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("Y", pb_utils.get_input_tensor_by_name(r, "X").as_numpy())]) for r in requests]
    """))
    store = LocalObjectStore()
    bucket = BucketRef("noisy-models", "LOCAL")
    store.create_bucket(bucket)
    assert store.upload(bucket, plan_upload([str(tmp_path / "repo")], str(tmp_path / "repo") + "/"), UploadOptions(), lambda _p: None, CancelToken()).ok
    apps = LocalAppPlatform()
    app = apps.run(AppSpec(
        image="local/tritonserver", command=("tritonserver", "--model-repository=/workspace/models"), name="noisy", unsecure_http=True,
        volumes=(VolumeSpec("noisy-models", "LOCAL", "/workspace/models", "RO"),), probe=Probe("/v2/health/ready", 8000), scaling=FixedScaling(1),
    ))  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while (running := apps.get(app.id)).state is not AppState.RUNNING and time.monotonic() < deadline:
            assert running.state is not AppState.FAILED, running.info_message
            time.sleep(0.3)
        assert running.state is AppState.RUNNING
        lines = [line.split("] ", 1)[1] for line in apps.logs(app.id) if "] " in line]
        start = lines.index("A\ufffd")
        assert lines[start : start + 3] == ["A\ufffd", "split € done", "nul \x00 here"]
        cut = lines[start + 3 : start + 3 + -(-300_000 // MAX_LINE)]
        assert "".join(cut) == "x" * 300_000 and lines[start + 3 + len(cut)] == "loaded"
    finally:
        apps.delete(app.id, force=True)
