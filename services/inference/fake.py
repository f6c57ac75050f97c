"""`FakeInferenceClient`: a Triton server in memory with scripted top-k answers."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

from services.errors import UserError
from services.inference.protocol import (
    Classification,
    ClassifyRequest,
    ClassifyResult,
    Endpoint,
    Health,
    ModelIndexEntry,
    ModelMetadata,
    ServerMetadata,
    TensorSpec,
)
from services.perf.inputs import InputData
from services.perf.stats import Counter, ModelStats

EFFICIENTNET = ModelMetadata(
    name="efficientnet_lite0",
    versions=("1",),
    platform="python",
    inputs=(TensorSpec("input", "FP32", (-1, 3, 224, 224)),),
    outputs=(TensorSpec("logits", "FP32", (-1, 1000)),),
)


class FakeInferenceClient:
    def __init__(
        self,
        endpoint: Endpoint,
        answers: Mapping[str, tuple[str, ...]],
        models: tuple[ModelIndexEntry, ...] = (ModelIndexEntry("efficientnet_lite0", "1", "READY"),),
        ready: bool = True,
        failure: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._answers = answers
        self._models = models
        self._ready = ready
        self._failure = failure  # what an unreachable server's health check says
        self._stats_reads = 0

    def health(self) -> Health:
        if self._failure:
            raise UserError(self._failure)
        return Health(live=True, ready=self._ready, latency_ms=1.0)

    def server_metadata(self) -> ServerMetadata:
        return ServerMetadata("triton", "2.51.0", ("classification", "model_repository", "statistics"))

    def model_index(self) -> list[ModelIndexEntry]:
        return list(self._models)

    def model_metadata(self, model: str, version: str = "") -> ModelMetadata:
        if model != EFFICIENTNET.name:
            raise UserError(f"model '{model}' is not in the repository: pick one from the models table")
        return EFFICIENTNET

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

    def model_stats(self, model: str, version: str = "") -> ModelStats:
        """Counters that grow by 40 successful requests per reading: queue 200 µs, compute 1-8-1 ms each."""
        self.model_metadata(model, version)
        self._stats_reads += 1
        count = 40 * self._stats_reads
        phases = {"success": 9_800_000, "queue": 200_000, "compute_input": 1_000_000, "compute_infer": 8_000_000, "compute_output": 600_000}
        return ModelStats(count, count, tuple((name, Counter(count, ns * count // 1000)) for name, ns in phases.items()))

    def sender(self, model: str, inputs: Sequence[InputData], version: str = "", outputs: Sequence[str] = ()) -> Callable[[], None]:
        self.model_metadata(model, version)
        return lambda: None
