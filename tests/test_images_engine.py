"""DockerImageBuilder and the image commands against a real dockerd and registry v2.

The tutorial's Dockerfile is built on a local busybox base (nothing can be pulled here),
the image is checked for the 42420 ownership and HOME, tagged, pushed, and the digest the
push reported is read back from the registry's API.
"""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest

from services import locations
from services.cancel import CancelToken
from services.errors import UserError
from services.images.docker_builder import DockerImageBuilder
from services.images.dockerfile import DockerfileSpec, render_dockerfile
from services.images.history import ImageHistory
from services.images.protocol import BuildDone, BuildFailed, BuildLog, BuildStep, LayerProgress, PushDone
from services.ports import free_port
from services.secrets import Secret
from tests.container_engine import Dockerd, Registry, start_registry
from tests.helpers import MANIFEST_V2
from tui.cli import main


def tutorial_dockerfile(*extra: str) -> str:
    return render_dockerfile(DockerfileSpec(base="local/busybox:1", extra_lines=extra))


def cli(*argv: str, stdin: str | None = None, monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str]:
    if stdin is not None and monkeypatch is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def test_the_tutorial_dockerfile_builds_with_42420_owning_the_workspace(builder: DockerImageBuilder, engine: Dockerd, context: Path) -> None:
    events = list(builder.build(context, "local/triton-server:1", "linux/amd64", tutorial_dockerfile(), CancelToken()))
    steps = [e for e in events if isinstance(e, BuildStep)]
    assert [s.instruction for s in steps if not s.cached][:1] == ["FROM local/busybox:1"]
    assert {s.number for s in steps} == {1, 2, 3, 4, 5} and {s.total for s in steps} == {5}
    done = events[-1]
    assert isinstance(done, BuildDone) and done.image_id.startswith("sha256:") and len(done.image_id) == 71
    assert done.tags == ("local/triton-server:1",)
    owner = engine.docker("run", "--rm", "--network", "none", "local/triton-server:1", "stat", "-c", "%u:%g", "/workspace/models/simple/config.pbtxt")
    assert owner.strip() == "42420:42420"
    listing = engine.docker("run", "--rm", "--network", "none", "local/triton-server:1", "ls", "-a", "/workspace")
    assert "models" in listing and "secret.txt" not in listing and ".triton-deck.Dockerfile" not in listing
    inspect = json.loads(engine.docker("image", "inspect", "local/triton-server:1"))[0]
    assert "HOME=/workspace" in inspect["Config"]["Env"] and inspect["Config"]["WorkingDir"] == "/workspace"
    assert inspect["Architecture"] == "amd64"
    assert not (context / ".triton-deck.Dockerfile").exists(), "nothing is written into the user's context"


def test_a_failing_run_step_names_the_step_and_its_output(builder: DockerImageBuilder, context: Path) -> None:
    events = list(builder.build(context, "local/broken:1", "linux/amd64", tutorial_dockerfile("RUN echo about to fail && exit 3"), CancelToken()))
    failed = events[-1]
    assert isinstance(failed, BuildFailed) and failed.step == 4
    assert failed.message == "The command '/bin/sh -c echo about to fail && exit 3' returned a non-zero code: 3"
    assert any(getattr(e, "text", "") == "about to fail" for e in events), "the step's own output is in the log"


def test_build_tag_push_and_the_registry_reports_the_same_digest(builder: DockerImageBuilder, registry: Registry, context: Path) -> None:
    list(builder.build(context, "local/triton-server:2", "linux/amd64", tutorial_dockerfile(), CancelToken()))
    target = f"{registry.address}/tutorial/tritonserver:23.03"
    builder.tag("local/triton-server:2", target)
    events = list(builder.push(target, CancelToken()))
    layers = [e for e in events if isinstance(e, LayerProgress)]
    assert {e.status for e in layers} >= {"Preparing", "Pushing", "Pushed"}
    assert any(e.current and e.total for e in layers), "byte progress for at least one layer"
    done = events[-1]
    assert isinstance(done, PushDone) and done.reference == target
    status, headers, _ = registry.get("/v2/tutorial/tritonserver/manifests/23.03", accept=MANIFEST_V2, method="HEAD")
    assert status == 200 and headers["Docker-Content-Digest"] == done.digest
    again = list(builder.push(target, CancelToken()))
    assert {e.status for e in again if isinstance(e, LayerProgress)} >= {"Layer already exists"}
    assert isinstance(again[-1], PushDone) and again[-1].digest == done.digest


def test_a_push_to_a_stopped_registry_is_one_clear_line(builder: DockerImageBuilder, context: Path) -> None:
    list(builder.build(context, "local/triton-server:3", "linux/amd64", tutorial_dockerfile(), CancelToken()))
    target = f"127.0.0.1:{free_port()}/tutorial/tritonserver:1"
    builder.tag("local/triton-server:3", target)
    with pytest.raises(UserError) as failure:
        list(builder.push(target, CancelToken()))
    assert failure.value.message.startswith(f"push of {target} failed: Get ")
    assert "connection refused" in failure.value.message and "\n" not in failure.value.message


