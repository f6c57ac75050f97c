"""The local app endpoint's gRPC side: each call to a ready replica, each stream to one replica
for its whole life.

A gRPC client holds one HTTP/2 connection and sends every call on it, so a connection-level
relay pins a client to one replica. Here grpcio itself ends the client's HTTP/2 (flow
control, HPACK, framing are its job, not hand parsing) and each call is made again on a
channel to the replica the pool chose (services/apps/replica_pool.py), with generic
handlers that carry messages as raw bytes: what a replica answers reaches the client
unchanged, with its initial and trailing metadata and its status. Triton's one streaming
method, `ModelStreamInfer`, is relayed as a stream pinned to one replica.

A private app's token is checked here, before a replica is chosen: a call without it is
refused UNAUTHENTICATED and no replica sees it (each replica's guard checks it again).
A call that fails because its replica died answers UNAVAILABLE naming the replica; the
pool sets that replica aside, so the client's next call goes to another.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from typing import Any

import grpc

from services.apps.replica_pool import Backend, ReplicaPool
from services.secrets import Secret
from services.triton.guard import TOKEN_HEADERS, authorized

STREAMING = frozenset({"/inference.GRPCInferenceService/ModelStreamInfer"})  # every other method of Triton's is unary
OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1), ("grpc.so_reuseport", 0)]
CHANNEL_OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
WORKERS = 64  # calls in flight at once through the endpoint (perf at concurrency 64 keeps them all busy)
NO_DEADLINE_S = 365 * 24 * 3600.0  # a time remaining beyond this is no deadline at all
RETIRED_CHANNEL_S = 120.0  # a replica no longer ready keeps its channel this long, for the calls still on it


def deadline(context: grpc.ServicerContext) -> float | None:
    """The client's own deadline, passed on; none when it set none (grpcio then reports a far future)."""
    remaining = context.time_remaining()
    return remaining if remaining is not None and remaining < NO_DEADLINE_S else None


def forwarded(context: grpc.ServicerContext) -> list[tuple[str, Any]]:
    """The client's metadata as the replica must see it (grpcio sets its own user-agent)."""
    return [(item.key, item.value) for item in context.invocation_metadata() if item.key != "user-agent" and not item.key.startswith("grpc-")]


class GrpcBalancer:
    """One gRPC port in front of the replicas' gRPC ports."""

    def __init__(self, port: int, pool: ReplicaPool | None = None, token: Secret | None = None) -> None:
        self.port = port
        self.pool = pool or ReplicaPool()
        self._expected = f"Bearer {token.reveal()}".encode() if token is not None else None
        self._channels: dict[Backend, grpc.Channel] = {}
        self._retired: dict[Backend, float] = {}
        self._lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(WORKERS, thread_name_prefix="grpc-endpoint"), handlers=[_Handler(self)], options=OPTIONS)
        if self.server.add_insecure_port(f"127.0.0.1:{port}") == 0:
            raise OSError(f"127.0.0.1:{port} is taken")

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop(grace=1).wait(5)
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()

    def set_backends(self, backends: Sequence[Backend]) -> None:
        """The ready replicas from now on; a channel to one that left is closed a while later."""
        self.pool.set_backends(backends)
        clock = time.monotonic()
        with self._lock:
            for backend in list(self._channels):
                if backend in backends:
                    self._retired.pop(backend, None)
                elif self._retired.setdefault(backend, clock) < clock - RETIRED_CHANNEL_S:
                    self._channels.pop(backend).close()
                    del self._retired[backend]

    def channel(self, backend: Backend) -> grpc.Channel:
        with self._lock:
            channel = self._channels.get(backend)
            if channel is None:
                channel = self._channels[backend] = grpc.insecure_channel(f"{backend.host}:{backend.port}", options=CHANNEL_OPTIONS)
            return channel

    def admit(self, context: grpc.ServicerContext) -> Backend:
        """The replica for this call, after the token; aborts the call when there is none."""
        if self._expected is not None:
            values = [item.value for item in context.invocation_metadata() if item.key.encode() in TOKEN_HEADERS]
            expected = self._expected
            if not any(authorized(value.encode() if isinstance(value, str) else value, expected) for value in values):
                context.abort(grpc.StatusCode.UNAUTHENTICATED, "this app is private: send Authorization: Bearer <token> (`triton-deck profile token` prints it)")
        backend = self.pool.choose()
        if backend is None:
            context.abort(grpc.StatusCode.UNAVAILABLE, "no replica is ready (yet)")
        assert backend is not None
        return backend

    def failed(self, backend: Backend, started: float, error: grpc.RpcError, context: grpc.ServicerContext) -> None:
        """The replica's status, passed on; a transport failure names the replica and sets it aside."""
        call: Any = error
        code, details = call.code(), call.details() or ""
        transport = code is grpc.StatusCode.UNAVAILABLE
        self.pool.finish(backend, started, ok=False, transport_failed=transport)
        context.set_trailing_metadata(tuple(call.trailing_metadata() or ()))
        context.abort(code, f"replica {backend.replica}: {details}" if transport else details)

    def unary(self, method: str) -> Callable[[bytes, grpc.ServicerContext], bytes]:
        def relay(request: bytes, context: grpc.ServicerContext) -> bytes:
            backend = self.admit(context)
            started = time.monotonic()
            try:
                answer, call = self.channel(backend).unary_unary(method).with_call(request, metadata=forwarded(context), timeout=deadline(context))
            except grpc.RpcError as error:
                self.failed(backend, started, error, context)
                raise  # not reached: abort raised
            self.pool.finish(backend, started, ok=True)
            context.send_initial_metadata(tuple(call.initial_metadata() or ()))
            context.set_trailing_metadata(tuple(call.trailing_metadata() or ()))
            return bytes(answer)

        return relay

    def stream(self, method: str) -> Callable[[Iterator[bytes], grpc.ServicerContext], Iterator[bytes]]:
        def relay(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
            backend = self.admit(context)
            started = time.monotonic()
            call: Any = self.channel(backend).stream_stream(method)(requests, metadata=forwarded(context), timeout=deadline(context))
            context.add_callback(call.cancel)  # the client went away: so does the replica's stream
            try:
                context.send_initial_metadata(tuple(call.initial_metadata() or ()))
                yield from call
            except grpc.RpcError as error:
                self.failed(backend, started, error, context)
            self.pool.finish(backend, started, ok=True)
            context.set_trailing_metadata(tuple(call.trailing_metadata() or ()))

        return relay


class _Handler(grpc.GenericRpcHandler):  # type: ignore[misc]  # grpcio ships no stubs
    """Every method, its messages as bytes: no serializer on either side."""

    def __init__(self, balancer: GrpcBalancer) -> None:
        self.balancer = balancer

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method: str = handler_call_details.method
        if method in STREAMING:
            return grpc.stream_stream_rpc_method_handler(self.balancer.stream(method))
        return grpc.unary_unary_rpc_method_handler(self.balancer.unary(method))
