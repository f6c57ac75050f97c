"""What a local job can see of its caller, who can read what it leaves, and shared files under parallel writers."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from services.config import load_config
from services.jobs.local import LocalJobPlatform
from services.jobs.protocol import JobSpec, JobState
from services.logs.tail import last_lines
from tests.helpers import wait_for
from tui.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_a_local_job_sees_a_containers_environment_not_the_callers_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVHAI_TOKEN", "ovhai-secret-token")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-key")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_example")
    platform = LocalJobPlatform()
    job = platform.run(JobSpec(image="local/tools", gpu=0, command=("env",), env=(("GREETING", "bonjour"),)))
    assert wait_for(platform, job.id, {JobState.DONE, JobState.FAILED}) is JobState.DONE
    seen = dict(line.split("] ", 1)[1].split("=", 1) for line in platform.logs(job.id) if "[job] " in line and "=" in line)
    log = (platform.root / job.id / "log.txt").read_text()
    for secret in ("ovhai-secret-token", "aws-secret-key", "AKIAEXAMPLE", "ghp_example"):
        assert secret not in log
    assert seen["GREETING"] == "bonjour" and seen["HOME"] == str(platform.root / job.id / "workspace")
    assert set(seen) <= {"GREETING", "HOME", "PATH", "LANG", "LANGUAGE", "TZ", "PWD", "SHLVL", "_"} | {name for name in seen if name.startswith("LC_")}


def test_a_local_jobs_files_are_its_owners_alone() -> None:
    platform = LocalJobPlatform()
    job = platform.run(JobSpec(image="local/tools", gpu=0, command=("true",)))
    assert wait_for(platform, job.id, {JobState.DONE, JobState.FAILED}) is JobState.DONE
    job_dir = platform.root / job.id
    assert stat.S_IMODE(platform.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(job_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((job_dir / "workspace").stat().st_mode) == 0o700
    for name in ("log.txt", "job.json", "supervisor.err", "supervisor.pid"):
        assert stat.S_IMODE((job_dir / name).stat().st_mode) == 0o600, name


def test_last_lines_reads_the_tail_from_the_end(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    lines = [f"line {n} " + "x" * (n % 300) for n in range(20_000)]
    log.write_text("\n".join(lines) + "\n")
    assert last_lines(log, 5) == lines[-5:]
    assert last_lines(log, 1) == lines[-1:]
    assert last_lines(log, 30_000) == lines
    log.write_text("a\nb\nno newline at the end")
    assert last_lines(log, 2) == ["b", "no newline at the end"]
    log.write_bytes(b"")
    assert last_lines(log, 3) == []


def test_job_logs_tail_is_bounded_and_checked(capsys: pytest.CaptureFixture[str]) -> None:
    platform = LocalJobPlatform()
    job = platform.run(JobSpec(image="local/tools", gpu=0, command=("seq", "1", "50000")))
    assert wait_for(platform, job.id, {JobState.DONE, JobState.FAILED}) is JobState.DONE
    out = io.StringIO()
    assert main(["job", "logs", job.id, "--tail", "3"], env={}, out=out) == 0
    assert [line.rsplit(" ", 1)[1] for line in out.getvalue().splitlines()] == ["49998", "49999", "50000"]
    out = io.StringIO()
    assert main(["job", "logs", job.id, "--tail", "2", "--from", "job"], env={}, out=out) == 0
    assert [line.rsplit(" ", 1)[1] for line in out.getvalue().splitlines()] == ["49999", "50000"]
    assert main(["job", "logs", job.id, "--tail", "-3"], env={}, out=io.StringIO()) == 1
    assert "--tail -3: give a number of lines, 0 or more" in capsys.readouterr().err


def test_piping_into_head_ends_quietly(tmp_path: Path) -> None:
    platform = LocalJobPlatform()
    job = platform.run(JobSpec(image="local/tools", gpu=0, command=("seq", "1", "200000")))
    assert wait_for(platform, job.id, {JobState.DONE, JobState.FAILED}) is JobState.DONE
    pipeline = subprocess.run(
        f"{sys.executable} -m tui job logs {job.id} | head -n 2", shell=True, cwd=ROOT, capture_output=True, text=True, env={**os.environ}, timeout=60,
    )  # fmt: skip
    assert len(pipeline.stdout.splitlines()) == 2
    assert pipeline.stderr == "", pipeline.stderr


def add_profile(name: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tui", "profile", "add", name, "--region", "GRA"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_ten_parallel_profile_adds_keep_ten_profiles() -> None:
    env = {**os.environ}
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda n: add_profile(f"p{n}", env), range(10)))
    assert all(result.returncode == 0 and "saved" in result.stdout for result in results), [r.stderr for r in results]
    assert sorted(load_config().profiles) == ["local", *sorted(f"p{n}" for n in range(10))]


def test_the_built_in_local_profile_cannot_be_redefined(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "triton-deck" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[profiles.local]\nkind = "ovhcloud"\nregion = "GRA"\n')
    assert main(["profile", "list"], env={}, out=io.StringIO()) == 1
    assert "profiles.local is the built-in local profile" in capsys.readouterr().err
    config.write_text('[profiles.local]\nkind = "local"\n')  # what triton-deck itself writes
    assert main(["profile", "list"], env={}, out=io.StringIO()) == 0


@pytest.mark.parametrize("address", ["", " ", "http://x", "a/b", "host:port", "ho st"])
def test_registry_add_refuses_what_is_not_an_address(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["registry", "add", address], env={}, out=io.StringIO()) == 1
    assert "is not a registry address" in capsys.readouterr().err
    assert load_config().registries == {}


def test_parallel_image_history_writers_lose_nothing() -> None:
    from datetime import UTC, datetime

    from services.images.history import ImageHistory

    history = ImageHistory("local")
    at = datetime(2026, 12, 1, tzinfo=UTC)
    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(lambda n: history.record("build", f"local/image:{n}", f"sha256:{n}", at), range(10)))
    assert sorted(entry.reference for entry in history.entries()) == sorted(f"local/image:{n}" for n in range(10))


PEAK_RSS = """
import resource, runpy, sys
sys.argv = ["triton-deck", *sys.argv[1:]]
try:
    runpy.run_module("tui", run_name="__main__")
except SystemExit:
    pass
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, file=sys.stderr)
"""


def peak_rss_mb(*argv: str) -> int:
    """Peak RSS of `triton-deck ARGV` in its own process, its output thrown away."""
    run = subprocess.run([sys.executable, "-c", PEAK_RSS, *argv], cwd=ROOT, env={**os.environ}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True, timeout=120)
    return int(run.stderr.strip().splitlines()[-1])


def test_job_logs_of_a_70mb_log_stay_in_bounded_memory() -> None:
    platform = LocalJobPlatform()
    job = platform.run(JobSpec(image="local/tools", gpu=0, command=("true",)))
    assert wait_for(platform, job.id, {JobState.DONE, JobState.FAILED}) is JobState.DONE
    line = "2026-12-01T08:00:00Z [job] " + "x" * 70 + "\n"
    with (platform.root / job.id / "log.txt").open("a") as log:
        for _ in range(70 * 1024 * 1024 // len(line)):
            log.write(line)
    baseline = peak_rss_mb("job", "list")
    assert peak_rss_mb("job", "logs", job.id, "--tail", "5") - baseline < 20
    assert peak_rss_mb("job", "logs", job.id) - baseline < 20, "the whole log streams through"