def test_tagging_a_missing_image_says_build_it_first(builder: DockerImageBuilder) -> None:
    with pytest.raises(UserError, match="image local/never-built:1 not found on the engine: build it first"):
        builder.tag("local/never-built:1", "local/x:1")


def test_login_with_bad_credentials_fails_clearly_and_good_ones_push(builder: DockerImageBuilder, context: Path) -> None:
    guarded = start_registry(credentials=("tutorial", "right-password-42"))
    try:
        with pytest.raises(UserError) as failure:
            builder.login(guarded.address, "tutorial", Secret("wrong-password-13"))
        message = failure.value.message
        assert message.startswith(f"login to {guarded.address} as tutorial failed:") and "wrong-password-13" not in message
        assert builder.login(guarded.address, "tutorial", Secret("right-password-42")) == "Login Succeeded"
        list(builder.build(context, "local/triton-server:4", "linux/amd64", tutorial_dockerfile(), CancelToken()))
        target = f"{guarded.address}/tutorial/tritonserver:4"
        builder.tag("local/triton-server:4", target)
        assert isinstance(list(builder.push(target, CancelToken()))[-1], PushDone)
    finally:
        guarded.stop()


def test_a_cancelled_build_stops_without_an_image(builder: DockerImageBuilder, engine: Dockerd, context: Path) -> None:
    cancel = CancelToken()
    seen = []
    for event in builder.build(context, "local/slow:1", "linux/amd64", tutorial_dockerfile("RUN echo started && sleep 30"), cancel):
        seen.append(event)
        if getattr(event, "text", "") == "started":
            cancel.cancel()
    assert not any(isinstance(e, BuildDone | BuildFailed) for e in seen)
    with pytest.raises(subprocess.CalledProcessError):
        engine.docker("image", "inspect", "local/slow:1")


