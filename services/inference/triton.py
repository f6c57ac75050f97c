"""`TritonInferenceClient`: the `InferenceClient` on tritonclient, over HTTP or gRPC.

tritonclient's clients are not thread-safe, so each thread that calls this object gets its
own (a thread-local), which is what lets `classify` keep several requests in flight for
throughput and lets the TUI's workers share one client object. Every failure leaves as a
one-line `UserError` naming the layer (see `diagnose`), never as a raw socket error.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from services.errors import UserError
from services.inference.diagnose import explain
from services.inference.endpoint import Address, parse_address
from services.inference.image_client import ImageModel, batch_tensor, check_batch_size, parse_classes, parse_image_model, preprocess
from services.inference.lean import lean_sender
from services.inference.protocol import (
    Classification,
    ClassifyRequest,
    ClassifyResult,
    Endpoint,
    Health,
    InferResult,
    InputData,
    ModelIndexEntry,
    ModelMetadata,
    OutputRequest,
    OutputTensor,
    SequencePlan,
    ServerMetadata,
    SharedRegion,
    TensorSpec,
    Transport,
)
from services.inference.stats import ModelStats, parse_model_stats

T = TypeVar("T")
CONNECT_TIMEOUT_S = 5.0  # a job URL that does not connect in 5 s is not going to


def plan_batches(images: Sequence[Path], batch_size: int) -> list[list[Path]]:
    """image_client's batches: in order, the last one filled by cycling from the first image."""
    batches = [list(images[start : start + batch_size]) for start in range(0, len(images), batch_size)]
    if batches and len(batches[-1]) < batch_size:
        last = batches[-1]
        last.extend(images[index % len(images)] for index in range(batch_size - len(last)))
    return batches


def _tensor_spec(data: dict[str, Any]) -> TensorSpec:
    return TensorSpec(str(data["name"]), str(data["datatype"]), tuple(int(dim) for dim in data.get("shape", [])))


