"""A private local tritonserver: its token checked in front of it, never on a command line.

Triton takes its restricted-API key only as an argument (`--http-restricted-api=…:authorization=
Bearer <token>`), and any user of a shared host reads arguments with `ps`. So a job or app
replica that is not `--unsecure-http` runs as

    python -m services.triton.guard --fds HTTP,GRPC,METRICS -- tritonserver …

with the token in its environment (readable by its own user only) and three listening
sockets its supervisor opened on the host's loopback. The guard moves into a network
namespace of its own (a user namespace makes that unprivileged), where the server listens on
its usual ports and nobody else can reach it, and relays each accepted connection inward:

* HTTP/1.1: each request's head is parsed (h11) and its `Authorization: Bearer` compared
  before a byte of it is passed on; the answers come back as the server wrote them.
* gRPC (HTTP/2): each new call's header block is decoded (hpack) and checked before its
  frames are passed on; a call without the token closes the connection.
* metrics: passed as they are (Triton's metrics port has no authentication on a GPU job either).

Where the host allows no private namespace, the guard says so in the log and falls back to
Triton's own check, the token then on the server's command line (as before).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import fcntl
import hmac
import os
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import h11
import hpack

from services.triton.runtime import die_with_parent

TOKEN_ENV = "TRITON_DECK_SERVER_TOKEN"
SERVER_PYTHONPATH = "TRITON_DECK_SERVER_PYTHONPATH"
INNER_PORTS = (8000, 8001, 8002)  # inside the private namespace nothing else listens
READ = 1 << 16
_CLONE_NEWUSER, _CLONE_NEWNET = 0x10000000, 0x40000000
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
FORBIDDEN = b"HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s"
STARTING = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: 24\r\nconnection: close\r\n\r\nthe server is starting\r\n"
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
REFUSAL = b"this server needs Authorization: Bearer <token> (`triton-deck profile token` prints it)\n"
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
HEADERS, CONTINUATION = 0x1, 0x9
END_HEADERS, PADDED, PRIORITY = 0x4, 0x8, 0x20
TOKEN_HEADERS = (b"authorization", b"triton-grpc-protocol-authorization")


def enter_private_network() -> str | None:
    """Move this process into a user and network namespace of its own with loopback up;
    None when done, else why not (the host forbids unprivileged namespaces, say). Tried in a
    child first, which says why it failed: a namespace entered but left unusable (AppArmor's
    user-namespace rules allow the unshare and refuse what follows) cannot be left again."""
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(reading)
        os.write(writing, (_unshare_network() or "").encode())
        os._exit(0)
    os.close(writing)
    with os.fdopen(reading, "rb") as answer:
        reason = answer.read().decode(errors="replace")
    os.waitpid(child, 0)
    return reason or _unshare_network()


def _unshare_network() -> str | None:
    uid, gid = os.getuid(), os.getgid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) != 0:
        return f"unshare: {os.strerror(ctypes.get_errno())}"
    try:
        for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
            with open(f"/proc/self/{name}", "w") as handle:
                handle.write(text)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            request = struct.pack("16sh22x", b"lo", 0)
            flags = struct.unpack("16sh22x", fcntl.ioctl(probe, _SIOCGIFFLAGS, request))[1]
            fcntl.ioctl(probe, _SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", flags | _IFF_UP))
    except OSError as error:
        return f"loopback in the new namespace: {error.strerror or error}"
    return None


def authorized(value: bytes | None, expected: bytes) -> bool:
    return value is not None and hmac.compare_digest(value.strip(), expected)


async def pipe(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
    """Bytes as they come, until the source ends; then the target's write side ends too."""
    try:
        while data := await source.read(READ):
            target.write(data)
            await target.drain()
        if target.can_write_eof():
            target.write_eof()
    except (ConnectionError, OSError):
        target.close()


