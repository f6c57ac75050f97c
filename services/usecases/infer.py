"""Generic inference: one request to any model, its tensors from what a person types.

`classify` knows image classifiers; most models are not (detectors, text models with BYTES
inputs, tabular models, the tutorial's own `simple`). Here every input comes from
`--input NAME=VALUE` (a JSON array, `@file.npy`, `@file.json`, or a plain string for a
BYTES input), from perf_analyzer's real-data JSON (its first step), or is filled with
random or zero data. Each tensor is checked against the model's own metadata before
anything is sent, so a wrong shape or dtype is one line naming the input, what the model
wants and what was given, not the server's error three layers down.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from services.errors import UserError
from services.inference.protocol import InferenceClient, InferResult, InputData, ModelMetadata, OutputRequest, TensorSpec
from services.perf.inputs import DTYPES, synthetic_inputs
from services.usecases.inference import max_batch_size

FILLS = ("random", "zero")
INTEGER_KINDS = "iu"


def parse_input_flags(words: Sequence[str]) -> dict[str, str]:
    """`NAME=VALUE` pairs, each name once."""
    given: dict[str, str] = {}
    for word in words:
        name, equals, value = word.partition("=")
        if not equals or not name.strip():
            raise UserError(f"--input '{word}' must be NAME=VALUE: a JSON array, @file.npy, @file.json or a string, e.g. INPUT0=[1,2,3]")
        if name in given:
            raise UserError(f"--input {name} is given twice: keep one")
        given[name] = value
    return given


def parse_output_flags(words: Sequence[str]) -> list[OutputRequest]:
    """`NAME` or `NAME:CLASS_COUNT` (the top-k strings of the classification extension)."""
    wanted = []
    for word in words:
        name, colon, count = word.rpartition(":") if ":" in word else (word, "", "")
        if colon and not (count.isdigit() and int(count) >= 1):
            raise UserError(f"--output '{word}' must be NAME or NAME:CLASS_COUNT with a count of 1 or more, e.g. OUTPUT0:3")
        if not name:
            raise UserError(f"--output '{word}' names no output: e.g. --output OUTPUT0")
        wanted.append(OutputRequest(name, int(count) if colon else 0))
    return wanted


def first_step(path: Path) -> dict[str, Any]:
    """The first step of perf_analyzer's real-data file: `{"data": [{NAME: values, ...}, ...]}`
    (a list of streams, each a list of steps, also reads as its first stream's first step)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UserError(f"--input-data {path}: {error.strerror or error}") from None
    except (ValueError, UnicodeDecodeError):
        raise UserError(f"--input-data {path}: not JSON; perf_analyzer's format is {{\"data\": [{{\"INPUT0\": [1, 2]}}]}}") from None
    steps = document.get("data") if isinstance(document, dict) else None
    step = steps[0] if isinstance(steps, list) and steps else None
    if isinstance(step, list):
        step = step[0] if step else None
    if not isinstance(step, dict):
        raise UserError(f"--input-data {path}: no step in \"data\"; perf_analyzer's format is {{\"data\": [{{\"INPUT0\": [1, 2]}}]}}")
    return step


def model_inputs(
    metadata: ModelMetadata, max_batch: int, given: Mapping[str, str], data: Mapping[str, Any], fill: str | None, batch_size: int | None,
    fills: Mapping[str, str] | None = None,
) -> list[InputData]:  # fmt: skip
    """Every input of the model, from `given` (the --input flags), then `data` (a real-data step),
    then its own fill in `fills` (the pane's per-input choice), then `fill`; shapes and dtypes
    checked against the model's metadata and `max_batch` (its config's max_batch_size)."""
    model = metadata.name
    names = [spec.name for spec in metadata.inputs]
    fills = fills or {}
    for name in [*given, *data, *fills]:
        if name not in names:
            raise UserError(f"model '{model}' has no input '{name}' (its inputs: {', '.join(names) or 'none'})")
    if batch_size is not None and (batch_size < 1 or (max_batch == 0 and batch_size != 1) or batch_size > max(max_batch, 1)):
        limit = "it does not batch (max_batch_size 0): drop -b" if max_batch == 0 else f"its max_batch_size is {max_batch}"
        raise UserError(f"batch size {batch_size} does not fit model '{model}': {limit}")
    made: dict[str, InputData] = {}
    to_fill: dict[str, list[TensorSpec]] = {}
    for spec in metadata.inputs:
        if spec.name in given:
            array = _from_text(given[spec.name], spec)
        elif spec.name in data:
            array = _from_json(data[spec.name], spec, "--input-data")
        elif (chosen := fills.get(spec.name, fill)) is not None:
            to_fill.setdefault(chosen, []).append(spec)
            continue
        else:
            raise UserError(f"input '{spec.name}' ({_wanted(spec, max_batch)}) has no value: give --input {spec.name}=[...], --input-data FILE, or --random")
        made[spec.name] = InputData(spec.name, spec.datatype, _fit(array, spec, max_batch, batch_size))
    for chosen, specs in to_fill.items():  # one generator per kind of fill: two random inputs differ
        made.update((data.name, data) for data in synthetic_inputs(specs, max_batch, batch_size or 1, {}, zero=chosen == "zero"))
    return [made[spec.name] for spec in metadata.inputs]


def infer(
    client: InferenceClient, model: str, version: str = "", given: Mapping[str, str] | None = None, data_file: Path | None = None,
    fill: str | None = None, batch_size: int | None = None, outputs: Sequence[OutputRequest] = (), fills: Mapping[str, str] | None = None,
) -> InferResult:  # fmt: skip
    """What `triton-deck infer` and the Inference pane's Infer mode run."""
    data = first_step(data_file) if data_file is not None else {}
    metadata = client.model_metadata(model, version)  # read once: the inputs and the outputs are checked against it
    inputs = model_inputs(metadata, max_batch_size(client, model, version), given or {}, data, fill, batch_size, fills)
    known = {spec.name for spec in metadata.outputs}
    unknown = [output.name for output in outputs if output.name not in known]
    if unknown:
        raise UserError(f"model '{model}' has no output '{unknown[0]}' (its outputs: {', '.join(sorted(known)) or 'none'})")
    return client.infer(model, inputs, version, outputs)


def split_fields(fields: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """A form's fields (one per input: `random`, `zero`, a JSON literal, @file or a string) as
    the values given and the inputs to fill; an empty field is random."""
    given, fills = {}, {}
    for name, text in fields.items():
        if text.strip().lower() in ("", *FILLS):
            fills[name] = text.strip().lower() or FILLS[0]
        else:
            given[name] = text
    return given, fills


# -- one input's values ------------------------------------------------------------------------


def _from_text(value: str, spec: TensorSpec) -> npt.NDArray[Any]:
    label = f"--input {spec.name}"
    if value.startswith("@"):
        path = Path(value[1:]).expanduser()
        if path.suffix == ".npy":
            try:
                return np.load(path, allow_pickle=False)  # type: ignore[no-any-return]
            except (OSError, ValueError) as error:
                raise UserError(f"{label}: {path} is not a readable .npy file ({error})") from None
        try:
            return _from_json(json.loads(path.read_text(encoding="utf-8")), spec, label)
        except OSError as error:
            raise UserError(f"{label}: cannot read {path}: {error.strerror or error}") from None
        except (ValueError, UnicodeDecodeError):
            raise UserError(f"{label}: {path} is not JSON (name a .npy file, or a .json array)") from None
    if spec.datatype == "BYTES" and not value.lstrip().startswith("["):
        return np.array([value.encode()], dtype=np.object_)
    try:
        parsed = json.loads(value)
    except ValueError:
        raise UserError(f"{label}: '{value[:40]}' is not a JSON array; e.g. {spec.name}=[1,2,3], or @file.npy") from None
    return _from_json(parsed, spec, label)


def _from_json(value: Any, spec: TensorSpec, label: str) -> npt.NDArray[Any]:
    """A JSON value (nested or flat list, a scalar, or perf_analyzer's {"content", "shape"} /
    {"b64"} forms) as an array of the model's dtype, refused when its values are of another kind."""
    if isinstance(value, dict) and "b64" in value:
        if spec.datatype == "BYTES":
            raise UserError(f"{label}: {spec.name} is BYTES; give its strings as a JSON array, not b64")
        return np.frombuffer(base64.b64decode(value["b64"]), dtype=np.dtype(DTYPES[spec.datatype]).newbyteorder("<")).copy()
    if isinstance(value, dict) and "content" in value:
        array = _from_json(value["content"], spec, label)
        shape = tuple(int(dim) for dim in value.get("shape", array.shape))
        if math.prod(shape) != array.size:
            raise UserError(f"{label}: {spec.name} has {array.size} values for the shape {list(shape)}")
        return array.reshape(shape)
    if spec.datatype == "BYTES":
        array = np.array(value, dtype=np.object_)
        if not all(isinstance(item, str) for item in array.flat):
            raise UserError(f"{label}: {spec.name} is BYTES and wants strings, e.g. {spec.name}='[\"hello\"]'")
        return np.vectorize(lambda item: item.encode(), otypes=[np.object_])(array) if array.size else array
    try:
        array = np.array(value)
    except ValueError:
        raise UserError(f"{label}: {spec.name}'s rows are not all the same length") from None
    return _as_dtype(array, spec, label)


def _as_dtype(array: npt.NDArray[Any], spec: TensorSpec, label: str) -> npt.NDArray[Any]:
    kind = DTYPES.get(spec.datatype)
    if kind is None:
        raise UserError(f"input '{spec.name}' is {spec.datatype}, which numpy cannot hold: this model needs another client")
    target = np.dtype(kind)
    given = array.dtype.kind
    fits = (
        (target.kind == "b" and given == "b")
        or (target.kind in INTEGER_KINDS and given in INTEGER_KINDS)
        or (target.kind == "f" and given in INTEGER_KINDS + "f")
    )  # fmt: skip
    if not fits and array.size:
        raise UserError(f"{label}: {spec.name} is {spec.datatype} and was given {_kind_name(array)} values")
    if target.kind in INTEGER_KINDS and array.size:
        info = np.iinfo(target)  # type: ignore[type-var]
        if array.min() < info.min or array.max() > info.max:
            raise UserError(f"{label}: {spec.name} is {spec.datatype}: values from {info.min} to {info.max}, given {array.min()} to {array.max()}")
    return array.astype(target)


def _kind_name(array: npt.NDArray[Any]) -> str:
    return {"b": "true/false", "i": "integer", "u": "integer", "f": "decimal", "U": "string", "S": "string", "O": "mixed"}.get(array.dtype.kind, str(array.dtype))


# -- one input's shape -------------------------------------------------------------------------


def _dims(spec: TensorSpec, max_batch: int) -> tuple[int, ...]:
    return spec.shape[1:] if max_batch > 0 else spec.shape


def _wanted(spec: TensorSpec, max_batch: int) -> str:
    dims = list(_dims(spec, max_batch))
    return f"{spec.datatype} {dims}" + (f" after a batch dimension of up to {max_batch}" if max_batch > 0 else "")


def _matches(shape: tuple[int, ...], dims: tuple[int, ...]) -> bool:
    return len(shape) == len(dims) and all(want in (-1, got) for want, got in zip(dims, shape, strict=True))


def _fit(array: npt.NDArray[Any], spec: TensorSpec, max_batch: int, batch_size: int | None) -> npt.NDArray[Any]:
    """`array` shaped as the request sends it: one sample repeated `batch_size` times for a
    batching model, a batch as given, or a flat list laid into fixed dimensions."""
    dims = _dims(spec, max_batch)
    fixed = all(dim >= 0 for dim in dims)
    if fixed and array.ndim == 1 and len(dims) != 1 and array.size == math.prod(dims):
        array = array.reshape(dims)  # perf_analyzer's flat lists
    if max_batch == 0:
        if _matches(array.shape, dims):
            return array
    elif _matches(array.shape, dims):
        return np.repeat(array[np.newaxis], batch_size or 1, axis=0)
    elif array.ndim == len(dims) + 1 and _matches(array.shape[1:], dims):
        if not 1 <= array.shape[0] <= max_batch or (batch_size is not None and array.shape[0] != batch_size):
            raise UserError(f"input '{spec.name}' holds a batch of {array.shape[0]}: the model takes 1 to {max_batch}" + (f" and -b says {batch_size}" if batch_size else ""))
        return array
    count = f" ({math.prod(dims)} values)" if fixed else ""
    raise UserError(f"input '{spec.name}' wants {_wanted(spec, max_batch)}{count} and was given the shape {list(array.shape)}")


# -- the answer, as KServe v2 JSON ---------------------------------------------------------------


def result_document(result: InferResult) -> dict[str, Any]:
    """`{"model_name", "model_version", "outputs": [{"name", "datatype", "shape", "data"}]}`: the
    v2 protocol's JSON response, flat `data` in row-major order, BYTES as text."""
    return {
        "model_name": result.model,
        "model_version": result.version,
        "outputs": [
            {"name": output.name, "datatype": output.datatype, "shape": list(output.shape), "data": [_json_value(item) for item in np.asarray(output.array).flat]}
            for output in result.outputs
        ],
    }


def _json_value(item: Any) -> Any:
    if isinstance(item, bytes):
        return item.decode("utf-8", errors="backslashreplace")
    return item.item() if hasattr(item, "item") else item