def test_the_cli_builds_tags_pushes_and_prints_the_digest(
    engine: Dockerd, registry: Registry, context: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", engine.base_url)
    code, out = cli("image", "build", str(context), "-t", "local/cli:1", "--base", "local/busybox:1")
    err = capsys.readouterr().err
    assert code == 0, err
    assert out.strip().startswith("sha256:") and "Step 4/5 : RUN chown -R 42420:42420 /workspace" in err
    target = f"{registry.address}/cli/tritonserver:1"
    assert cli("image", "tag", "local/cli:1", target) == (0, f"tagged local/cli:1 as {target}\n")
    code, out = cli("image", "push", target)
    err = capsys.readouterr().err
    assert code == 0, err
    reference, digest = out.strip().split("@")
    # piped: a line per layer status (layers the registry holds in another repository are mounted, not sent)
    assert reference == target and ": Preparing" in err and (": Pushed" in err or ": Mounted from" in err)
    assert registry.get("/v2/cli/tritonserver/manifests/1", accept=MANIFEST_V2, method="HEAD")[1]["Docker-Content-Digest"] == digest
    history = ImageHistory("local").entries()
    assert [(h.kind, h.reference, h.result) for h in history[:2]] == [("push", target, digest), ("build", "local/cli:1", history[1].result)]
    code, _ = cli("image", "build", str(context), "-t", "local/cli:2", "--base", "local/busybox:1", "--line", "RUN exit 7")
    assert code == 1 and capsys.readouterr().err.splitlines()[-1] == "triton-deck: step 4 failed: The command '/bin/sh -c exit 7' returned a non-zero code: 7"


def test_cli_login_reads_stdin_and_saves_only_when_asked(engine: Dockerd, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", engine.base_url)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    guarded = start_registry(credentials=("tutorial", "right-password-42"))
    try:
        assert cli("image", "login", guarded.address, "-u", "tutorial", stdin="wrong\n", monkeypatch=monkeypatch)[0] == 1
        assert "wrong" not in capsys.readouterr().err.replace("wrong-", "")
        assert cli("image", "login", guarded.address, "-u", "tutorial", stdin="right-password-42\n", monkeypatch=monkeypatch) == (0, "Login Succeeded\n")
        assert "not saved" in capsys.readouterr().err and not (tmp_path / "docker-config").exists()
        assert cli("image", "login", guarded.address, "-u", "tutorial", "--save", stdin="right-password-42\n", monkeypatch=monkeypatch)[0] == 0
        saved = tmp_path / "docker-config" / "config.json"
        assert saved.stat().st_mode & 0o777 == 0o600 and guarded.address in json.loads(saved.read_text())["auths"]
    finally:
        guarded.stop()


def test_no_engine_is_one_message_and_the_rest_of_the_app_works(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/no-such-dir/docker.sock")
    assert cli("image", "push", "127.0.0.1:5000/x:1")[0] == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("triton-deck: no container engine answers at unix:///tmp/no-such-dir/docker.sock (from DOCKER_HOST)")
    assert "start dockerd" in err and err.count("\n") == 0
    assert cli("image", "dockerfile")[0] == 0


def test_an_added_registrys_password_command_logs_the_push_in(
    builder: DockerImageBuilder, engine: Dockerd, context: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    password_file = tmp_path / "registry-password"
    password_file.write_text("right-password-42\n")
    monkeypatch.setenv("DOCKER_HOST", engine.base_url)
    guarded = start_registry(credentials=("tutorial", "right-password-42"))
    try:
        list(builder.build(context, "local/triton-server:5", "linux/amd64", tutorial_dockerfile(), CancelToken()))
        target = f"{guarded.address}/tutorial/tritonserver:5"
        builder.tag("local/triton-server:5", target)
        assert cli("image", "push", target)[0] == 1
        assert "no basic auth credentials" in capsys.readouterr().err
        assert cli("registry", "add", guarded.address, "-u", "tutorial", "--password-command", f"cat {password_file}")[0] == 0
        code, out = cli("image", "push", target)
        assert code == 0, capsys.readouterr().err
        digest = guarded_digest(guarded, "/v2/tutorial/tritonserver/manifests/5")
        assert out.strip() == f"{target}@{digest}"
        assert "right-password-42" not in locations.config_file().read_text(), "only the command is stored"
    finally:
        guarded.stop()


def guarded_digest(guarded: Registry, path: str) -> str:
    """The registry's own answer, read with the same credentials."""
    import base64
    import urllib.request

    request = urllib.request.Request(f"http://{guarded.address}{path}", method="HEAD", headers={"Accept": MANIFEST_V2})
    request.add_header("Authorization", "Basic " + base64.b64encode(b"tutorial:right-password-42").decode())
    with urllib.request.urlopen(request, timeout=10) as answer:
        return str(answer.headers["Docker-Content-Digest"])


def test_a_platform_other_than_the_engines_is_warned_about_first(builder: DockerImageBuilder, context: Path) -> None:
    arch = builder.engine().architecture
    other = "linux/arm64" if arch in ("x86_64", "amd64") else "linux/amd64"
    first = next(iter(builder.build(context, "local/other-arch:1", other, tutorial_dockerfile(), CancelToken())))
    assert first == BuildLog(f"warning: the engine runs on {arch} and builds {other}: it needs emulation, and runs slower")


def test_the_cli_builds_the_contexts_own_dockerfile_as_docker_does(
    engine: Dockerd, context: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", engine.base_url)
    (context / "Dockerfile").write_text("FROM local/busybox:1\nRUN echo from-the-context > /marker\n")
    code, _ = cli("image", "build", str(context), "-t", "local/own:1")
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"building {context / 'Dockerfile'} (as docker build does)" in err and "echo from-the-context" in err
    code, _ = cli("image", "build", str(context), "-t", "local/own:2", "--generate", "--base", "local/busybox:1")
    err = capsys.readouterr().err
    assert code == 0 and "RUN chown -R 42420:42420 /workspace" in err, "--generate builds the AI Training Dockerfile instead"
    code, _ = cli("image", "build", str(context), "-t", "local/own:3", "--generate", "-f", str(context / "Dockerfile"))
    assert code == 1 and "-f and --generate both name the Dockerfile" in capsys.readouterr().err


def test_the_cli_pulls_with_a_line_per_layer_and_prints_the_digest(
    builder: DockerImageBuilder, engine: Dockerd, registry: Registry, context: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import docker

    monkeypatch.setenv("DOCKER_HOST", engine.base_url)
    target = f"{registry.address}/pull/tritonserver:1"
    # A layer of its own, so removing the tag removes it and the pull has something to fetch.
    assert cli("image", "build", str(context), "-t", target, "--base", "local/busybox:1", "--line", "RUN echo pulled > /pulled")[0] == 0
    assert cli("image", "push", target)[0] == 0
    docker.APIClient(base_url=engine.base_url, version="auto").remove_image(target)
    capsys.readouterr()
    code, out = cli("image", "pull", target)
    err = capsys.readouterr().err
    assert code == 0, err
    digest = registry.get("/v2/pull/tritonserver/manifests/1", accept=MANIFEST_V2, method="HEAD")[1]["Docker-Content-Digest"]
    assert out.strip() == f"{target}@{digest}"
    assert ": Pull complete" in err or ": Already exists" in err, "a line per layer status when piped"
    code, _ = cli("image", "pull", f"{registry.address}/pull/missing:1")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "pull/missing" in err[0], err
