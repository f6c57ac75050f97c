"""The in-memory fakes keep the semantics the UI relies on, and satisfy their protocols."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.cancel import CancelToken
from services.config import local_profile
from services.errors import UserError
from services.fake_set import (
    FROZEN_NOW,
    fake_services,
    seeded_platform,
    seeded_store,
    server_spec,
)
from services.images.fake import FakeImageBuilder
from services.images.protocol import (
    BuildDone,
    BuildStep,
    ImageBuilder,
    LayerProgress,
    PushDone,
)
from services.inference.fake import FakeInferenceClient
from services.inference.protocol import (
    Classification,
    ClassifyRequest,
    Endpoint,
    InferenceClient,
    image_files,
)
from services.jobs.protocol import JobPlatform, JobState
from services.storage.listing import iter_objects
from services.storage.protocol import (
    BucketRef,
    ObjectInfo,
    ObjectStore,
    TransferProgress,
    UploadItem,
    UploadOptions,
)
from services.streams import batched

MODELS = BucketRef("my-models", "GRA")


def test_fakes_implement_their_protocols() -> None:
    services = fake_services(local_profile())
    assert isinstance(services.object_store, ObjectStore)
    assert isinstance(services.job_platform, JobPlatform)
    assert isinstance(services.image_builder, ImageBuilder)
    assert services.inference is not None
    assert isinstance(services.inference(Endpoint("localhost:8000")), InferenceClient)


def test_listing_folds_prefixes_and_pages() -> None:
    store = seeded_store("GRA")
    top = store.list_page(MODELS)
    assert top.prefixes == ("efficientnet_lite0/", "simple/") and top.objects == ()
    inner = store.list_page(MODELS, prefix="efficientnet_lite0/")
    assert inner.prefixes == ("efficientnet_lite0/1/",)
    assert [o.key for o in inner.objects] == ["efficientnet_lite0/config.pbtxt", "efficientnet_lite0/labels.txt"]
    first = store.list_page(MODELS, delimiter=None, page_size=4)
    assert len(first.objects) == 4 and first.next_token
    assert [o.key for o in iter_objects(store, MODELS, page_size=4)] == sorted(
        o.key for o in iter_objects(store, MODELS, page_size=100)
    )
    assert len(list(iter_objects(store, MODELS))) == 6


def test_upload_reports_progress_skips_unchanged_and_cancels(tmp_path: Path) -> None:
    store = seeded_store("GRA")
    big = tmp_path / "model.onnx"
    big.write_bytes(b"x" * 200_000)
    small = tmp_path / "config.pbtxt"
    small.write_bytes(b"name: 'm'\n")
    items = [UploadItem(big, "m/1/model.onnx", 200_000), UploadItem(small, "m/config.pbtxt", 10)]
    seen: list[TransferProgress] = []
    result = store.upload(MODELS, items, UploadOptions(), seen.append, CancelToken())
    assert result.done == ("m/1/model.onnx", "m/config.pbtxt") and result.ok
    assert seen[-1].bytes_done == seen[-1].bytes_total == 200_010
    # chunk by chunk (the engine's closing event for the file, with no per-file bytes, left out)
    assert [p.file_done for p in seen if p.key == "m/1/model.onnx" and p.file_total] == [65536, 131072, 196608, 200000]
    again = store.upload(MODELS, items, UploadOptions(), lambda _p: None, CancelToken())
    assert again.skipped == ("m/1/model.onnx", "m/config.pbtxt") and again.done == ()
    cancel = CancelToken()
    cancel.cancel()
    stopped = store.upload(MODELS, [UploadItem(big, "n/model.onnx", 200_000)], UploadOptions(), lambda _p: None, cancel)
    assert stopped.failed == (("n/model.onnx", "cancelled"),)
    assert "n/model.onnx" not in [o.key for o in iter_objects(store, MODELS)], "no partial object"


def test_download_and_delete(tmp_path: Path) -> None:
    store = seeded_store("GRA")
    wanted = [store.head(MODELS, "simple/config.pbtxt"), ObjectInfo("missing", 1, FROZEN_NOW, "")]
    assert store.head(MODELS, "missing") is None
    result = store.download(MODELS, wanted, tmp_path, lambda _p: None, CancelToken())  # type: ignore[arg-type]
    assert result.done == ("simple/config.pbtxt",) and result.failed == (("missing", "no such object"),)
    assert (tmp_path / "simple" / "config.pbtxt").read_bytes() == store.get(MODELS, "simple/config.pbtxt")
    deleted = store.delete(MODELS, ["simple/config.pbtxt"], lambda _p: None, CancelToken())
    assert deleted.done == ("simple/config.pbtxt",)
    with pytest.raises(UserError, match="bucket nope@GRA does not exist"):
        store.list_page(BucketRef("nope", "GRA"))


def test_jobs_advance_one_state_per_tick_and_stop() -> None:
    platform = seeded_platform("GRA")
    job = platform.run(server_spec())
    states = [platform.get(job.id).state]
    for _ in range(4):
        platform.tick()
        states.append(platform.get(job.id).state)
    assert states == [JobState.QUEUED, JobState.INITIALIZING, JobState.PENDING, JobState.RUNNING, JobState.RUNNING]
    assert [change.state for change in platform.get(job.id).history][-1] is JobState.RUNNING
    platform.stop(job.id)
    for _ in range(2):
        platform.tick()
    assert platform.get(job.id).state is JobState.INTERRUPTED
    with pytest.raises(UserError, match="already INTERRUPTED"):
        platform.stop(job.id)
    platform.delete(job.id)
    with pytest.raises(UserError, match="not found"):
        platform.get(job.id)


def test_deleting_a_running_job_needs_force() -> None:
    platform = seeded_platform("GRA")
    running = platform.list(states=(JobState.RUNNING,))[0]
    with pytest.raises(UserError, match="stop it first"):
        platform.delete(running.id)
    platform.delete(running.id, force=True)
    assert running.id not in [job.id for job in platform.list()]


def test_follow_streams_new_lines_and_ends_with_the_job() -> None:
    platform = seeded_platform("GRA")
    job = platform.run(server_spec())
    cancel = CancelToken()
    received: list[str] = []

    def follow() -> None:
        received.extend(platform.follow_logs(job.id, cancel))

    reader = threading.Thread(target=follow)
    reader.start()
    for _ in range(3):
        platform.tick()
    platform.append_log(job.id, "last line")
    platform.stop(job.id)
    for _ in range(2):
        platform.tick()
    reader.join(timeout=5)
    assert not reader.is_alive(), "follow ends once the job is terminal"
    assert received[-1] == "last line" and len(received) == 9
    assert received == platform.logs(job.id), "every line once, in order"


def test_build_and_push_emit_typed_events() -> None:
    builder = FakeImageBuilder()
    events = list(builder.build(Path("."), "tritonserver:23.03", "linux/amd64", None, CancelToken()))
    steps = [e for e in events if isinstance(e, BuildStep)]
    assert [s.number for s in steps] == [1, 2, 3, 4, 5] and steps[0].total == 5 and steps[0].cached
    assert isinstance(events[-1], BuildDone)
    builder.tag("tritonserver:23.03", "registry.example/tritonserver:23.03")
    pushed = list(builder.push("registry.example/tritonserver:23.03", CancelToken()))
    assert {e.status for e in pushed if isinstance(e, LayerProgress)} == {"Preparing", "Pushing", "Pushed"}
    assert isinstance(pushed[-1], PushDone) and pushed[-1].digest.startswith("sha256:")


def test_classify_prints_image_client_lines(tmp_path: Path) -> None:
    (tmp_path / "coffee.png").write_bytes(b"")
    (tmp_path / "notes.txt").write_bytes(b"")
    client = FakeInferenceClient(Endpoint("localhost:8000"), {"coffee.png": ("10.410741:967:espresso", "8.048911:968:tea cup")})
    results = list(client.classify(ClassifyRequest("efficientnet_lite0", tuple(image_files([tmp_path])), top_k=1)))
    assert [c.image_client_line() for c in results[0].classes] == ["    10.410741 (967) = espresso"]
    assert results[1].error == "not an image file PIL can read: pass JPEG, PNG or another picture" and results[1].request == 1
    assert Classification.parse("3.5:7").label is None
    assert Classification.parse("1.0:2:a:b").label == "a:b"


def test_batched_groups_a_firehose_and_flushes_a_trickle() -> None:
    cancel = CancelToken()
    assert sum(len(b) for b in batched(iter(range(10_000)), 0.05, cancel)) == 10_000

    release = threading.Event()

    def trickle() -> Iterator[str]:
        yield "first"
        release.wait(30)  # the source waits until the test has seen the first batch
        yield "second"

    batches = batched(trickle(), 0.05, cancel)
    assert next(batches) == ["first"], "a waiting source does not hold back what already arrived"
    release.set()
    assert next(batches) == ["second"]


def test_batched_reraises_the_source_error_after_its_items() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise UserError("stream dropped")

    batches = batched(failing(), 0.05, CancelToken())
    assert next(batches) == [1]
    with pytest.raises(UserError, match="stream dropped"):
        next(batches)


def test_bucket_names_parse_like_ovhai() -> None:
    assert BucketRef.parse("my-models@gra") == BucketRef("my-models", "GRA")
    assert str(BucketRef.parse("a.b@S3GRA")) == "a.b@S3GRA"
    for bad in ("my-models", "@GRA", "my-models@", "my/models@GRA"):
        with pytest.raises(UserError):
            BucketRef.parse(bad)


def test_frozen_clock_is_the_fake_worlds_now() -> None:
    assert seeded_platform("GRA").now == FROZEN_NOW


def test_a_service_set_says_which_capabilities_it_has() -> None:
    from services.backends import Capability, ServiceSet
    from services.config import local_profile
    from services.fake_set import FROZEN_NOW
    from services.storage.fake import InMemoryObjectStore

    services = ServiceSet(local_profile(), object_store=InMemoryObjectStore(FROZEN_NOW))
    assert [capability for capability in Capability if services.has(capability)] == [Capability.STORAGE]
