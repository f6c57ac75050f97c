"""A big upload SIGKILLed midway resumes: the rerun sends only the missing parts and leaves no
incomplete multipart upload, on moto's server and on SeaweedFS (which checks signatures)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.seaweed import seaweed_s3
from services.backends import open_object_store
from services.cancel import CancelToken
from services.config import load_config
from services.storage.etag import multipart_etag
from services.storage.protocol import BucketRef, UploadItem, UploadOptions
from services.storage.s3 import S3ObjectStore
from tui.cli import main

MIB = 1024 * 1024
PART = 8 * MIB  # the profile's default part size
KEY, SECRET = "resume-access", "resume-secret-key"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module", params=["moto", "seaweedfs"])
def endpoint(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "moto":
        yield request.getfixturevalue("moto_endpoint")
        return
    with seaweed_s3(tmp_path_factory.mktemp("weed"), credentials=(KEY, SECRET)) as url:
        yield url


@pytest.fixture
def profile_env(endpoint: str) -> dict[str, str]:
    assert main(["profile", "add", "resume", "--region", "GRA", "--s3-endpoint", endpoint, "--s3-region", "us-east-1"], env={}, out=io.StringIO()) == 0
    return {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET, "TRITON_DECK_PROFILE": "resume"}


def store_for(env: dict[str, str]) -> S3ObjectStore:
    store = open_object_store(load_config().profile("resume"), env)
    assert isinstance(store, S3ObjectStore)
    return store


def in_progress(store: S3ObjectStore, bucket: BucketRef) -> list[tuple[str, int]]:
    """(key, parts stored) of every multipart upload still open in the bucket."""
    client = store._client(bucket.region)
    uploads = client.list_multipart_uploads(Bucket=bucket.name).get("Uploads", [])
    return [(u["Key"], len(client.list_parts(Bucket=bucket.name, Key=u["Key"], UploadId=u["UploadId"]).get("Parts", []))) for u in uploads]


def kill_after_parts(argv: list[str], env: dict[str, str], store: S3ObjectStore, bucket: BucketRef, parts: int) -> None:
    """Run the CLI upload as a real process; SIGKILL it once `parts` parts are on the server."""
    process = subprocess.Popen([sys.executable, "-m", "tui", *argv], cwd=os.getcwd(), env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not any(count >= parts for _key, count in in_progress(store, bucket)):
            assert process.poll() is None, "the upload finished before it could be killed"
            assert time.monotonic() < deadline, "no parts arrived"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL


def big_file(path: Path, mib: int, seed: int) -> Path:
    block = bytes((seed + n) % 256 for n in range(256)) * (MIB // 256)
    with path.open("wb") as handle:
        for index in range(mib):
            handle.write(index.to_bytes(4, "big") + block[4:])
    return path


def killed_upload(env: dict[str, str], where: Path, bucket_name: str, mib: int, parts: int) -> tuple[Path, S3ObjectStore, BucketRef]:
    """`model.onnx` of `mib` MiB, its CLI upload (from `where`) SIGKILLed once `parts` parts are stored."""
    model = big_file(where / "model.onnx", mib, seed=mib)
    store = store_for(env)
    bucket = BucketRef(bucket_name, "GRA")
    store.create_bucket(bucket)
    kill_after_parts(["bucket", "object", "upload", str(bucket), "model.onnx", "-w", "1"], env, store, bucket, parts=parts)
    return model, store, bucket


def test_a_killed_200mb_upload_resumes_with_only_the_missing_parts(
    profile_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    monkeypatch.chdir(tmp_path)
    model, store, bucket = killed_upload(profile_env, tmp_path, f"resume-{abs(hash(endpoint)) % 10_000}", 200, parts=5)
    assert store.head(bucket, "model.onnx") is None, "no partial object"
    [(key, stored_at_kill)] = in_progress(store, bucket)
    total = -(-model.stat().st_size // PART)
    assert key == "model.onnx" and 5 <= stored_at_kill < total

    rerun = store_for(profile_env)
    result = rerun.upload(bucket, [UploadItem(model, "model.onnx", model.stat().st_size)], UploadOptions(workers=4), lambda _p: None, CancelToken())
    assert result.ok, result.failed
    assert rerun.parts_reused >= stored_at_kill and rerun.parts_sent == total - rerun.parts_reused, (rerun.parts_reused, rerun.parts_sent)
    info = rerun.head(bucket, "model.onnx")
    assert info is not None and info.size == model.stat().st_size and info.etag == multipart_etag(model, PART)
    assert in_progress(store, bucket) == [], "nothing incomplete is left"


def test_a_changed_file_aborts_the_stale_upload_and_starts_again(profile_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    monkeypatch.chdir(tmp_path)
    model, store, bucket = killed_upload(profile_env, tmp_path, f"stale-{abs(hash(endpoint)) % 10_000}", 48, parts=2)
    big_file(model, 40, seed=3)  # rebuilt meanwhile: the stored parts are someone else's bytes now
    rerun = store_for(profile_env)
    result = rerun.upload(bucket, [UploadItem(model, "model.onnx", model.stat().st_size)], UploadOptions(), lambda _p: None, CancelToken())
    assert result.ok and rerun.parts_reused == 0 and rerun.parts_sent == 5
    info = rerun.head(bucket, "model.onnx")
    assert info is not None and info.etag == multipart_etag(model, PART)
    assert in_progress(store, bucket) == [], "the stale upload was aborted"


def test_a_cancelled_upload_still_leaves_nothing(profile_env: dict[str, str], tmp_path: Path) -> None:
    model = big_file(tmp_path / "model.onnx", 40, seed=4)
    store = store_for(profile_env)
    bucket = BucketRef("cancelled", "GRA")
    store.create_bucket(bucket)
    cancel = CancelToken()

    def cancel_midway(update: object) -> None:
        if getattr(update, "bytes_done", 0) >= 2 * PART:
            cancel.cancel()

    result = store.upload(bucket, [UploadItem(model, "model.onnx", model.stat().st_size)], UploadOptions(workers=1), cancel_midway, cancel)  # type: ignore[arg-type]
    assert not result.ok and store.head(bucket, "model.onnx") is None
    assert in_progress(store, bucket) == []
    assert not list((Path(os.environ["XDG_DATA_HOME"]) / "triton-deck" / "uploads").glob("*.json")), "no journal left for a cancelled upload"
