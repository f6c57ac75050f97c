"""The ImageBuilder contract: build, tag, push, pull and their failures, the same on the fake
and on the docker SDK against a real dockerd and registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.cancel import CancelToken
from services.errors import UserError
from services.images.docker_builder import DockerImageBuilder
from services.images.dockerfile import DockerfileSpec, render_dockerfile
from services.images.engine import EngineAddress
from services.images.fake import FakeImageBuilder
from services.images.protocol import BuildDone, BuildStep, ImageBuilder, LayerProgress, PullDone, PushDone
from tests.container_engine import Registry, import_base_image, start_dockerd, start_registry


@pytest.fixture(scope="module")
def engine_and_registry() -> Iterator[tuple[str, Registry]]:
    dockerd = start_dockerd()
    registry = start_registry()
    try:
        import_base_image(dockerd)
        yield dockerd.base_url, registry
    finally:
        registry.stop()
        dockerd.stop()


@pytest.fixture(params=["fake", "docker"])
def setup(request: pytest.FixtureRequest) -> Iterator[tuple[ImageBuilder, str]]:
    """A builder and the registry address images go to."""
    if request.param == "fake":
        yield FakeImageBuilder(), "registry.example:5000"
        return
    base_url, registry = request.getfixturevalue("engine_and_registry")
    builder = DockerImageBuilder(EngineAddress(base_url, "test"))
    yield builder, registry.address
    builder.close()


def test_build_tag_push_pull(setup: tuple[ImageBuilder, str], tmp_path: Path) -> None:
    builder, registry = setup
    (tmp_path / "models").mkdir()
    dockerfile = render_dockerfile(DockerfileSpec(base="local/busybox:1", extra_lines=("RUN echo contract > /contract",)))
    events = list(builder.build(tmp_path, "local/contract:1", "linux/amd64", dockerfile, CancelToken()))
    steps = [event for event in events if isinstance(event, BuildStep)]
    assert [step.number for step in steps] == list(range(1, len(steps) + 1)) and steps[-1].total == len(steps)
    done = events[-1]
    assert isinstance(done, BuildDone) and done.image_id.startswith("sha256:") and "local/contract:1" in done.tags
    target = f"{registry}/contract/server:1"
    builder.tag("local/contract:1", target)
    pushed = list(builder.push(target, CancelToken()))
    assert all(isinstance(event, LayerProgress) for event in pushed[:-1]) and pushed[:-1]
    assert isinstance(pushed[-1], PushDone) and pushed[-1].digest.startswith("sha256:") and pushed[-1].reference == target
    pulled = list(builder.pull(target, "linux/amd64", CancelToken()))
    assert isinstance(pulled[-1], PullDone) and pulled[-1].reference == target


def test_tagging_a_missing_image_is_one_clear_error(setup: tuple[ImageBuilder, str]) -> None:
    builder, registry = setup
    with pytest.raises(UserError, match="not found"):
        builder.tag("local/never-built:1", f"{registry}/x:1")
