"""The load generator's senders: each request's bytes built once, then sent as they are.

A sweep is only worth reading when the generator is not the bottleneck, and tritonclient
builds every request anew (JSON, numpy copies, a protobuf message) and decodes every
answer in full. Here, per input set:

* HTTP/1.1: the whole request (head, JSON header, binary tensors: Triton's binary tensor
  extension, `Inference-Header-Content-Length`) is one `bytes`, sent with one `sendall` on a
  keep-alive socket of the calling thread's own; the answer is read by its Content-Length,
  and only the status line is looked at (a non-200 answer's JSON `error` is the failure).
* gRPC: the `ModelInferRequest` is serialized once and sent through grpcio's generic
  `unary_unary` with no serializer on either side, on a channel of the thread's own: no
  protobuf is built or parsed per request.

Threads block in socket calls, where the GIL is released, so N threads keep N requests in
flight. `--validate-outputs`-style decoding is left to `infer`; a sender checks only that
every output it asked for came back (by name, in the JSON header or the response message).
"""

from __future__ import annotations

import json
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from services.errors import UserError
from services.inference.endpoint import Address
from services.inference.protocol import InputData, SequencePlan, SharedRegion, Transport

T = TypeVar("T")
READ = 65536
MODEL_INFER = "/inference.GRPCInferenceService/ModelInfer"


def tensor_bytes(data: InputData) -> bytes:
    """A tensor as Triton's binary extension carries it: raw little-endian values, BYTES as
    a 4-byte length before each element."""
    if data.datatype == "BYTES":
        items = [item if isinstance(item, bytes) else str(item).encode() for item in data.array.reshape(-1)]
        return b"".join(struct.pack("<I", len(item)) + item for item in items)
    return np.ascontiguousarray(data.array).tobytes()


@dataclass(frozen=True)
class HttpParts:
    """An HTTP inference request in the parts a sequence request changes: the JSON header's
    inputs and outputs (its request-level `parameters` are added per request) and the tensors."""

    address: Address
    path: str
    headers: Mapping[str, str]
    header: Mapping[str, Any]
    blobs: bytes

    def build(self, parameters: Mapping[str, object] | None = None) -> bytes:
        header = {**self.header, "parameters": dict(parameters)} if parameters else self.header
        json_part = json.dumps(header, separators=(",", ":")).encode()
        host = f"[{self.address.host}]" if ":" in self.address.host else self.address.host
        lines = [
            f"POST {self.path} HTTP/1.1", f"Host: {host}:{self.address.port}", "Content-Type: application/octet-stream",
            f"Inference-Header-Content-Length: {len(json_part)}", f"Content-Length: {len(json_part) + len(self.blobs)}",
            *(f"{name}: {value}" for name, value in self.headers.items()),
        ]  # fmt: skip
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + json_part + self.blobs


def _region_parameters(region: SharedRegion) -> dict[str, object]:
    return {"shared_memory_region": region.region, "shared_memory_byte_size": region.byte_size}


def http_parts(
    address: Address, model: str, version: str, inputs: Sequence[InputData], outputs: Sequence[str], headers: Mapping[str, str],
    regions: Mapping[str, SharedRegion] | None = None,
) -> HttpParts:  # fmt: skip
    """The request's parts; an input in `regions` is named by its shared-memory region, no bytes sent."""
    shared = regions or {}
    blobs = [b"" if data.name in shared else tensor_bytes(data) for data in inputs]
    header: dict[str, Any] = {
        "inputs": [
            {"name": data.name, "shape": list(data.array.shape), "datatype": data.datatype,
             "parameters": _region_parameters(shared[data.name]) if data.name in shared else {"binary_data_size": len(blob)}}
            for data, blob in zip(inputs, blobs, strict=True)
        ]
    }  # fmt: skip
    if outputs:
        header["outputs"] = [{"name": name, "parameters": {"binary_data": True}} for name in outputs]
    path = f"{address.base_path}/v2/models/{model}" + (f"/versions/{version}" if version else "") + "/infer"
    return HttpParts(address, path, headers, header, b"".join(blobs))