class HttpRequests:
    """Client-to-server bytes of one HTTP/1.1 connection, passed on request by request once
    each head carries the token; h11 finds where each request ends (its `trailing_data`), so
    a pipelined next request is checked too, never passed on inside the previous one's body."""

    def __init__(self, expected: bytes) -> None:
        self.expected = expected
        self.parser = h11.Connection(h11.SERVER)
        self.held: list[bytes] = []
        self.checked = False
        self.forwarded_any = False
        self.malformed = False

    starting = STARTING  # what a client hears while the server inside is not listening yet

    def refusal(self) -> bytes:
        """What the client is told when refused: only where nothing of the server's went before it."""
        if self.forwarded_any:
            return b""
        return BAD_REQUEST if self.malformed else FORBIDDEN % (len(REFUSAL), REFUSAL)

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """What may be passed on now, and whether the request was refused (closing the connection)."""
        try:
            return self._feed(data)
        except h11.RemoteProtocolError:
            self.malformed = True
            return b"", True

    def _feed(self, data: bytes) -> tuple[bytes, bool]:
        out: list[bytes] = []
        pending = data
        while True:
            self.parser.receive_data(pending)
            self.held.append(pending)
            pending = b""
            while True:
                event = self.parser.next_event()
                if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                    break
                if isinstance(event, h11.Request):
                    values = [value for name, value in event.headers if name == b"authorization"]
                    if not authorized(values[0] if values else None, self.expected):
                        return b"".join(out), True
                    self.checked = True
                elif isinstance(event, h11.EndOfMessage):
                    trailing = self.parser.trailing_data[0]
                    whole = b"".join(self.held)
                    out.append(whole[: len(whole) - len(trailing)])
                    self.forwarded_any = True
                    self.parser, self.held, self.checked = h11.Connection(h11.SERVER), [], False
                    pending = trailing
                    break
            if not pending:
                break
        if self.checked:
            out.extend(self.held)
            self.held = []
        return b"".join(out), False


class GrpcCalls:
    """Client-to-server frames of one HTTP/2 connection: a header block that opens a call is
    decoded (the decoder sees every block, in order, as the server's does) and checked
    before its frames pass; every other frame passes as it is."""

    starting = b""  # HTTP/2 has no answer before the preface: the connection closes

    def __init__(self, expected: bytes) -> None:
        self.expected = expected
        self.buffer = b""
        self.preface = False
        self.decoder = hpack.Decoder()
        self.decoder.max_allowed_table_size = 1 << 16
        self.block: list[bytes] = []  # a header block's frames, until END_HEADERS
        self.fragments: list[bytes] = []
        self.block_stream = 0
        self.open: set[int] = set()

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        self.buffer += data
        out: list[bytes] = []
        if not self.preface:
            if len(self.buffer) < len(PREFACE):
                return b"", False
            if not self.buffer.startswith(PREFACE):
                return b"", True
            out.append(PREFACE)
            self.buffer, self.preface = self.buffer[len(PREFACE) :], True
        while len(self.buffer) >= 9:
            length = int.from_bytes(self.buffer[:3], "big")
            if len(self.buffer) < 9 + length:
                break
            frame, self.buffer = self.buffer[: 9 + length], self.buffer[9 + length :]
            kind, flags, stream = frame[3], frame[4], int.from_bytes(frame[5:9], "big") & 0x7FFFFFFF
            if kind not in (HEADERS, CONTINUATION) and not self.block:
                out.append(frame)
                continue
            self.block.append(frame)
            self.fragments.append(self._fragment(frame[9:], kind, flags))
            self.block_stream = stream
            if flags & END_HEADERS:
                if not self._block_allowed():
                    return b"".join(out), True
                out.extend(self.block)
                self.block, self.fragments = [], []
        return b"".join(out), False

    def refusal(self) -> bytes:
        return b""  # frames of our own would break the connection's HPACK state: it closes

    @staticmethod
    def _fragment(payload: bytes, kind: int, flags: int) -> bytes:
        if kind == CONTINUATION:
            return payload
        pad = payload[0] if flags & PADDED else 0
        start = (1 if flags & PADDED else 0) + (5 if flags & PRIORITY else 0)
        return payload[start : len(payload) - pad]

    def _block_allowed(self) -> bool:
        try:
            headers = self.decoder.decode(b"".join(self.fragments), raw=True)
        except hpack.HPACKError:
            return False
        if self.block_stream in self.open:
            return True  # a call's trailers: checked when it opened
        self.open.add(self.block_stream)
        return any(name in TOKEN_HEADERS and authorized(value, self.expected) for name, value in headers)


async def relay_checked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int, client: HttpRequests | GrpcCalls) -> None:
    """The client's bytes through `client`'s check, the server's answers back as they are."""
    try:
        inner_reader, inner_writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:  # still starting: said as an ingress says it, once what was sent is read
        if client.starting:
            try:
                await asyncio.wait_for(reader.read(READ), 1.0)
            except (TimeoutError, ConnectionError):
                pass
            writer.write(client.starting)
            await writer.drain()
        writer.close()
        return
    back = asyncio.create_task(pipe(inner_reader, writer))
    try:
        while data := await reader.read(READ):
            allowed, refused = client.feed(data)
            if allowed:
                inner_writer.write(allowed)
                await inner_writer.drain()
            if refused:
                if refusal := client.refusal():
                    writer.write(refusal)
                    await writer.drain()
                return
        if inner_writer.can_write_eof():
            inner_writer.write_eof()
        await back
    except (ConnectionError, OSError):
        pass
    finally:
        back.cancel()
        inner_writer.close()
        writer.close()


