"""A real dockerd and a real registry v2 for the image tests, each on its own socket/port.

dockerd runs with vfs, no iptables, no bridge and its own data, exec root and unix socket
(see local-infra.md); the registry binds 127.0.0.1 on a free port, optionally behind
htpasswd. A tiny base image with a shell is imported from busybox, since nothing can be
pulled. Whatever is missing makes the tests skip with the reason.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.ports import free_port

BASE_IMAGE = "local/busybox:1"
APPLETS = ("sh", "echo", "cat", "ls", "chown", "id", "stat", "mkdir", "test")


def require(binary: str) -> str:
    path = shutil.which(binary) or (f"/usr/sbin/{binary}" if os.path.exists(f"/usr/sbin/{binary}") else None)
    if path is None:
        pytest.skip(f"{binary} is not installed (.ci/run installs docker.io, docker-registry and busybox-static)")
    if os.geteuid() != 0:
        pytest.skip(f"{binary} needs root here")
    return path


def _wait(check: object, what: str, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():  # type: ignore[operator]
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Dockerd:
    root: Path
    process: subprocess.Popen[bytes]

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def base_url(self) -> str:
        return f"unix://{self.socket}"

    def docker(self, *args: str, stdin: bytes | None = None) -> str:
        env = {**os.environ, "DOCKER_HOST": self.base_url}
        return subprocess.run([require("docker"), *args], env=env, input=stdin, capture_output=True, check=True).stdout.decode()

    def stop(self) -> None:
        _stop(self.process)
        shutil.rmtree(self.root, ignore_errors=True)


def start_dockerd() -> Dockerd:
    binary = require("dockerd")
    require("docker")
    root = Path(tempfile.mkdtemp(prefix="dk-", dir="/tmp"))  # short: unix socket paths are limited to 108 bytes
    log = root / "dockerd.log"
    process = subprocess.Popen(
        [
            binary, "-H", f"unix://{root}/docker.sock", "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
            "--pidfile", str(root / "docker.pid"), "--iptables=false", "--ip6tables=false", "--bridge=none",
            "--ip-forward=false", "--ip-masq=false", "--storage-driver=vfs",
        ],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    engine = Dockerd(root, process)
    try:
        _wait(lambda: engine.socket.exists() and "OK" in engine.docker("version", "--format", "OK"), "dockerd", log)
    except (RuntimeError, subprocess.CalledProcessError):
        engine.stop()
        raise
    return engine


def import_base_image(engine: Dockerd) -> str:
    """A busybox rootfs imported as an image: a shell for RUN steps with no registry to pull from."""
    busybox = shutil.which("busybox") or pytest.skip("busybox is not installed (.ci/run installs busybox-static)")
    with tempfile.TemporaryDirectory() as scratch:
        rootfs = Path(scratch) / "rootfs"
        (rootfs / "bin").mkdir(parents=True)
        shutil.copy(busybox, rootfs / "bin" / "busybox")
        for applet in APPLETS:
            (rootfs / "bin" / applet).symlink_to("busybox")
        archive = subprocess.run(["tar", "-C", str(rootfs), "-c", "."], capture_output=True, check=True).stdout
        engine.docker("import", "-", BASE_IMAGE, stdin=archive)
    return BASE_IMAGE


def bcrypt_hash(password: str) -> str:
    """htpasswd wants bcrypt; the C library's crypt(3) makes it (Python's `crypt` is gone in 3.13)."""
    import ctypes
    import ctypes.util
    import secrets

    library = ctypes.util.find_library("crypt") or pytest.skip("no libcrypt to hash a registry password")
    libcrypt = ctypes.CDLL(library)
    libcrypt.crypt_gensalt.restype = libcrypt.crypt.restype = ctypes.c_char_p
    salt = libcrypt.crypt_gensalt(b"$2b$", 10, secrets.token_bytes(16), 16)
    hashed = libcrypt.crypt(password.encode(), salt) if salt else None
    if not hashed or not hashed.startswith(b"$2"):
        pytest.skip("libcrypt here cannot make bcrypt hashes for htpasswd")
    return hashed.decode()


@dataclass
class Registry:
    port: int
    root: Path
    process: subprocess.Popen[bytes]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def get(self, path: str, accept: str | None = None, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(f"http://{self.address}{path}", method=method, headers={"Accept": accept} if accept else {})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()

    def stop(self) -> None:
        _stop(self.process)
        shutil.rmtree(self.root, ignore_errors=True)


def start_registry(credentials: tuple[str, str] | None = None) -> Registry:
    binary = require("docker-registry")
    root = Path(tempfile.mkdtemp(prefix="reg-"))
    port = free_port()
    auth = ""
    if credentials:
        user, password = credentials
        (root / "htpasswd").write_text(f"{user}:{bcrypt_hash(password)}\n")
        auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {root}/htpasswd\n"
    (root / "config.yml").write_text(
        f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {root}/data\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n{auth}"
    )
    log = root / "registry.log"
    process = subprocess.Popen([binary, "serve", str(root / "config.yml")], stdout=log.open("wb"), stderr=subprocess.STDOUT)
    registry = Registry(port, root, process)

    def answering() -> bool:
        try:
            return registry.get("/v2/")[0] == 200
        except urllib.error.HTTPError as error:
            return error.code == 401  # behind htpasswd: up, and asking for credentials
    try:
        _wait(answering, "docker-registry", log)
    except RuntimeError:
        registry.stop()
        raise
    return registry
