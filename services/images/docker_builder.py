"""`DockerImageBuilder`: the `ImageBuilder` on the docker SDK's low-level API.

The generated Dockerfile goes into the build context's tar stream under its own name, so
building never writes a file into the user's directory. Streams are decoded by
`streams`; a cancel closes the connection, which makes the engine abandon the build or
push. Credentials: those given to `login` stay in this process; the docker config's
(and its credential helpers') are reused as the docker CLI would.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from services.cancel import CancelToken
from services.errors import UserError
from services.images.dockerfile import DockerfileSpec, render_dockerfile
from services.images.engine import START_HINT, EngineAddress, docker_config_dir
from services.images.protocol import BuildEvent, BuildLog, EngineInfo, PullEvent, PushEvent
from services.images.streams import BuildStreamParser, PullStreamParser, PushStreamParser
from services.secrets import Secret

GENERATED_DOCKERFILE = ".triton-deck.Dockerfile"
ARCHITECTURES = {"amd64": "x86_64", "arm64": "aarch64"}


def split_reference(reference: str) -> tuple[str, str]:
    """`127.0.0.1:5000/local/x:1` → (`127.0.0.1:5000/local/x`, `1`); no tag means `latest`."""
    if "@" in reference:
        raise UserError(f"'{reference}' names a digest: give a tag (repository:tag) to tag or push")
    repository, _, tag = reference.rpartition(":")
    if not repository or "/" in tag:
        return reference, "latest"
    return repository, tag


def registry_of(reference: str) -> str | None:
    """The registry host a reference points at (`docker.io` references have none)."""
    first, _, rest = reference.partition("/")
    return first if rest and ("." in first or ":" in first or first == "localhost") else None


def _dockerignore(context: Path) -> list[str]:
    try:
        lines = (context / ".dockerignore").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


class DockerImageBuilder:
    def __init__(self, address: EngineAddress, env: Mapping[str, str] | None = None, timeout_s: int = 60) -> None:
        self.address = address
        self._env = os.environ if env is None else env
        self._timeout_s = timeout_s
        self._client: Any = None
        self._lock = threading.Lock()

    # -- plumbing ------------------------------------------------------------------------------

    def _api(self) -> Any:
        """One APIClient, opened on first use (its logins live as long as it does)."""
        with self._lock:
            if self._client is None:
                import docker

                try:
                    self._client = docker.APIClient(base_url=self.address.base_url, version="auto", timeout=self._timeout_s)
                except docker.errors.DockerException as error:
                    raise self._unreachable(error) from None
            return self._client

    def _unreachable(self, error: BaseException) -> UserError:
        reason = str(error).split("(Caused by", 1)[0].strip()
        return UserError(f"no container engine answers at {self.address.base_url} (from {self.address.source}): {reason}; {START_HINT}")

    def _stream(self, start: Any, cancel: CancelToken, on_cancel: Callable[[], None] | None = None) -> Iterator[dict[str, Any]]:
        """Chunks of an engine stream until it ends or is cancelled. A watcher runs `on_cancel`
        (the build kills its RUN container) as soon as the cancel comes, even while the engine
        is silent; leaving the loop then drops the connection."""
        import docker
        import requests

        finished = threading.Event()

        def watch() -> None:
            while not finished.wait(0.2):
                if cancel.cancelled:
                    if on_cancel is not None:
                        on_cancel()
                    return

        watcher = threading.Thread(target=watch, daemon=True, name="engine-cancel")
        watcher.start()
        try:
            for chunk in start():
                if cancel.cancelled:
                    self.close()
                    return
                yield chunk
        except (requests.exceptions.RequestException, docker.errors.DockerException, OSError) as error:
            if cancel.cancelled:
                return
            if isinstance(error, docker.errors.APIError):
                raise UserError(f"the engine refused: {error.explanation or error}") from None
            raise self._unreachable(error) from None
        finally:
            finished.set()

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # -- the capability ------------------------------------------------------------------------

    def engine(self) -> EngineInfo:
        import docker
        import requests

        try:
            version = self._api().version()
        except (requests.exceptions.RequestException, docker.errors.DockerException) as error:
            raise self._unreachable(error) from None
        components = [str(c.get("Name", "")) for c in version.get("Components", []) or []]
        name = "podman" if any("Podman" in c for c in components) else "docker"
        return EngineInfo(f"{self.address.base_url} ({self.address.source}, {name})", str(version.get("Version", "?")), str(version.get("Arch", "?")))

    def dockerfile(self, spec: DockerfileSpec) -> str:
        return render_dockerfile(spec)

    def build(self, context: Path, tag: str, platform: str, dockerfile: str | None, cancel: CancelToken) -> Iterator[BuildEvent]:
        from docker.utils.build import tar

        if not context.is_dir():
            raise UserError(f"build context {context} is not a directory: give the directory holding what COPY copies")
        split_reference(tag)
        engine = self.engine()
        wanted = platform.rpartition("/")[2]
        if ARCHITECTURES.get(wanted, wanted) != engine.architecture and wanted != engine.architecture:
            yield BuildLog(f"warning: the engine runs on {engine.architecture} and builds {platform}: it needs emulation, and runs slower")
        content = dockerfile if dockerfile is not None else (context / "Dockerfile").read_text(encoding="utf-8") if (context / "Dockerfile").is_file() else None
        if content is None:
            raise UserError(f"no Dockerfile: {context} has none and none was given (`triton-deck image dockerfile -o {context}`)")
        archive = tar(str(context), exclude=_dockerignore(context), dockerfile=(GENERATED_DOCKERFILE, content))
        parser = BuildStreamParser()

        def start() -> Iterator[dict[str, Any]]:
            stream: Iterator[dict[str, Any]] = self._api().build(
                fileobj=archive, custom_context=True, dockerfile=GENERATED_DOCKERFILE, tag=tag, platform=platform, rm=True, decode=True
            )
            return stream

        def kill_running_step() -> None:
            import docker

            if parser.running_container:
                with contextlib.suppress(docker.errors.DockerException):
                    docker.APIClient(base_url=self.address.base_url, version="auto", timeout=10).kill(parser.running_container)

        try:
            for chunk in self._stream(start, cancel, kill_running_step):
                yield from parser.feed(chunk)
            if not cancel.cancelled:
                yield from parser.finish()
        finally:
            archive.close()

    def tag(self, source: str, target: str) -> None:
        import docker

        repository, tag = split_reference(target)
        try:
            self._api().tag(source, repository, tag, force=True)
        except docker.errors.ImageNotFound:
            raise UserError(f"image {source} not found on the engine: build it first (`triton-deck image build`)") from None
        except docker.errors.APIError as error:
            raise UserError(f"cannot tag {source} as {target}: {error.explanation or error}") from None

    def login(self, registry: str, username: str, password: Secret) -> str:
        import docker
        import requests

        try:
            answer = self._api().login(username, password=password.reveal(), registry=registry, reauth=True)
        except docker.errors.APIError as error:
            reason = " ".join(str(error.explanation or error).split())
            raise UserError(f"login to {registry} as {username} failed: {reason}; check the username and password") from None
        except requests.exceptions.RequestException as error:
            raise self._unreachable(error) from None
        return str(answer.get("Status") or "Login Succeeded")

    def push(self, reference: str, cancel: CancelToken) -> Iterator[PushEvent]:
        repository, tag = split_reference(reference)
        parser = PushStreamParser(reference)
        yield from (event for chunk in self._stream(lambda: self._api().push(repository, tag=tag, stream=True, decode=True), cancel) for event in parser.feed(chunk))
        if not cancel.cancelled:
            yield parser.finish()

    def pull(self, reference: str, platform: str, cancel: CancelToken) -> Iterator[PullEvent]:
        repository, tag = split_reference(reference)
        parser = PullStreamParser(reference)

        def start() -> Iterator[dict[str, Any]]:
            stream: Iterator[dict[str, Any]] = self._api().pull(repository, tag=tag, stream=True, decode=True, platform=platform)
            return stream

        yield from (event for chunk in self._stream(start, cancel) for event in parser.feed(chunk))
        if not cancel.cancelled:
            yield parser.finish()


def save_login(registry: str, username: str, password: Secret, env: Mapping[str, str]) -> Path:
    """Store a login in the docker config as `docker login` does (base64, not encrypted), atomically, 0600.
    Only on request: the CLI's `--save` says what this means."""
    directory = docker_config_dir(env)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except ValueError:
        raise UserError(f"{path} is not valid JSON: fix it before saving a login there") from None
    token = base64.b64encode(f"{username}:{password.reveal()}".encode()).decode()
    config.setdefault("auths", {})[registry] = {"auth": token}
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".config-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(config, handle, indent=2)
    os.chmod(temp, 0o600)
    os.replace(temp, path)
    return path
