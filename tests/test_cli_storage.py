"""The tutorial's bucket commands through the CLI, on the local profile and against a real S3 server."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from tui.cli import main

DENSENET_CONFIG = (Path(__file__).parent / "data" / "densenet_config.pbtxt").read_text()


def run(argv: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, env=env or {}, out=out)
    return code, out.getvalue()


def tutorial_repository(root: Path) -> None:
    (root / "model_repository" / "densenet_onnx" / "1").mkdir(parents=True)
    (root / "model_repository" / "densenet_onnx" / "config.pbtxt").write_text(DENSENET_CONFIG)
    (root / "model_repository" / "densenet_onnx" / "densenet_labels.txt").write_text("COFFEE MUG\n" * 1000)
    (root / "model_repository" / "densenet_onnx" / "1" / "model.onnx").write_bytes(b"\x08" * 32_715_571)


def test_tutorial_upload_then_list_on_the_local_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    tutorial_repository(tmp_path)
    code, out = run(["bucket", "object", "upload", "--create", "my-models@LOCAL", "model_repository/", "--remove-prefix", "model_repository/"])
    assert code == 0
    assert out.splitlines()[0] == "created my-models@LOCAL"
    assert out.splitlines()[1].startswith("uploaded 3, unchanged or kept 0, failed 0")
    assert "uploaded 3/3" in capsys.readouterr().err, "plain progress lines when not on a terminal"
    code, out = run(["bucket", "object", "list", "my-models@LOCAL"])
    lines = out.splitlines()
    assert lines[0] == "DATE                     BYTES NAME ETAG"
    assert [line.split()[2:4] for line in lines[1:]] == [
        ["31.2", "MiB"],
        ["388", "B"],
        ["10.7", "KiB"],
    ]
    assert [line.split()[4] for line in lines[1:]] == [
        "densenet_onnx/1/model.onnx",
        "densenet_onnx/config.pbtxt",
        "densenet_onnx/densenet_labels.txt",
    ]
    code, out = run(["bucket", "object", "upload", "--create", "my-models@LOCAL", "model_repository/", "-r", "model_repository/"])
    assert out.startswith("uploaded 0, unchanged or kept 3")
    piped = capsys.readouterr().err.splitlines()
    assert len(piped) == 3 and all(line.startswith("kept ") for line in piped), "a file kept unchanged is not said to upload"


def test_download_and_delete_with_confirmation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    tutorial_repository(tmp_path)
    run(["bucket", "object", "upload", "--create", "my-models@LOCAL", "model_repository/", "-r", "model_repository/"])
    code, out = run(["bucket", "object", "download", "my-models@LOCAL", "-p", "densenet_onnx/", "-o", "back", "-r", "densenet_onnx/"])
    assert code == 0 and out.startswith("downloaded 3")
    assert (tmp_path / "back" / "config.pbtxt").read_text() == DENSENET_CONFIG
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert run(["bucket", "object", "delete", "my-models@LOCAL", "--all"])[0] == 1
    assert "needs confirmation: add -y" in capsys.readouterr().err
    assert run(["bucket", "delete", "my-models@LOCAL", "-y"])[0] == 1
    assert "triton-deck: bucket my-models@LOCAL still holds objects: delete them first" in capsys.readouterr().err
    code, out = run(["bucket", "object", "delete", "my-models@LOCAL", "--all", "-y"])
    assert code == 0 and out.startswith("deleted 3")
    assert run(["bucket", "object", "list", "my-models@LOCAL", "-o", "json"])[1].strip() == "[]"
    assert run(["bucket", "delete", "my-models@LOCAL"])[0] == 1, "asks first"
    assert run(["bucket", "delete", "my-models@LOCAL", "-y"]) == (0, "deleted my-models@LOCAL\n")
    assert "my-models" not in run(["bucket", "list"])[1]


def test_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["bucket", "object", "list", "my-models"])[0] == 1
    assert run(["bucket", "object", "list", "my-models@LOCAL"])[0] == 1
    assert run(["bucket", "object", "upload", "my-models@LOCAL", "missing/"])[0] == 1
    assert run(["bucket", "object", "upload", "my-models@GRA", "."])[0] == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "triton-deck: bucket 'my-models' needs a region: write it as name@REGION, e.g. my-models@GRA",
        "triton-deck: bucket my-models@LOCAL does not exist: create it with `triton-deck bucket create my-models@LOCAL`",
        "triton-deck: missing/: no such file or directory; check the path to upload",
        "triton-deck: local buckets live in region LOCAL: write my-models@LOCAL",
    ]


def test_the_same_commands_against_an_s3_server(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tutorial_repository(tmp_path)
    assert run(["profile", "add", "s3test", "--region", "GRA", "--s3-endpoint", moto_endpoint, "--s3-region", "us-east-1"])[0] == 0
    env = {"AWS_ACCESS_KEY_ID": "test-key", "AWS_SECRET_ACCESS_KEY": "test-secret-value", "TRITON_DECK_PROFILE": "s3test"}
    code, out = run(["bucket", "object", "upload", "--create", "cli-models@GRA", "model_repository/", "-r", "model_repository/", "-w", "4"], env)
    assert code == 0 and "uploaded 3" in out
    code, out = run(["bucket", "object", "list", "cli-models@GRA", "-o", "json"], env)
    listed = json.loads(out)
    assert [entry["key"] for entry in listed] == ["densenet_onnx/1/model.onnx", "densenet_onnx/config.pbtxt", "densenet_onnx/densenet_labels.txt"]
    assert listed[0]["size"] == 32_715_571 and listed[0]["etag"].endswith("-4"), "multipart above the threshold, 8 MiB parts"
    assert set(listed[0]) == {"key", "size", "lastModified", "etag", "storageClass"}, "the API's camelCase, as every -o json"
    code, out = run(["bucket", "list", "-o", "json"], env)
    buckets = {entry["name"]: entry for entry in json.loads(out)}  # the server is shared: other tests' buckets are there too
    assert buckets["cli-models"]["region"] == "GRA" and buckets["cli-models"]["created"]
    assert "test-secret-value" not in out


def _kill_midway(argv: list[str], env: dict[str, str]) -> None:
    """Start the CLI upload as a real process and SIGKILL it once a few files are through."""
    import os
    import signal
    import subprocess

    process = subprocess.Popen([sys.executable, "-m", "tui", *argv], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env={**os.environ, **env})
    assert process.stderr is not None
    for line in process.stderr:
        if line.startswith("uploaded 5/"):
            os.kill(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "the upload was killed before it finished"


@pytest.mark.parametrize("where", ["local", "s3"])
def test_an_upload_killed_midway_leaves_no_partial_object_and_a_rerun_completes(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    import hashlib

    from services.backends import open_object_store
    from services.config import load_config
    from services.storage.listing import iter_objects
    from services.storage.protocol import BucketRef

    monkeypatch.chdir(tmp_path)
    source = tmp_path / "payload"
    source.mkdir()
    contents = {f"file-{n:03d}.bin": bytes([n % 251]) * (3 * 1024 * 1024) for n in range(40)}
    for name, data in contents.items():
        (source / name).write_bytes(data)
    env: dict[str, str] = {}
    bucket = "killed@LOCAL"
    if where == "s3":
        endpoint = request.getfixturevalue("moto_endpoint")
        run(["profile", "add", "killtest", "--region", "GRA", "--s3-endpoint", endpoint, "--s3-region", "us-east-1"])
        env = {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "kill-test-secret", "TRITON_DECK_PROFILE": "killtest"}
        bucket = "killed@GRA"
    argv = ["bucket", "object", "upload", "--create", bucket, "payload/", "-r", "payload/", "-w", "2"]
    _kill_midway(argv, env)

    profile = load_config().profile(env.get("TRITON_DECK_PROFILE", "local"))
    store = open_object_store(profile, env)
    ref = BucketRef.parse(bucket)
    present = list(iter_objects(store, ref))
    assert 0 < len(present) < len(contents), "killed midway"
    for info in present:
        assert info.size == len(contents[info.key]) and info.etag == hashlib.md5(contents[info.key]).hexdigest(), "no partial object"

    code, out = run(argv, env)
    assert code == 0
    assert out.startswith(f"uploaded {len(contents) - len(present)}, unchanged or kept {len(present)}, failed 0")
    assert sorted(info.key for info in iter_objects(store, ref)) == sorted(contents)


def test_s3_keys_from_stdin_are_stored_masked_and_used(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`--s3-access-key K --s3-secret-stdin`: once refused because the pair was checked before stdin was read."""
    import stat

    from services import locations
    from services.config import load_config, resolve_s3_credentials

    secret = "s3-secret-from-a-pipe-0417"
    monkeypatch.setattr(sys, "stdin", io.StringIO(secret + "\n"))
    argv = ["profile", "add", "keys", "--region", "GRA", "--s3-endpoint", moto_endpoint, "--s3-region", "us-east-1", "--s3-access-key", "AKIA0417", "--s3-secret-stdin"]
    assert run(argv)[0] == 0
    path = locations.config_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and secret in path.read_text()
    code, out = run(["profile", "show", "keys", "-o", "json"])
    assert code == 0 and secret not in out and "AKIA0417" not in out
    credentials = resolve_s3_credentials(load_config().profile("keys"), {})
    assert credentials is not None and credentials.source == "config file"
    assert (credentials.access_key.reveal(), credentials.secret_key.reveal()) == ("AKIA0417", secret)
    assert run(["bucket", "create", "stdin-keys@GRA", "--profile", "keys"])[0] == 0
    code, out = run(["bucket", "list", "--profile", "keys", "-o", "json"])
    assert code == 0 and "stdin-keys" in out
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, _ = run(["profile", "add", "half", "--s3-access-key", "AKIA0417"])
    assert code == 1 and "S3 keys come in pairs" in capsys.readouterr().err
    assert secret not in capsys.readouterr().err