class TritonInferenceClient:
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.address: Address = parse_address(endpoint.url, endpoint.transport)
        self.request_timeout_s = endpoint.timeout_s
        self.connect_timeout_s = min(CONNECT_TIMEOUT_S, endpoint.timeout_s)
        self._local = threading.local()
        self._clients: list[Any] = []
        self._closers: list[Callable[[], None]] = []  # the load generator's connections
        self._clients_lock = threading.Lock()
        self._image_models: dict[tuple[str, str], ImageModel] = {}

    # -- plumbing ----------------------------------------------------------------------------

    @property
    def _headers(self) -> dict[str, str] | None:
        if not self.endpoint.bearer:
            return None
        value = f"Bearer {self.endpoint.bearer.reveal()}"
        if self.endpoint.transport is Transport.GRPC:  # metadata is lowercase; Triton's own guard reads its prefixed key
            return {"authorization": value, "triton-grpc-protocol-authorization": value}
        return {"Authorization": value}

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._new_client()
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        return client

    def _new_client(self) -> Any:
        if self.endpoint.transport is Transport.GRPC:
            import tritonclient.grpc as grpcclient

            return grpcclient.InferenceServerClient(self.address.target, ssl=self.address.tls)
        import tritonclient.http as httpclient

        options: dict[str, Any] = {}
        if self.address.tls:
            import gevent.ssl

            options = {"ssl": True, "ssl_context_factory": gevent.ssl.create_default_context}
        return httpclient.InferenceServerClient(
            self.address.target, connection_timeout=self.connect_timeout_s, network_timeout=self.request_timeout_s, **options
        )

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """One tritonclient call with headers and timeout; transport failures become UserErrors."""
        if self.endpoint.transport is Transport.GRPC:
            kwargs["client_timeout"] = self.request_timeout_s
        try:
            return getattr(self._client(), method)(*args, headers=self._headers, **kwargs)
        except Exception as error:
            explained = explain(error, self.address, self.request_timeout_s)
            if explained is not None:
                raise explained from None
            raise

    def close(self) -> None:
        with self._clients_lock:
            clients, self._clients = self._clients, []
            closers, self._closers = self._closers, []
        for client in clients:
            client.close()
        for close in closers:
            close()

    # -- health and metadata -----------------------------------------------------------------

    def health(self) -> Health:
        started = time.perf_counter()
        live = bool(self._call("is_server_live"))
        ready = bool(self._call("is_server_ready"))
        latency_ms = (time.perf_counter() - started) * 1000 / 2
        if not (live and ready):
            self.server_metadata()  # a proxy's 401/404/502 reads as "not live" on HTTP: this names it
        return Health(live=live, ready=ready, latency_ms=latency_ms)

    def server_metadata(self) -> ServerMetadata:
        data = self._triton_json("get_server_metadata")
        return ServerMetadata(str(data.get("name", "")), str(data.get("version", "")), tuple(data.get("extensions", [])))

    def model_index(self) -> list[ModelIndexEntry]:
        data = self._triton_json("get_model_repository_index")
        rows = data.get("models", []) if isinstance(data, dict) else data
        return [ModelIndexEntry(str(row["name"]), str(row.get("version", "")), str(row.get("state", "")), str(row.get("reason", ""))) for row in rows]

    def model_metadata(self, model: str, version: str = "") -> ModelMetadata:
        data = self._model_json("get_model_metadata", model, version)
        return ModelMetadata(
            name=str(data["name"]),
            versions=tuple(str(v) for v in data.get("versions", [])),
            platform=str(data.get("platform", "")),
            inputs=tuple(_tensor_spec(spec) for spec in data.get("inputs", [])),
            outputs=tuple(_tensor_spec(spec) for spec in data.get("outputs", [])),
        )

    def model_config(self, model: str, version: str = "") -> dict[str, Any]:
        data = self._model_json("get_model_config", model, version)
        return dict(data.get("config", data)) if self.endpoint.transport is Transport.GRPC else dict(data)

    def _json(self, method: str, *args: Any, failed: Callable[[Any], UserError], **kwargs: Any) -> Any:
        """A metadata call as plain JSON on both protocols (gRPC int64s come back as strings);
        an error Triton answers becomes `failed(error)`."""
        from tritonclient.utils import InferenceServerException

        if self.endpoint.transport is Transport.GRPC:
            kwargs["as_json"] = True
        try:
            return self._call(method, *args, **kwargs)
        except InferenceServerException as error:
            raise failed(error) from None

    def _triton_json(self, method: str) -> Any:
        return self._json(method, failed=lambda error: UserError(f"{self.address.display}: {error.message()}"))

    def _model_json(self, method: str, model: str, version: str) -> Any:
        return self._json(method, model, model_version=version, failed=lambda _error: self._model_unavailable(model, version))

    def _model_unavailable(self, model: str, version: str) -> UserError:
        """Why Triton will not answer for `model`: not in the repository, or its state and reason."""
        index = self.model_index()
        entries = [entry for entry in index if entry.name == model]
        named = f"model '{model}'" + (f" version {version}" if version else "")
        if not entries:
            names = ", ".join(sorted({entry.name for entry in index})) or "none"
            return UserError(f"{named} is not in the repository of {self.address.display} (it has: {names}): check -m")
        states = [entry for entry in entries if not version or entry.version == version]
        if not states:
            versions = ", ".join(entry.version for entry in entries)
            return UserError(f"{named} is not in the repository (versions: {versions}): check -x")
        entry = states[0]
        reason = f": {entry.reason}" if entry.reason else ""
        return UserError(f"{named} is not ready ({entry.state or 'not loaded'}{reason})")

    # -- classification ----------------------------------------------------------------------

    def model_stats(self, model: str, version: str = "") -> ModelStats:
        return parse_model_stats(self._model_json("get_inference_statistics", model, version), model)

    def sender(
        self, model: str, steps: Sequence[Sequence[InputData]], version: str = "", outputs: Sequence[str] = (), sequence: SequencePlan | None = None,
        regions: Sequence[Mapping[str, SharedRegion]] = (), streaming: bool = False,
    ) -> Callable[[], None]:  # fmt: skip
        """The load generator's hot path (services/inference/lean.py): the request's bytes built
        once, each call one exchange on the calling thread's own connection; a refused request
        raises its reason in one line. Its connections close with this client."""
        send, close = lean_sender(self.address, model, version, steps, outputs, self._headers or {}, self.request_timeout_s, sequence, regions, streaming)
        with self._clients_lock:
            self._closers.append(close)

        def send_one() -> None:
            try:
                send()
            except OSError as error:
                explained = explain(error, self.address, self.request_timeout_s)
                if explained is not None:
                    raise explained from None
                raise

        return send_one

    def load_model(self, model: str, config: str | None = None) -> None:
        from tritonclient.utils import InferenceServerException

        try:
            self._call("load_model", model, config=config)
        except InferenceServerException as error:
            raise UserError(f"loading {model}: {error.message()}") from None

    def register_shared_memory(self, region: str, key: str, byte_size: int) -> None:
        self._call("register_system_shared_memory", region, key, byte_size)

    def unregister_shared_memory(self, region: str) -> None:
        self._call("unregister_system_shared_memory", region)

    def infer(self, model: str, inputs: Sequence[InputData], version: str = "", outputs: Sequence[OutputRequest] = ()) -> InferResult:
        from tritonclient.utils import InferenceServerException

        module = self._module()
        tensors = []
        for data in inputs:
            tensor = module.InferInput(data.name, list(data.array.shape), data.datatype)
            tensor.set_data_from_numpy(data.array)
            tensors.append(tensor)
        wanted = [module.InferRequestedOutput(output.name, class_count=output.class_count) for output in outputs] or None
        started = time.perf_counter()
        try:
            result = self._call("infer", model, tensors, model_version=version, outputs=wanted)
        except InferenceServerException as error:
            raise UserError(f"model '{model}' refused the request: {error.message()}") from None
        latency_ms = (time.perf_counter() - started) * 1000
        response = result.get_response(as_json=True) if self.endpoint.transport is Transport.GRPC else result.get_response()
        answered = tuple(
            OutputTensor(str(item["name"]), str(item["datatype"]), tuple(int(dim) for dim in item.get("shape", ())), result.as_numpy(item["name"]))
            for item in response.get("outputs", ())
        )  # fmt: skip
        return InferResult(str(response.get("model_name", model)), str(response.get("model_version", version)), answered, latency_ms)

    def _module(self) -> Any:
        if self.endpoint.transport is Transport.GRPC:
            import tritonclient.grpc as grpc_module

            return grpc_module
        import tritonclient.http as http_module

        return http_module

    def image_model(self, model: str, version: str = "") -> ImageModel:
        """Read once per client: a run (or the pane's repeated runs) does not pay two lookups per call."""
        key = (model, version)
        if key not in self._image_models:
            metadata = self._model_json("get_model_metadata", model, version)
            self._image_models[key] = parse_image_model(metadata, self.model_config(model, version))
        return self._image_models[key]

    def classify(self, request: ClassifyRequest) -> Iterator[ClassifyResult]:
        """Results in image order; one image's failure is its result, a dead server stops the run."""
        if request.top_k < 1:
            raise UserError(f"class count {request.top_k} is not valid: use 1 or more (-c)")
        model = self.image_model(request.model, request.version)
        check_batch_size(model, request.batch_size)
        batches = plan_batches(request.images, request.batch_size)
        tasks = [lambda number=number, paths=paths: self._run_batch(model, request, number, paths) for number, paths in enumerate(batches)]
        for results in _in_order(tasks, request.concurrency):
            yield from results

    def _run_batch(self, model: ImageModel, request: ClassifyRequest, number: int, paths: list[Path]) -> list[ClassifyResult]:
        from tritonclient.utils import InferenceServerException

        tensors, readable, failed = [], [], []
        for path in paths:
            try:
                tensors.append(preprocess(path, model, request.scaling))
                readable.append(path)
            except UserError as error:
                failed.append(ClassifyResult(str(path), error=error.message, request=number))
        if not tensors:
            return failed
        started = time.perf_counter()
        try:
            rows = self._infer(model, request, number, tensors)
        except InferenceServerException as error:
            message = f"inference failed: {error.message()}"
            return failed + [ClassifyResult(str(path), error=message, request=number) for path in readable]
        latency_ms = (time.perf_counter() - started) * 1000
        answered = [
            ClassifyResult(str(path), tuple(Classification.parse(text) for text in row), latency_ms, request=number, batch_size=len(tensors))
            for path, row in zip(readable, rows, strict=True)
        ]
        return failed + answered

    def _infer(self, model: ImageModel, request: ClassifyRequest, number: int, tensors: list[Any]) -> list[list[str]]:
        module = self._module()
        batch = batch_tensor(model, tensors)
        tensor = module.InferInput(model.input_name, list(batch.shape), model.datatype)
        tensor.set_data_from_numpy(batch)
        output = module.InferRequestedOutput(model.output_name, class_count=request.top_k)
        result = self._call("infer", model.name, [tensor], model_version=request.version, outputs=[output], request_id=str(number))
        return parse_classes(result.as_numpy(model.output_name), model, len(tensors))


def _in_order(tasks: Sequence[Callable[[], T]], concurrency: int) -> Iterator[T]:
    """Run tasks with up to `concurrency` in flight, yielding results in task order."""
    if concurrency <= 1:
        for task in tasks:
            yield task()
        return
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="classify") as pool:
        pending: deque[Future[T]] = deque()
        remaining = iter(tasks)
        try:
            for task in remaining:
                pending.append(pool.submit(task))
                if len(pending) >= 2 * concurrency:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
