"""The `InferenceClient` capability and its typed results.

Results mirror Triton's v2 protocol and the classification extension, and
`Classification.image_client_line()` prints exactly what Triton's `image_client` prints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from services.secrets import Secret

if TYPE_CHECKING:
    import numpy.typing as npt

    from services.inference.stats import ModelStats



class Transport(StrEnum):
    HTTP = "http"
    GRPC = "grpc"


class Scaling(StrEnum):
    NONE = "NONE"
    INCEPTION = "INCEPTION"
    VGG = "VGG"


DEFAULT_PORTS = {Transport.HTTP: 8000, Transport.GRPC: 8001}


@dataclass(frozen=True)
class Endpoint:
    """Where the server is: `url` as typed (scheme optional), the protocol to use, the AI
    token to send as `Authorization: Bearer` when the job is not `--unsecure-http`, and how
    long to wait for an answer."""

    url: str
    transport: Transport = Transport.HTTP
    bearer: Secret | None = field(default=None, compare=False)
    timeout_s: float = 30.0


@dataclass(frozen=True)
class Health:
    live: bool
    ready: bool
    latency_ms: float


@dataclass(frozen=True)
class ServerMetadata:
    name: str
    version: str
    extensions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelIndexEntry:
    """A row of the repository index: `state` is READY, UNAVAILABLE, LOADING or empty (not loaded)."""

    name: str
    version: str = ""
    state: str = ""
    reason: str = ""


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class ModelMetadata:
    name: str
    versions: tuple[str, ...]
    platform: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


@dataclass(frozen=True)
class Classification:
    """One class of a top-k answer, parsed from the server's `score:index[:label]` string."""

    score: str
    index: int
    label: str | None = None

    @classmethod
    def parse(cls, text: str) -> Classification:
        parts = text.split(":", 2)
        return cls(score=parts[0], index=int(parts[1]), label=parts[2] if len(parts) > 2 else None)

    @property
    def value(self) -> float:
        return float(self.score)

    def image_client_line(self) -> str:
        """`    15.346230 (504) = COFFEE MUG`; a model without labels gives `    15.346230 (504)`."""
        return f"    {self.score} ({self.index})" + (f" = {self.label}" if self.label is not None else "")


@dataclass(frozen=True)
class ClassifyResult:
    """The top-k of one image, or why that image failed (a failure never stops the batch).

    `request` numbers the inference request the image went in (from 0, as the tutorial's
    image_client prints it); images of one batch share it and its latency.
    """

    image: str
    classes: tuple[Classification, ...] = ()
    latency_ms: float | None = None
    error: str | None = None
    request: int | None = None
    batch_size: int = 1


@dataclass(frozen=True)
class ClassifyRequest:
    model: str
    images: tuple[Path, ...]
    version: str = ""
    top_k: int = 3
    scaling: Scaling = Scaling.NONE
    batch_size: int = 1
    concurrency: int = 1  # requests in flight at once, each thread with its own client


@dataclass(frozen=True)
class InputData:
    """One input tensor of a request, as it is sent."""

    name: str
    datatype: str
    array: npt.NDArray[Any]


@dataclass(frozen=True)
class OutputRequest:
    """An output to return; `class_count` > 0 asks for the classification extension's top-k strings."""

    name: str
    class_count: int = 0


@dataclass(frozen=True)
class OutputTensor:
    name: str
    datatype: str
    shape: tuple[int, ...]
    array: Any  # numpy.ndarray: numpy stays out of the protocol's import cost


@dataclass(frozen=True)
class InferResult:
    """One request's outputs, in the order the server answered them, and its round-trip time."""

    model: str
    version: str
    outputs: tuple[OutputTensor, ...]
    latency_ms: float


@dataclass(frozen=True)
class SequencePlan:
    """perf_analyzer's sequences: each thread sends sequences of `length` requests, each a new
    id from `first_id` to `last_id` (then round again), START on the first, END on the last."""

    length: int
    first_id: int = 1
    last_id: int | None = None


@dataclass(frozen=True)
class SharedRegion:
    """An input already in a registered system shared-memory region: a request names the
    region instead of carrying the bytes (perf_analyzer's `--shared-memory system`)."""

    region: str
    byte_size: int


@runtime_checkable
class InferenceClient(Protocol):
    endpoint: Endpoint

    def health(self) -> Health: ...

    def server_metadata(self) -> ServerMetadata: ...

    def model_index(self) -> list[ModelIndexEntry]: ...

    def model_metadata(self, model: str, version: str = "") -> ModelMetadata: ...

    def model_config(self, model: str, version: str = "") -> dict[str, object]: ...

    def classify(self, request: ClassifyRequest) -> Iterator[ClassifyResult]: ...

    def infer(self, model: str, inputs: Sequence[InputData], version: str = "", outputs: Sequence[OutputRequest] = ()) -> InferResult:
        """One inference request with `inputs` as given (shapes and dtypes already checked);
        every output when `outputs` is empty. The server's refusal is a UserError."""
        ...

    def model_stats(self, model: str, version: str = "") -> ModelStats:
        """The model's cumulative counters now (`/v2/models/{m}/stats`)."""
        ...

    def sender(
        self, model: str, steps: Sequence[Sequence[InputData]], version: str = "", outputs: Sequence[str] = (), sequence: SequencePlan | None = None,
        regions: Sequence[Mapping[str, SharedRegion]] = (), streaming: bool = False,
    ) -> Callable[[], None]:  # fmt: skip
        """One inference request, each call on the calling thread's own connection, with the
        next of `steps` (each a request's inputs; a thread cycles through them, as perf_analyzer
        cycles through its input data): what a load sweep repeats (requests are built once, here).
        With `sequence`, each thread sends whole sequences with their ids and START/END flags;
        with `regions` (per step, per input), inputs are named by their shared-memory region;
        with `streaming` (gRPC), each thread sends on a `ModelStreamInfer` stream of its own."""
        ...

    def load_model(self, model: str, config: str | None = None) -> None:
        """Load (or reload) `model` through the repository API; `config` (the model config as
        JSON) overrides config.pbtxt without writing it. The server must be in explicit mode."""
        ...

    def register_shared_memory(self, region: str, key: str, byte_size: int) -> None:
        """Register the system shared-memory object `key` (as in /dev/shm) as `region`."""
        ...

    def unregister_shared_memory(self, region: str) -> None:
        ...


def image_files(paths: Sequence[Path]) -> list[Path]:
    """Files named directly, plus the regular files of named directories, sorted (as image_client does)."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path])
    return files
