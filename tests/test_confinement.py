"""Nothing outside a bucket or a job's workspace is ever read, listed, rewritten or removed.

Each test plants files next to the bucket (where `../` or a symlink would reach them) and
checks, byte for byte and by mtime, that they are untouched after the attempt.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from services.cancel import CancelToken
from services.confine import mount_target
from services.errors import UserError
from services.jobs.local import LocalJobPlatform
from services.jobs.protocol import JobSpec, JobState, VolumeSpec
from services.storage.listing import iter_objects
from services.storage.local import LocalObjectStore
from services.storage.protocol import BucketRef, UploadItem, UploadOptions
from tests.helpers import wait_for
from tui.cli import main

BUCKET = BucketRef("models", "LOCAL")


def nothing(_update: object) -> None:
    return None


@pytest.fixture
def outside(tmp_path: Path) -> dict[Path, tuple[bytes, int]]:
    """Files a `../` from the bucket would reach, with their bytes and mtimes."""
    victim = tmp_path / "data" / "victim"
    victim.mkdir(parents=True)
    files = {victim / "notes.txt": b"my notes\n", victim / "deep" / "key.pem": b"-----BEGIN-----\n"}
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return {path: (content, path.stat().st_mtime_ns) for path, content in files.items()}


def untouched(files: dict[Path, tuple[bytes, int]]) -> bool:
    return all(path.read_bytes() == content and path.stat().st_mtime_ns == mtime for path, (content, mtime) in files.items())


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(argv, env={}, out=out)
    return code, out.getvalue(), capsys.readouterr().err


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    """The default store (under XDG_DATA_HOME, next to `outside`), with one object."""
    store = LocalObjectStore()
    store.create_bucket(BUCKET)
    source = tmp_path / "model.onnx"
    source.write_bytes(b"onnx")
    assert store.upload(BUCKET, [UploadItem(source, "m/1/model.onnx", 4)], UploadOptions(), nothing, CancelToken()).ok
    return store


ESCAPES = ["../../victim/", "../../../data/victim/", "m/../../../victim/", "/etc/", "./m/"]


@pytest.mark.parametrize("prefix", ESCAPES)
def test_cli_list_download_delete_refuse_a_prefix_leading_out(
    prefix: str, store: LocalObjectStore, outside: dict[Path, tuple[bytes, int]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ["bucket", "object", "list", "-p", prefix, "models@LOCAL"],
        ["bucket", "object", "download", "models@LOCAL", "-p", prefix, "-o", str(tmp_path / "back")],
        ["bucket", "object", "delete", "models@LOCAL", "-p", prefix, "--yes"],
    ):
        code, out, err = cli(argv, capsys)
        assert code == 1, argv
        assert "notes.txt" not in out
        assert err.startswith(f"triton-deck: prefix '{prefix}' leads outside the bucket") and err.count("\n") == 1, err
    assert untouched(outside)
    assert not (tmp_path / "back").exists()
    assert [info.key for info in iter_objects(store, BUCKET)] == ["m/1/model.onnx"]


def test_symlinks_in_a_bucket_never_reach_outside(store: LocalObjectStore, outside: dict[Path, tuple[bytes, int]], tmp_path: Path) -> None:
    data = store.root / "models" / "data"
    notes = next(path for path in outside if path.name == "notes.txt")
    (data / "linked-file").symlink_to(notes)
    (data / "linked-dir").symlink_to(notes.parent, target_is_directory=True)
    (data / "m" / "inside").symlink_to(data / "m" / "1" / "model.onnx")
    keys = [info.key for info in iter_objects(store, BUCKET)]
    assert keys == ["m/1/model.onnx", "m/inside"], "a link to a file inside is an object; links out are not"
    for key in ("linked-file", "linked-dir/notes.txt", "linked-dir/deep/key.pem"):
        with pytest.raises(UserError, match=f"object key '{key}' resolves outside models@LOCAL"):
            store.head(BUCKET, key)
    with pytest.raises(UserError, match="prefix 'linked-dir/' leads outside the bucket"):
        store.list_page(BUCKET, prefix="linked-dir/")
    result = store.delete(BUCKET, ["linked-dir/notes.txt"], nothing, CancelToken())
    assert not result.done and "resolves outside" in result.failed[0][1]
    back = tmp_path / "back"
    result = store.download(BUCKET, list(iter_objects(store, BUCKET)), back, nothing, CancelToken())
    assert result.ok and sorted(p.name for p in back.rglob("*") if p.is_file()) == ["inside", "model.onnx"]
    assert untouched(outside)


def test_a_planted_link_in_meta_never_gets_a_sidecar_written_through_it(store: LocalObjectStore, outside: dict[Path, tuple[bytes, int]]) -> None:
    bucket_dir = store.root / "models"
    victim_dir = next(iter(outside)).parent
    (bucket_dir / "data" / "hand").mkdir()
    (bucket_dir / "data" / "hand" / "notes.txt").write_text("placed by hand")  # no sidecar yet: listing computes one
    (bucket_dir / "meta" / "hand").symlink_to(victim_dir, target_is_directory=True)
    with pytest.raises(UserError, match="outside models@LOCAL"):
        list(iter_objects(store, BUCKET, "hand/"))
    assert untouched(outside)


def test_an_upload_with_an_escaping_key_fails_that_file_alone(store: LocalObjectStore, tmp_path: Path, outside: dict[Path, tuple[bytes, int]]) -> None:
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.write_text("g")
    bad.write_text("b")
    items = [UploadItem(good, "../../victim/notes.txt", 1), UploadItem(bad, "ok/file", 1)]
    result = store.upload(BUCKET, items, UploadOptions(), nothing, CancelToken())
    assert result.done == ("ok/file",) and result.failed[0][0] == "../../victim/notes.txt"
    assert untouched(outside)


@pytest.mark.parametrize(
    ("mount", "expected"),
    [("/workspace/models", "models"), ("/workspace", ""), ("/data", "data"), ("/workspace/./a/b", "a/b"), ("//workspace//models/", "models")],
)
def test_mount_paths_are_normalised_inside_the_workspace(tmp_path: Path, mount: str, expected: str) -> None:
    assert mount_target(tmp_path / "ws", mount) == tmp_path / "ws" / expected if expected else tmp_path / "ws"


@pytest.mark.parametrize("mount", ["/workspace/../../..", "/", "//", "workspace/models", "/workspace/../outside", "/workspace/a/../b", ""])
def test_mount_paths_leaving_the_workspace_are_refused(tmp_path: Path, mount: str) -> None:
    with pytest.raises(UserError, match="mount path"):
        mount_target(tmp_path / "ws", mount)


def test_a_job_cannot_mount_or_sync_outside_its_workspace(store: LocalObjectStore, outside: dict[Path, tuple[bytes, int]]) -> None:
    platform = LocalJobPlatform()
    for volume in (
        VolumeSpec("models", "LOCAL", "/workspace/../../../../victim", "RW"),
        VolumeSpec("models", "LOCAL", "/workspace/models", "RO", prefix="../../victim/"),
    ):
        with pytest.raises(UserError):
            platform.run(JobSpec(image="local/tools", gpu=0, command=("true",), volumes=(volume,)))
    assert platform.list() == [], "refused before any job exists"
    assert untouched(outside)
    assert all(os.access(path, os.W_OK) for path in outside), "nothing was made read-only"


def test_a_job_symlinking_out_of_its_workspace_gets_no_sync_back(store: LocalObjectStore, outside: dict[Path, tuple[bytes, int]]) -> None:
    """A job that links its RW mount's directory to a host directory does not upload it at the end."""
    victim = next(iter(outside)).parent
    platform = LocalJobPlatform()
    spec = JobSpec(
        image="local/tools", gpu=0, command=("bash", "-c", f"rm -rf out && ln -s {victim} out"),
        volumes=(VolumeSpec("models", "LOCAL", "/workspace/out", "RW", prefix="results/"),),
    )  # fmt: skip
    job = platform.run(spec)
    assert wait_for(platform, job.id, {JobState.DONE, JobState.FAILED}) in {JobState.DONE, JobState.FAILED}
    assert [info.key for info in iter_objects(store, BUCKET, "results/")] == []
    assert untouched(outside)