async def relay_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int, expected: bytes) -> None:
    await relay_checked(reader, writer, port, HttpRequests(expected))


async def relay_grpc(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int, expected: bytes) -> None:
    await relay_checked(reader, writer, port, GrpcCalls(expected))


async def relay_plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int, _expected: bytes) -> None:
    try:
        inner_reader, inner_writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        writer.close()
        return
    await asyncio.gather(pipe(reader, inner_writer), pipe(inner_reader, writer), return_exceptions=True)
    inner_writer.close()
    writer.close()


Relay = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int, bytes], Awaitable[None]]


async def serve(listeners: list[socket.socket], relays: list[Relay], ports: tuple[int, ...], expected: bytes, server: subprocess.Popen[bytes]) -> int:
    servers = []
    for listener, relay, port in zip(listeners, relays, ports, strict=True):
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, relay: Relay = relay, port: int = port) -> None:
            await relay(reader, writer, port, expected)

        servers.append(await asyncio.start_server(handle, sock=listener, limit=READ))
    code = await asyncio.get_running_loop().run_in_executor(None, server.wait)
    for started in servers:
        started.close()
    return code


def open_listeners() -> list[socket.socket]:
    """The server's three public ports (HTTP, gRPC, metrics), on the host's loopback, for the guard to inherit."""
    return [socket.create_server(("127.0.0.1", 0), backlog=1024) for _ in INNER_PORTS]


def guard_command(listeners: list[socket.socket], server_command: list[str]) -> list[str]:
    """`server_command` (written with the listeners' ports: the guard moves the server to its
    own) behind the guard; nothing secret in it."""
    return [sys.executable, "-m", "services.triton.guard", "--fds", ",".join(str(listener.fileno()) for listener in listeners), "--", *server_command]


def guard_environment(server_environment: dict[str, str], token: str) -> dict[str, str]:
    """The server's environment plus what the guard needs: its token and its own import path
    (both taken out again before the server starts)."""
    here = str(Path(__file__).resolve().parents[2])
    return {**server_environment, TOKEN_ENV: token, SERVER_PYTHONPATH: server_environment.get("PYTHONPATH", ""), "PYTHONPATH": here}


def _with_ports(command: list[str], ports: tuple[int, ...]) -> list[str]:
    flags = {f"--{name}-port=": port for name, port in zip(("http", "grpc", "metrics"), ports, strict=True)}
    return [next((f"{flag}{port}" for flag, port in flags.items() if word.startswith(flag)), word) for word in command]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="services.triton.guard")
    parser.add_argument("--fds", required=True, help="the inherited listening sockets: HTTP,GRPC,METRICS")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    environment = dict(os.environ)
    token = environment.pop(TOKEN_ENV, "")
    environment["PYTHONPATH"] = environment.pop(SERVER_PYTHONPATH, "")
    if not environment["PYTHONPATH"]:
        del environment["PYTHONPATH"]
    listeners = [socket.socket(fileno=int(fd)) for fd in args.fds.split(",")]
    problem = enter_private_network()
    relays: list[Relay] = [relay_http, relay_grpc, relay_plain]
    ports = INNER_PORTS
    if problem is not None:  # no private namespace: Triton checks the token itself, which puts it on its command line
        from services.ports import free_port
        from services.secrets import Secret
        from services.supervised.token import server_guard_args

        print(f"triton-deck: this host gives no private network namespace ({problem}): the server checks the token itself, so it is on its command line", flush=True)
        ports, relays = (free_port(), free_port(), free_port()), [relay_plain] * 3
        command = [*command, *server_guard_args(Secret(token))]
    command = _with_ports(command, ports)  # the public ports are the guard's; the server's are inside
    # Its output is ours (the job's or replica's log); it ends with the guard, even a killed one.
    server = subprocess.Popen(command, stdin=subprocess.DEVNULL, env=environment, preexec_fn=die_with_parent)
    signal.signal(signal.SIGTERM, lambda *_: server.send_signal(signal.SIGTERM))
    return asyncio.run(serve(listeners, relays, ports, f"Bearer {token}".encode(), server))


if __name__ == "__main__":
    sys.exit(main())
