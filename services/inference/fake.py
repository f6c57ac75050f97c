"""`FakeInferenceClient`: a Triton server in memory with scripted top-k answers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

from services.errors import UserError
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
)
from services.inference.stats import Counter, ModelStats

EFFICIENTNET = ModelMetadata(
    name="efficientnet_lite0",
    versions=("1",),
    platform="python",
    inputs=(TensorSpec("input", "FP32", (-1, 3, 224, 224)),),
    outputs=(TensorSpec("logits", "FP32", (-1, 1000)),),
)

# The tutorial's `simple`: OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1.
SIMPLE = ModelMetadata(
    name="simple",
    versions=("1",),
    platform="python",
    inputs=(TensorSpec("INPUT0", "INT32", (-1, 16)), TensorSpec("INPUT1", "INT32", (-1, 16))),
    outputs=(TensorSpec("OUTPUT0", "INT32", (-1, 16)), TensorSpec("OUTPUT1", "INT32", (-1, 16))),
)
MODELS = {model.name: model for model in (EFFICIENTNET, SIMPLE)}


class FakeStatsCounter:
    """A served model's counters, shared by every client of one fake server (the panel opens a
    client per reading), moving in a deterministic wave: 30-70 requests between two
    readings, the queue growing with the load (0.2-1 ms a request), compute about 9 ms."""

    WAVE = (0, 1, 2, 4, 3, 1)

    def __init__(self) -> None:
        self._reads = self._count = self._queue_ns = 0
        self._lock = threading.Lock()

    def read(self) -> ModelStats:
        with self._lock:
            step = self.WAVE[self._reads % len(self.WAVE)]
            self._reads += 1
            self._count += 30 + 10 * step
            self._queue_ns += (30 + 10 * step) * (200_000 + 200_000 * step)
            count, queue = self._count, self._queue_ns
        phases = {"success": count * 9_800_000, "queue": queue, "compute_input": count * 400_000, "compute_infer": count * 8_500_000, "compute_output": count * 100_000}
        return ModelStats(count, count, tuple((name, Counter(count, ns)) for name, ns in phases.items()))


class FakeInferenceClient:
    def __init__(
        self,
        endpoint: Endpoint,
        answers: Mapping[str, tuple[str, ...]],
        models: tuple[ModelIndexEntry, ...] = (ModelIndexEntry("efficientnet_lite0", "1", "READY"),),
        ready: bool = True,
        failure: str | None = None,
        stats: FakeStatsCounter | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._answers = answers
        self._models = models
        self._ready = ready
        self._failure = failure  # what an unreachable server's health check says
        self._stats = stats or FakeStatsCounter()
        self.shared_regions: dict[str, tuple[str, int]] = {}  # registered shared-memory regions: key, size
        self.loaded_configs: list[tuple[str, str | None]] = []  # load_model calls, in order

    def health(self) -> Health:
        if self._failure:
            raise UserError(self._failure)
        return Health(live=True, ready=self._ready, latency_ms=1.0)

    def server_metadata(self) -> ServerMetadata:
        return ServerMetadata("triton", "2.51.0", ("classification", "model_repository", "statistics"))

    def model_index(self) -> list[ModelIndexEntry]:
        return list(self._models)

    def model_metadata(self, model: str, version: str = "") -> ModelMetadata:
        if model not in MODELS:
            raise UserError(f"model '{model}' is not in the repository: pick one from the models table")
        return MODELS[model]

    def model_config(self, model: str, version: str = "") -> dict[str, object]:
        self.model_metadata(model, version)
        return {"name": model, "backend": "python", "max_batch_size": 8}

    def classify(self, request: ClassifyRequest) -> Iterator[ClassifyResult]:
        """One request per image; a file without a scripted answer fails as an unreadable image does."""
        self.model_metadata(request.model, request.version)
        for number, image in enumerate(request.images):
            answer = self._answers.get(image.name)
            if answer is None:
                yield ClassifyResult(image=str(image), error="not an image file PIL can read: pass JPEG, PNG or another picture", request=number)
                continue
            classes = tuple(Classification.parse(text) for text in answer[: request.top_k])
            yield ClassifyResult(image=str(image), classes=classes, latency_ms=10.0, request=number)

    def infer(self, model: str, inputs: Sequence[InputData], version: str = "", outputs: Sequence[OutputRequest] = ()) -> InferResult:
        """`simple` adds and subtracts as the real one does; any other model answers zeros of its output shapes."""
        import numpy as np

        metadata = self.model_metadata(model, version)
        given = {data.name: data.array for data in inputs}
        batch = next(iter(given.values())).shape[0] if given else 1
        if model == SIMPLE.name:
            arrays = {"OUTPUT0": given["INPUT0"] + given["INPUT1"], "OUTPUT1": given["INPUT0"] - given["INPUT1"]}
        else:
            arrays = {spec.name: np.zeros((batch, *spec.shape[1:]), np.float32) for spec in metadata.outputs}
        names = [output.name for output in outputs] or [spec.name for spec in metadata.outputs]
        types = {spec.name: spec.datatype for spec in metadata.outputs}
        answered = tuple(OutputTensor(name, types[name], tuple(arrays[name].shape), arrays[name]) for name in names)
        return InferResult(model, version or metadata.versions[-1], answered, 1.0)

    def model_stats(self, model: str, version: str = "") -> ModelStats:
        self.model_metadata(model, version)
        return self._stats.read()

    def sender(
        self, model: str, steps: Sequence[Sequence[InputData]], version: str = "", outputs: Sequence[str] = (), sequence: SequencePlan | None = None,
        regions: Sequence[Mapping[str, SharedRegion]] = (), streaming: bool = False,
    ) -> Callable[[], None]:  # fmt: skip
        self.model_metadata(model, version)
        return lambda: time.sleep(0.001)  # a millisecond a request: a sweep on the fake measures something, without spinning

    def load_model(self, model: str, config: str | None = None) -> None:
        self.model_metadata(model)
        self.loaded_configs.append((model, config))

    def register_shared_memory(self, region: str, key: str, byte_size: int) -> None:
        self.shared_regions[region] = (key, byte_size)

    def unregister_shared_memory(self, region: str) -> None:
        self.shared_regions.pop(region, None)