def http_request(address: Address, model: str, version: str, inputs: Sequence[InputData], outputs: Sequence[str], headers: Mapping[str, str]) -> bytes:
    """One whole HTTP/1.1 inference request, ready for `sendall`."""
    return http_parts(address, model, version, inputs, outputs, headers).build()


def grpc_request(model: str, version: str, inputs: Sequence[InputData], outputs: Sequence[str], regions: Mapping[str, SharedRegion] | None = None) -> bytes:
    """One `ModelInferRequest`, serialized once (raw_input_contents, as tritonclient sends them;
    an input in `regions` names its shared-memory region instead)."""
    from tritonclient.grpc import service_pb2

    shared = regions or {}
    request = service_pb2.ModelInferRequest(model_name=model, model_version=version)
    for data in inputs:
        tensor = request.inputs.add(name=data.name, datatype=data.datatype)
        tensor.shape.extend(int(dim) for dim in data.array.shape)
        if data.name in shared:
            tensor.parameters["shared_memory_region"].string_param = shared[data.name].region
            tensor.parameters["shared_memory_byte_size"].int64_param = shared[data.name].byte_size
    if not shared:  # raw contents and shared regions do not mix in one request
        for data in inputs:
            request.raw_input_contents.append(tensor_bytes(data))
    elif len(shared) < len(inputs):
        raise UserError("with shared memory every input is in a region")
    for name in outputs:
        request.outputs.add(name=name)
    return bytes(request.SerializeToString())


def grpc_parameters(parameters: Mapping[str, object]) -> bytes:
    """A ModelInferRequest holding only `parameters`: appended to a serialized request, protobuf
    merges it in (a message's fields may come in any number of pieces)."""
    from tritonclient.grpc import service_pb2

    request = service_pb2.ModelInferRequest()
    for name, value in parameters.items():
        if isinstance(value, bool):
            request.parameters[name].bool_param = value
        else:
            request.parameters[name].int64_param = int(value)  # type: ignore[call-overload]
    return bytes(request.SerializeToString())


class SequenceIds:
    """The next sequence id, shared by the threads of a sweep."""

    def __init__(self, plan: SequencePlan) -> None:
        self.plan = plan
        self._next = plan.first_id
        self._lock = threading.Lock()

    def take(self) -> int:
        with self._lock:
            taken = self._next
            self._next = taken + 1 if self.plan.last_id is None or taken < self.plan.last_id else self.plan.first_id
            return taken


def sequence_parameters(local: threading.local, ids: SequenceIds) -> dict[str, object]:
    """The calling thread's next request's sequence parameters."""
    position: int = getattr(local, "position", 0)
    if position == 0:
        local.sequence_id = ids.take()
    local.position = (position + 1) % ids.plan.length
    return {"sequence_id": local.sequence_id, "sequence_start": position == 0, "sequence_end": position == ids.plan.length - 1}


class HttpConnection:
    """One keep-alive connection that sends a prepared request and reads its answer's length."""

    def __init__(self, address: Address, timeout_s: float) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self.sock: socket.socket | None = None
        self.buffer = bytearray()

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.address.host, self.address.port), timeout=self.timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.address.tls:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.address.host)
        self.buffer.clear()
        return sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def exchange(self, request: bytes) -> tuple[int, bytes]:
        """(status, body) of one request; a connection the server closed is opened again once."""
        for attempt in (0, 1):
            if self.sock is None:
                self.sock = self._connect()
            try:
                self.sock.sendall(request)
                return self._answer()
            except (ConnectionError, BrokenPipeError) as error:
                self.close()
                if attempt:
                    raise UserError(f"the server closed the connection: {error}") from None
        raise AssertionError("unreachable")

    def _answer(self) -> tuple[int, bytes]:
        assert self.sock is not None
        buffer = self.buffer
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            self._fill()
        head = bytes(buffer[:end]).decode("latin-1")
        del buffer[: end + 4]
        status_line, _, rest = head.partition("\r\n")
        status = int(status_line.split(" ", 2)[1])
        length = None
        closes = False
        for line in rest.split("\r\n"):
            name, _, value = line.partition(":")
            lowered = name.strip().lower()
            if lowered == "content-length":
                length = int(value)
            elif lowered == "connection" and "close" in value.lower():
                closes = True
            elif lowered == "transfer-encoding":
                raise UserError("the server answered a chunked body: the lean generator reads Content-Length answers (use --engine perf_analyzer)")
        if length is None:
            raise UserError("the server's answer has no Content-Length")
        while len(buffer) < length:
            self._fill()
        body = bytes(buffer[:length])
        del buffer[:length]
        if closes:
            self.close()
        return status, body

    def _fill(self) -> None:
        assert self.sock is not None
        data = self.sock.recv(READ)
        if not data:
            raise ConnectionError("closed by the server")
        self.buffer += data


