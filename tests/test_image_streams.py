"""The build and push stream parsers on streams recorded from dockerd 20.10 and podman 4.3
(as local-infra.md records them), engine discovery, and the push tally."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from services.errors import UserError
from services.images.docker_builder import registry_of, split_reference
from services.images.engine import discover_engine
from services.images.protocol import BuildDone, BuildFailed, BuildLog, BuildStep, LayerProgress, PushDone
from services.images.push_tally import PushTally
from services.images.streams import BuildStreamParser, PushStreamParser

IMAGE_ID = "e7ee0cc8cb4a" + "0" * 52
DIGEST = "sha256:320b" + "1" * 60
DOCKERD_BUILD = [
    {"stream": "Step 1/4 : FROM scratch"}, {"stream": "\n"}, {"stream": " ---> \n"},
    {"stream": "Step 2/4 : COPY hello.txt /hello.txt"}, {"stream": "\n"}, {"stream": " ---> Using cache\n"}, {"stream": " ---> 9cf09ca23b59\n"},
    {"stream": "Step 3/4 : RUN fetch"}, {"stream": "\n"}, {"stream": " ---> Running in a63bf835b21d\n"},
    {"stream": "downloading 10%\rdownloading 50%\rdownloading 100%\n"},
    {"stream": "Removing intermediate container a63bf835b21d\n"},
    {"aux": {"ID": f"sha256:{IMAGE_ID}"}},
    {"stream": f"Successfully built {IMAGE_ID[:12]}\n"}, {"stream": "Successfully tagged local/test:sdk\n"},
]  # fmt: skip
PODMAN_BUILD = [
    {"stream": "STEP 1/2: FROM scratch\n"}, {"stream": "STEP 2/2: COPY hello.txt /hello.txt\n"},
    {"stream": "--> 9cf09ca23b5\n"}, {"stream": "COMMIT docker.io/local/test:sdk\n"}, {"stream": "--> e7ee0cc8cb4\n"},
    {"stream": f"{IMAGE_ID}\n"}, {"aux": {"ID": f"sha256:{IMAGE_ID}"}},
]  # fmt: skip
DOCKERD_PUSH = [
    {"status": "The push refers to repository [127.0.0.1:5000/local/test]"},
    {"status": "Preparing", "progressDetail": {}, "id": "7c4fc97718c6"},
    {"status": "Preparing", "progressDetail": {}, "id": "aa11bb22cc33"},
    {"status": "Pushing", "progressDetail": {"current": 512, "total": 6}, "progress": "[=====>]     512B", "id": "7c4fc97718c6"},
    {"status": "Layer already exists", "progressDetail": {}, "id": "aa11bb22cc33"},
    {"status": "Pushed", "progressDetail": {}, "id": "7c4fc97718c6"},
    {"status": f"v1: digest: {DIGEST} size: 524"},
    {"progressDetail": {}, "aux": {"Tag": "v1", "Digest": DIGEST, "Size": 524}},
]  # fmt: skip
PODMAN_PUSH = [
    {"status": "The push refers to repository [127.0.0.1:5000/local/test:v1]"},
    {"status": f"v1: digest: {DIGEST} size: 420"},
]


def parse_build(chunks: list[dict]) -> list:  # type: ignore[type-arg]
    parser = BuildStreamParser()
    return [event for chunk in chunks for event in parser.feed(chunk)] + parser.finish()


def test_dockerd_build_stream() -> None:
    events = parse_build(DOCKERD_BUILD)
    steps = [e for e in events if isinstance(e, BuildStep)]
    assert [(s.number, s.total, s.instruction, s.cached) for s in steps] == [
        (1, 4, "FROM scratch", False), (2, 4, "COPY hello.txt /hello.txt", False), (2, 4, "COPY hello.txt /hello.txt", True), (3, 4, "RUN fetch", False),
    ]  # fmt: skip
    logs = [e.text for e in events if isinstance(e, BuildLog)]
    assert "downloading 100%" in logs and not any("10%" in line for line in logs), "\\r frames collapse to the last"
    assert events[-1] == BuildDone(f"sha256:{IMAGE_ID}", ("local/test:sdk",))


def test_podman_build_stream() -> None:
    events = parse_build(PODMAN_BUILD)
    assert [(s.number, s.instruction) for s in events if isinstance(s, BuildStep)] == [(1, "FROM scratch"), (2, "COPY hello.txt /hello.txt")]
    assert events[-1] == BuildDone(f"sha256:{IMAGE_ID}", ("docker.io/local/test:sdk",))


def test_build_errors_in_an_http_200_stream_fail_with_the_step() -> None:
    message = "COPY failed: file not found in build context or excluded by .dockerignore: stat missing.txt: file does not exist"
    events = parse_build([*DOCKERD_BUILD[:5], {"errorDetail": {"message": message}, "error": message}])
    assert events[-1] == BuildFailed(message, 2)
    assert parse_build([{"stream": "Step 1/1 : FROM scratch\n"}])[-1] == BuildFailed("the engine ended the build without an image id: see the log above")


@pytest.mark.parametrize(("stream", "size"), [(DOCKERD_PUSH, 524), (PODMAN_PUSH, 420)])
def test_push_streams_give_layers_when_sent_and_the_digest_always(stream: list[dict], size: int) -> None:  # type: ignore[type-arg]
    parser = PushStreamParser("127.0.0.1:5000/local/test:v1")
    layers = [event for chunk in stream for event in parser.feed(chunk)]
    assert parser.finish() == PushDone("127.0.0.1:5000/local/test:v1", DIGEST, size)
    assert all(isinstance(layer, LayerProgress) for layer in layers)
    if stream is DOCKERD_PUSH:
        assert [(e.layer_id, e.status, e.current, e.total) for e in layers][2] == ("7c4fc97718c6", "Pushing", 512, 6)
        tally = PushTally()
        for layer in layers:
            tally.apply(layer)
        assert tally.layers_done == 2 and tally.bytes_known == (6, 6), "512 of 6 bytes is clamped; done layers count whole"
    else:
        assert layers == []


def test_a_push_error_is_one_line_and_no_digest_is_an_error() -> None:
    parser = PushStreamParser("127.0.0.1:5999/local/test:v1")
    message = 'Get "http://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection refused'
    with pytest.raises(UserError, match="push of 127.0.0.1:5999/local/test:v1 failed: Get .* connection refused$"):
        parser.feed({"errorDetail": {"message": message}, "error": message})
    with pytest.raises(UserError, match="ended without a digest"):
        PushStreamParser("x:1").finish()


def test_references_split_like_docker() -> None:
    assert split_reference("127.0.0.1:5000/local/x:1") == ("127.0.0.1:5000/local/x", "1")
    assert split_reference("127.0.0.1:5000/local/x") == ("127.0.0.1:5000/local/x", "latest")
    assert split_reference("tritonserver") == ("tritonserver", "latest")
    assert registry_of("registry.gra.ai.cloud.ovh.net/abc/tritonserver:23.03") == "registry.gra.ai.cloud.ovh.net"
    assert registry_of("localhost/x:1") == "localhost" and registry_of("local/x:1") is None
    with pytest.raises(UserError, match="names a digest"):
        split_reference("x@sha256:abc")


def test_engine_discovery_follows_the_docker_cli(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert discover_engine({"DOCKER_HOST": "tcp://10.0.0.2:2375", "HOME": str(home)}).source == "DOCKER_HOST"
    meta = home / ".docker" / "contexts" / "meta" / hashlib.sha256(b"remote").hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": "remote", "Endpoints": {"docker": {"Host": "ssh://me@gpu-box"}}}))
    (home / ".docker" / "config.json").write_text(json.dumps({"currentContext": "remote"}))
    found = discover_engine({"HOME": str(home)})
    assert (found.base_url, found.source) == ("ssh://me@gpu-box", "docker context 'remote'")
    with pytest.raises(UserError, match="docker context 'other' has no readable endpoint"):
        discover_engine({"HOME": str(home), "DOCKER_CONTEXT": "other"})
    socket = tmp_path / "run" / "podman" / "podman.sock"
    socket.parent.mkdir(parents=True)
    socket.touch()
    env = {"HOME": str(tmp_path / "empty"), "XDG_RUNTIME_DIR": str(tmp_path / "run")}
    if not Path("/var/run/docker.sock").exists():
        assert discover_engine(env).base_url == f"unix://{socket}"
        socket.unlink()
        with pytest.raises(UserError, match=r"no container engine found: looked at DOCKER_HOST \(unset\).*start dockerd"):
            discover_engine(env)
