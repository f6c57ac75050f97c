"""`triton-deck perf` and the Perf screen: what to send, then the sweep, one way for both.

The rules decided here: the model must answer its metadata (a missing or unloaded model is
its one-line reason, before any load), inputs come from real photos when given (and are
preprocessed as `classify` does), else from the model's metadata with `--shape` for
variable dimensions; the server's breakdown comes from the model's own statistics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from enum import StrEnum
from pathlib import Path

from services import bounded_get
from services.bounded_get import check_url
from services.cancel import CancelToken
from services.errors import UserError
from services.inference.endpoint import parse_address
from services.inference.protocol import InferenceClient, InputData, ModelMetadata, Scaling, SequencePlan, TensorSpec, image_files
from services.perf.analyzer import INSTALL_HINT, analyzer_sweep, find_binary
from services.perf.gpu_metrics import GpuReading, parse_gpu_metrics
from services.perf.input_file import read_input_data
from services.perf.inputs import image_inputs, synthetic_inputs
from services.perf.shared_memory import shared_inputs
from services.perf.sweep import Draining, PerfEvent, SweepConfig, sweep


def perf_inputs(
    client: InferenceClient, model: str, version: str = "", batch_size: int = 1, shapes: Mapping[str, tuple[int, ...]] | None = None,
    zero: bool = False, images: Sequence[Path] = (), scaling: Scaling = Scaling.NONE,
) -> list[InputData]:  # fmt: skip
    metadata = client.model_metadata(model, version)
    config = client.model_config(model, version)
    if images:
        return image_inputs(_metadata_json(metadata), config, image_files(list(images)), scaling, batch_size)
    max_batch = int(str(config.get("max_batch_size", 0) or 0))
    return synthetic_inputs(metadata.inputs, max_batch, batch_size, shapes or {}, zero)


DEFAULT_SEQUENCE_LENGTH = 20  # perf_analyzer's


def sequence_plan(client: InferenceClient, model: str, version: str = "", length: int | None = None, id_range: str | None = None) -> SequencePlan | None:
    """How to drive a sequence model (its config has `sequence_batching`), as perf_analyzer
    does: sequences of `length` requests, ids from `id_range` (`START[:END]`); None otherwise."""
    if "sequence_batching" not in client.model_config(model, version):
        return None
    first, last = 1, None
    if id_range:
        words = id_range.split(":")
        try:
            numbers = [int(word) for word in words]
        except ValueError:
            numbers = []
        if not 1 <= len(numbers) <= 2 or numbers[0] < 1 or (len(numbers) == 2 and numbers[1] < numbers[0]):
            raise UserError(f"--sequence-id-range '{id_range}' must be START[:END] with whole numbers from 1, END not below START")
        first, last = numbers[0], (numbers[1] if len(numbers) == 2 else None)
    length = DEFAULT_SEQUENCE_LENGTH if length is None else length
    if length < 1:
        raise UserError(f"--sequence-length {length}: give 1 or more")
    return SequencePlan(length, first, last)


def perf_steps(client: InferenceClient, model: str, path: Path, version: str = "", batch_size: int = 1) -> list[list[InputData]]:
    """The requests of `--input-data FILE.json` (perf_analyzer's format), checked against the model."""
    metadata = client.model_metadata(model, version)
    max_batch = int(str(client.model_config(model, version).get("max_batch_size", 0) or 0))
    return read_input_data(path, metadata.inputs, max_batch, batch_size)


def _metadata_json(metadata: ModelMetadata) -> dict[str, object]:
    """The metadata as Triton writes it, for the image preprocessing that reads that form."""

    def tensors(specs: Sequence[TensorSpec]) -> list[dict[str, object]]:
        return [{"name": t.name, "datatype": t.datatype, "shape": list(t.shape)} for t in specs]

    return {"name": metadata.name, "inputs": tensors(metadata.inputs), "outputs": tensors(metadata.outputs)}


METRICS_DEADLINE_S = 2.0
METRICS_MAX_BYTES = 4 * 1024 * 1024


class Engine(StrEnum):
    """Who generates the load: ours (the default), NVIDIA's perf_analyzer, or it where installed."""

    BUILTIN = "builtin"
    PERF_ANALYZER = "perf_analyzer"
    AUTO = "auto"


def choose_engine(engine: Engine, binary: str | None = None) -> Path | None:
    """perf_analyzer's path when it is to run the sweep, None for the built-in generator;
    asking for perf_analyzer where it is not installed is one line saying how to get it."""
    if engine is Engine.BUILTIN:
        return None
    found = find_binary(binary)
    if found is None and (engine is Engine.PERF_ANALYZER or binary):
        raise UserError(INSTALL_HINT if not binary else f"--perf-analyzer {binary} is not an executable file")
    return found


def _shared_sweep(
    client: InferenceClient, config: SweepConfig, steps: Sequence[Sequence[InputData]], cancel: CancelToken, sequence: SequencePlan | None,
    gpus: Callable[[], GpuReading] | None, streaming: bool,
) -> Iterator[PerfEvent]:  # fmt: skip
    """The sweep with its inputs in registered shared memory, released when it ends (or is closed)."""
    with shared_inputs(client, steps) as regions:
        send = client.sender(config.model, steps, config.version, sequence=sequence, regions=regions, streaming=streaming)
        yield from sweep(config, send, lambda: client.model_stats(config.model, config.version), cancel, gpus)


def metrics_url(client: InferenceClient, given: str | None = None) -> str:
    """Where Triton's Prometheus metrics are: `given`, else the server's host on Triton's port 8002."""
    if given:
        check_url(given, "--metrics-url")
        return given
    address = parse_address(client.endpoint.url, client.endpoint.transport)
    host = f"[{address.host}]" if ":" in address.host else address.host
    return f"http://{host}:8002/metrics"


def gpu_reader(url: str) -> Callable[[], GpuReading]:
    """One bounded read of `url`'s GPU series (a dead endpoint is one line, never a hang)."""

    def read() -> GpuReading:
        try:
            return parse_gpu_metrics(bounded_get.get(url, METRICS_DEADLINE_S, METRICS_MAX_BYTES).decode("utf-8", "replace"))
        except bounded_get.BoundedRead as error:
            raise UserError(f"metrics at {url}: {error}") from None

    return read


def run_sweep(
    client: InferenceClient, config: SweepConfig, inputs: Sequence[InputData], cancel: CancelToken, analyzer: Path | None = None,
    input_data: str = "random", shapes: Sequence[str] = (), steps: Sequence[Sequence[InputData]] = (), metrics: str | None = None,
    sequence: SequencePlan | None = None, shared_memory: bool = False, streaming: bool = False, draining: Draining | None = None,
) -> Iterator[PerfEvent]:  # fmt: skip
    """The sweep, by the built-in generator or by perf_analyzer at `analyzer`: the same events
    either way. `steps` (from `--input-data FILE.json`) replace `inputs`, requests cycling through
    them; `metrics` (a URL, with --collect-metrics) adds what the GPUs did per level. `draining`
    (the built-in engine, for `tune`) takes the last level's requests still in flight."""
    if analyzer is None:
        gpus = gpu_reader(metrics) if metrics else None
        if shared_memory:
            return _shared_sweep(client, config, steps or [inputs], cancel, sequence, gpus, streaming)
        send = client.sender(config.model, steps or [inputs], config.version, sequence=sequence, streaming=streaming)
        return sweep(config, send, lambda: client.model_stats(config.model, config.version), cancel, gpus, draining)
    if client.endpoint.bearer is not None:
        raise UserError(
            "perf_analyzer takes the token only on its command line, where any user of this host reads it: "
            "use the built-in engine (the default) for a private server"
        )
    return analyzer_sweep(analyzer, parse_address(client.endpoint.url, client.endpoint.transport), config, cancel, input_data, shapes, sequence=sequence, streaming=streaming)