def _http_error(body: bytes) -> str:
    try:
        return str(json.loads(body).get("error") or body[:200].decode(errors="replace"))
    except ValueError:
        return body[:200].decode(errors="replace")


class _Opened:
    """The connections (or channels, or streams) the threads of one sender opened, closed together."""

    def __init__(self, close_one: Callable[[Any], None]) -> None:
        self._items: list[Any] = []
        self._lock = threading.Lock()
        self._close_one = close_one

    def keep(self, item: T) -> T:
        with self._lock:
            self._items.append(item)
        return item

    def close(self) -> None:
        with self._lock:
            items, self._items = self._items, []
        for item in items:
            self._close_one(item)


def _check_outputs(outputs: Sequence[str], keys: Sequence[bytes], answer: bytes) -> None:
    """Every output asked for is named in the answer (its presence, not its values)."""
    missing = next((name for name, key in zip(outputs, keys, strict=True) if key not in answer), None)
    if missing is not None:
        raise UserError(f"output '{missing}' is missing from the answer")


def _next(local: threading.local, requests: Sequence[T]) -> T:
    """The calling thread's next step: each thread cycles through the steps on its own."""
    turn: int = getattr(local, "turn", 0)
    local.turn = turn + 1
    return requests[turn % len(requests)]


def http_sender(address: Address, next_request: Callable[[threading.local], bytes], outputs: Sequence[str], timeout_s: float) -> tuple[Callable[[], None], Callable[[], None]]:
    """(send, close): `send` is one request on the calling thread's connection; `close` ends them all."""
    local = threading.local()
    opened = _Opened(HttpConnection.close)
    wanted = [f'"name":"{name}"'.encode() for name in outputs]

    def send() -> None:
        connection: HttpConnection | None = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = opened.keep(HttpConnection(address, timeout_s))
        status, body = connection.exchange(next_request(local))
        if status != 200:
            raise UserError(f"HTTP {status}: {_http_error(body)}")
        _check_outputs(outputs, wanted, body)

    return send, opened.close


def grpc_sender(address: Address, next_request: Callable[[threading.local], bytes], outputs: Sequence[str], headers: Mapping[str, str], timeout_s: float) -> tuple[Callable[[], None], Callable[[], None]]:
    """(send, close) over grpcio's generic unary call, one channel per thread, bytes both ways."""
    import grpc

    local = threading.local()
    opened = _Opened(lambda channel: channel.close())
    metadata = tuple(headers.items())
    wanted = [name.encode() for name in outputs]

    def call() -> Callable[..., bytes]:
        method = getattr(local, "method", None)
        if method is None:
            method = local.method = opened.keep(_channel(address)).unary_unary(MODEL_INFER)
        return method  # type: ignore[no-any-return]

    def send() -> None:
        try:
            answer = call()(next_request(local), metadata=metadata, timeout=timeout_s)
        except grpc.RpcError as error:
            raise UserError(f"{error.code().name}: {error.details()}") from None
        _check_outputs(outputs, wanted, answer)

    return send, opened.close


def _channel(address: Address) -> Any:
    """A channel of the sender's own, no message size limit (a batch of photos is megabytes)."""
    import grpc

    options = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
    return grpc.secure_channel(address.target, grpc.ssl_channel_credentials(), options) if address.tls else grpc.insecure_channel(address.target, options)


