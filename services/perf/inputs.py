"""What a load sweep sends: tensors shaped from the model's own metadata, or real photos.

Random (seeded, so two runs send the same) or zero data, of every datatype Triton takes
(BYTES as short byte strings; BF16 has no numpy type and is refused in one line), with each
variable dimension given by `--shape NAME:D1,D2` (the batch dimension excepted: `-b` sets
it). Photos go through exactly the preprocessing `classify` applies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from services.errors import UserError
from services.inference.protocol import InputData, Scaling, TensorSpec

DTYPES = {
    "BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
    "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
    "FP16": np.float16, "FP32": np.float32, "FP64": np.float64, "BYTES": np.object_,
}  # fmt: skip


def parse_shapes(words: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """`NAME:D1,D2` as perf_analyzer's `--shape` writes it."""
    shapes: dict[str, tuple[int, ...]] = {}
    for word in words:
        name, colon, dims = word.rpartition(":")
        try:
            values = tuple(int(dim) for dim in dims.split(","))
        except ValueError:
            values = ()
        if not colon or not name or not values or any(dim < 1 for dim in values):
            raise UserError(f"--shape '{word}' must be NAME:D1,D2,... with whole dimensions of 1 or more, e.g. INPUT0:16")
        shapes[name] = values
    return shapes


def _values(spec: TensorSpec, shape: tuple[int, ...], zero: bool, rng: np.random.Generator) -> npt.NDArray[Any]:
    kind = DTYPES.get(spec.datatype)
    if kind is None:
        raise UserError(f"input '{spec.name}' is {spec.datatype}, which numpy cannot hold: give real data another way, or pick another model")
    if spec.datatype == "BYTES":
        words = [b"" if zero else rng.bytes(8).hex().encode() for _ in range(int(np.prod(shape)))]
        return np.array(words, dtype=np.object_).reshape(shape)
    if spec.datatype == "BOOL":
        return np.zeros(shape, np.bool_) if zero else rng.integers(0, 2, shape).astype(np.bool_)
    if zero:
        return np.zeros(shape, kind)
    if np.issubdtype(kind, np.integer):
        info = np.iinfo(kind)  # type: ignore[type-var]
        return rng.integers(max(info.min, -100), min(info.max, 100), shape, endpoint=True).astype(kind)
    return rng.standard_normal(shape).astype(kind)


def synthetic_inputs(inputs: Sequence[TensorSpec], max_batch_size: int, batch_size: int, shapes: Mapping[str, tuple[int, ...]], zero: bool = False) -> list[InputData]:
    """One request's tensors: `[batch, *dims]` for a batching model, `dims` otherwise."""
    rng = np.random.default_rng(0)
    data = []
    for spec in inputs:
        dims = spec.shape[1:] if max_batch_size > 0 else spec.shape
        if spec.name in shapes:
            given = shapes[spec.name]
            if len(given) != len(dims) or any(fixed not in (-1, want) for fixed, want in zip(dims, given, strict=True)):
                raise UserError(f"--shape {spec.name}:{','.join(map(str, given))} does not fit its model shape {list(dims)}")
            dims = given
        if any(dim < 0 for dim in dims):
            raise UserError(f"input '{spec.name}' has a variable shape {list(dims)}: give it with --shape {spec.name}:D1,D2")
        shape = (batch_size, *dims) if max_batch_size > 0 else tuple(dims)
        data.append(InputData(spec.name, spec.datatype, _values(spec, tuple(shape), zero, rng)))
    return data


def image_inputs(metadata: Mapping[str, object], config: Mapping[str, object], images: Sequence[Path], scaling: Scaling, batch_size: int) -> list[InputData]:
    """The first `batch_size` photos, preprocessed as `classify` does, as one request."""
    from services.inference.image_client import batch_tensor, check_batch_size, parse_image_model, preprocess

    model = parse_image_model(metadata, config)
    check_batch_size(model, batch_size)
    if not images:
        raise UserError("no images to send: give --images a file or a directory of photos")
    chosen = [images[index % len(images)] for index in range(batch_size)]
    batch = batch_tensor(model, [preprocess(path, model, scaling) for path in chosen])
    return [InputData(model.input_name, model.datatype, batch)]
