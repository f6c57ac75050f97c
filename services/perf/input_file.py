"""perf_analyzer's real-data JSON (`--input-data FILE.json`) as the requests of a sweep.

The format is perf_analyzer's: `{"data": [STEP, ...]}`, one object per step, naming each input
with either a flat list of values or `{"content": [...], "shape": [...]}` or `{"b64": "..."}`
(raw little-endian bytes, or one BYTES element). Requests cycle through the steps. A list of
lists (`"data": [[STEP, ...], ...]`, one per sequence) is taken step after step. A batching
model's values are one batch row, repeated `-b` times, as perf_analyzer does.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from services.errors import UserError
from services.inference.protocol import InputData, TensorSpec
from services.perf.inputs import DTYPES

MAX_FILE = 256 * 1024 * 1024


def read_input_data(path: Path, specs: Sequence[TensorSpec], max_batch_size: int, batch_size: int) -> list[list[InputData]]:
    """Each step of `path` as one request's inputs, checked against the model's inputs."""
    try:
        if path.stat().st_size > MAX_FILE:
            raise UserError(f"--input-data {path}: over {MAX_FILE // 2**20} MiB: give fewer steps")
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UserError(f"--input-data {path}: {error.strerror}") from None
    except ValueError as error:
        raise UserError(f"--input-data {path} is not JSON: {error}") from None
    steps = document.get("data") if isinstance(document, dict) else None
    if not isinstance(steps, list) or not steps:
        raise UserError(f'--input-data {path}: expected {{"data": [{{"INPUT": [...]}}, ...]}} with at least one step')
    flat = [step for entry in steps for step in (entry if isinstance(entry, list) else [entry])]
    return [_step(path, number, step, specs, max_batch_size, batch_size) for number, step in enumerate(flat, start=1)]


def _step(path: Path, number: int, step: Any, specs: Sequence[TensorSpec], max_batch_size: int, batch_size: int) -> list[InputData]:
    where = f"--input-data {path}, step {number}"
    if not isinstance(step, dict):
        raise UserError(f"{where}: a step is an object naming each input")
    inputs = []
    for spec in specs:
        if spec.name not in step:
            raise UserError(f"{where}: input '{spec.name}' is missing")
        row = _values(where, spec, step[spec.name], max_batch_size)
        array = np.stack([row] * batch_size) if max_batch_size > 0 else row
        inputs.append(InputData(spec.name, spec.datatype, array))
    return inputs


def _values(where: str, spec: TensorSpec, value: Any, max_batch_size: int) -> Any:
    """One input's values (a batch row for a batching model) in the model's type and shape."""
    dims = list(spec.shape[1:] if max_batch_size > 0 else spec.shape)
    given_shape = value.get("shape") if isinstance(value, dict) else None
    kind = DTYPES.get(spec.datatype)
    if kind is None:
        raise UserError(f"{where}: input '{spec.name}' is {spec.datatype}, which numpy cannot hold")
    if isinstance(value, dict) and "b64" in value:
        try:
            raw = base64.b64decode(str(value["b64"]), validate=True)
        except (binascii.Error, ValueError):
            raise UserError(f"{where}: input '{spec.name}': b64 is not base64") from None
        flat = np.array([raw], dtype=np.object_) if spec.datatype == "BYTES" else np.frombuffer(raw, dtype=np.dtype(kind).newbyteorder("<"))
    else:
        content = value.get("content") if isinstance(value, dict) else value
        if not isinstance(content, list):
            raise UserError(f'{where}: input \'{spec.name}\' takes a list, or {{"content": [...], "shape": [...]}}, or {{"b64": "..."}}')
        items = _flatten(content)
        flat = np.array([str(item).encode() for item in items], dtype=np.object_) if spec.datatype == "BYTES" else np.array(items, dtype=kind)
    shape = [int(dim) for dim in given_shape] if isinstance(given_shape, list) else dims
    if any(dim < 0 for dim in shape):
        raise UserError(f"{where}: input '{spec.name}' has a variable shape {dims}: give its \"shape\"")
    if int(np.prod(shape)) != flat.size:
        raise UserError(f"{where}: input '{spec.name}' has {flat.size} values for shape {shape}")
    return flat.reshape(shape)


def _flatten(values: list[Any]) -> list[Any]:
    return [item for value in values for item in (_flatten(value) if isinstance(value, list) else [value])]