MODEL_STREAM_INFER = "/inference.GRPCInferenceService/ModelStreamInfer"
STREAM_END = b""  # (never a request: a request always names its model)


def grpc_stream_sender(
    address: Address, next_request: Callable[[threading.local], bytes], headers: Mapping[str, str], timeout_s: float
) -> tuple[Callable[[], None], Callable[[], None]]:  # fmt: skip
    """(send, close) over `ModelStreamInfer` (perf_analyzer's `--streaming`): one stream per
    thread, each send one request on it and the wait for its answer. An answer whose first
    field is `error_message` is decoded, to say why; the others are not parsed."""
    import queue

    import grpc

    local = threading.local()

    def end(stream: tuple[Any, queue.Queue[bytes]]) -> None:
        stream[1].put(STREAM_END)
        stream[0].close()

    opened = _Opened(end)

    def stream() -> tuple[queue.Queue[bytes], Any]:
        current = getattr(local, "stream", None)
        if current is None:
            channel = _channel(address)
            outgoing: queue.Queue[bytes] = opened.keep((channel, queue.Queue()))[1]
            answers = channel.stream_stream(MODEL_STREAM_INFER)(iter(outgoing.get, STREAM_END), metadata=tuple(headers.items()))
            current = local.stream = (outgoing, answers)
        return current

    def send() -> None:
        outgoing, answers = stream()
        outgoing.put(next_request(local))
        try:
            answer: bytes = next(answers)
        except grpc.RpcError as error:
            local.stream = None
            raise UserError(f"{error.code().name}: {error.details()}") from None
        except StopIteration:
            local.stream = None
            raise UserError("the server ended the stream") from None
        if answer[:1] == b"\x0a":  # field 1, error_message, comes first when set
            from tritonclient.grpc import service_pb2

            message = service_pb2.ModelStreamInferResponse.FromString(answer).error_message
            if message:
                raise UserError(message)

    return send, opened.close


def lean_sender(
    address: Address, model: str, version: str, steps: Sequence[Sequence[InputData]], outputs: Sequence[str], headers: Mapping[str, str],
    timeout_s: float, sequence: SequencePlan | None = None, regions: Sequence[Mapping[str, SharedRegion]] = (), streaming: bool = False,
) -> tuple[Callable[[], None], Callable[[], None]]:  # fmt: skip
    """The sender for `address`'s protocol, each step's request built once; with `sequence`,
    each request carries its sequence's id and START/END flags (the only bytes built per request)."""
    if not steps:
        raise UserError("no input data to send")
    ids = SequenceIds(sequence) if sequence is not None else None
    grpc = address.transport is Transport.GRPC
    shared: list[Mapping[str, SharedRegion] | None] = list(regions) if regions else [None] * len(steps)
    if ids is None:
        built = [
            grpc_request(model, version, step, outputs, region) if grpc else http_parts(address, model, version, step, outputs, headers, region).build()
            for step, region in zip(steps, shared, strict=True)
        ]

        def plain(local: threading.local) -> bytes:
            return _next(local, built)

        next_request = plain
    elif grpc:
        bases = [grpc_request(model, version, step, outputs, region) for step, region in zip(steps, shared, strict=True)]

        def grpc_in_sequence(local: threading.local) -> bytes:
            parameters = sequence_parameters(local, ids)
            return _next(local, bases) + grpc_parameters(parameters)

        next_request = grpc_in_sequence
    else:
        parts = [http_parts(address, model, version, step, outputs, headers, region) for step, region in zip(steps, shared, strict=True)]

        def http_in_sequence(local: threading.local) -> bytes:
            parameters = sequence_parameters(local, ids)
            return _next(local, parts).build(parameters)

        next_request = http_in_sequence
    if streaming:
        if not grpc:
            raise UserError("--streaming is gRPC's: add -i grpc")
        return grpc_stream_sender(address, next_request, headers, timeout_s)
    if grpc:
        return grpc_sender(address, next_request, outputs, headers, timeout_s)
    return http_sender(address, next_request, outputs, timeout_s)
