"""Regenerate the committed screenshots in `screenshots/` from the real app.

The app runs headless on the real local profile (nothing faked), with throw-away XDG
directories so the shots do not depend on whoever runs this. A small model repository
is written and really uploaded to `my-models@LOCAL` first, as the tutorial's first step;
then the demo repository goes to `demo-models@LOCAL` and a real server job serves it for
the jobs and inference shots.

    python3 -m uv run python scripts/screenshots.py
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

from services.cancel import CancelToken
from services.config import RegistryEntry, load_config, save_config
from services.demo import MODEL_REPOSITORY
from services.errors import UserError
from services.inference.protocol import Endpoint
from services.inference.triton import TritonInferenceClient
from services.jobs.local import LocalJobPlatform
from services.jobs.protocol import JobSpec, JobState, VolumeSpec
from services.storage.local import LocalObjectStore
from services.storage.planning import plan_upload
from services.storage.protocol import BucketRef, UploadOptions
from tui.app import make_app

OUT = Path(__file__).resolve().parent.parent / "screenshots"
SHOTS = {
    "main": (),
    "bucket-browser": ("enter", "t", "down", "enter"),
    "upload-dialog": ("enter", "u"),
    "images-dockerfile": ("2",),
    "help": ("question_mark",),
    "profiles": ("p",),
}
SERVED_SHOTS = {
    "jobs": ("3",),
    "inference-classified": ("4", "c"),
    "deploy": ("0", "r"),  # the whole demo, run for real: its own server job, then the top-3 on screen
}
# On a private dockerd and registry (skipped, saying so, where they cannot run): the tutorial's
# Dockerfile on a local busybox base, built from the seeded directory, then pushed.
ENGINE_SHOTS = {
    "image-build": ("2", "f", *"local/busybox:1", "enter", "b", "enter"),
    "image-push": ("2", "f", *"local/busybox:1", "enter", "P", "enter"),
}
SIMPLE_CONFIG = """name: "simple"
backend: "python"
max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_INT32 dims: [ 16 ] }, { name: "INPUT1" data_type: TYPE_INT32 dims: [ 16 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 16 ] }, { name: "OUTPUT1" data_type: TYPE_INT32 dims: [ 16 ] } ]
"""


def seed(workdir: Path) -> None:
    """Write a tiny repository and upload it for real, with the tutorial's prefix rule."""
    model = workdir / "model_repository" / "simple"
    (model / "1").mkdir(parents=True)
    (model / "config.pbtxt").write_text(SIMPLE_CONFIG)
    (model / "1" / "model.py").write_text("class TritonPythonModel:\n    pass\n")
    os.chdir(workdir)
    store = LocalObjectStore()
    bucket = BucketRef("my-models", "LOCAL")
    store.create_bucket(bucket)
    items = plan_upload(["model_repository/"], remove_prefix="model_repository/")
    assert store.upload(bucket, items, UploadOptions(), lambda _progress: None, CancelToken()).ok


async def shoot(name: str, keys: tuple[str, ...], size: tuple[int, int]) -> Path:
    app = make_app("local")
    async with app.run_test(size=size) as pilot:
        await app.workers.wait_for_complete()
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        return Path(app.save_screenshot(filename=f"{name}.svg", path=str(OUT)))


def serve_demo() -> str:
    """Upload the demo repository and start the tutorial's server job; wait until Triton is ready."""
    store = LocalObjectStore()
    bucket = BucketRef("demo-models", "LOCAL")
    store.create_bucket(bucket)
    items = plan_upload([str(MODEL_REPOSITORY) + "/"], remove_prefix=str(MODEL_REPOSITORY).lstrip("/") + "/")
    assert store.upload(bucket, items, UploadOptions(), lambda _progress: None, CancelToken()).ok
    platform = LocalJobPlatform()
    spec = JobSpec(
        image="local/tritonserver", name="triton-demo", command=("bash", "-c", "tritonserver --model-repository=/workspace/models"),
        unsecure_http=True, volumes=(VolumeSpec("demo-models", "LOCAL", "/workspace/models", "RO"),),
    )  # fmt: skip
    job = platform.run(spec)
    deadline = time.monotonic() + 120
    while True:
        current = platform.get(job.id)
        if current.state is JobState.RUNNING and current.url:
            try:
                if TritonInferenceClient(Endpoint(current.url)).health().ready:
                    return job.id
            except UserError:
                pass
        if current.state.is_terminal or time.monotonic() > deadline:
            raise SystemExit(f"the demo server job did not become ready: {current.state.value} {current.info_message or ''}")
        time.sleep(0.5)


async def main() -> None:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for variable in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
            os.environ[variable] = scratch
        seed(Path(scratch))
        for name, keys in SHOTS.items():
            print(await shoot(name, keys, (100, 30)))
        serve_demo()
        try:
            for name, keys in SERVED_SHOTS.items():
                print(await shoot(name, keys, (120, 40)))
        finally:
            for job in LocalJobPlatform().list():
                LocalJobPlatform().delete(job.id, force=True)
        await engine_shots()


async def engine_shots() -> None:
    from tests.container_engine import import_base_image, start_dockerd, start_registry

    try:
        engine = start_dockerd()
    except BaseException as error:  # pytest.skip's exception included: the reason is printed
        print(f"image shots skipped: {error}")
        return
    registry = start_registry()
    try:
        import_base_image(engine)
        os.environ["DOCKER_HOST"] = engine.base_url
        save_config(load_config().with_registry(RegistryEntry(registry.address)))
        for name, keys in ENGINE_SHOTS.items():
            print(await shoot(name, keys, (120, 40)))
    finally:
        registry.stop()
        engine.stop()


if __name__ == "__main__":
    asyncio.run(main())
