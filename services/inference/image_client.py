"""What Triton's `image_client` does between reading a file and sending a tensor.

The model checks, the preprocessing per scaling mode and the batch filling follow the
client's source as `triton-client.md` records it, so a model that works with image_client
works here with the same numbers, and one that does not fails with the same reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from services.errors import UserError
from services.inference.image_budget import opened_image
from services.inference.protocol import Scaling

LAYOUTS = ("FORMAT_NCHW", "FORMAT_NHWC")
VGG_MEANS = {1: (128,), 3: (123, 117, 104)}


@dataclass(frozen=True)
class ImageModel:
    """The one input and one output of an image classifier, as image_client's parse_model finds them."""

    name: str
    max_batch_size: int
    input_name: str
    output_name: str
    channels: int
    height: int
    width: int
    layout: str  # FORMAT_NCHW or FORMAT_NHWC
    datatype: str  # the input's protocol datatype, e.g. FP32

    @property
    def supports_batching(self) -> bool:
        return self.max_batch_size > 0


def _dims(values: Sequence[Any]) -> list[int]:
    return [int(value) for value in values]  # gRPC JSON renders int64 dims as strings


def parse_image_model(metadata: Mapping[str, Any], config: Mapping[str, Any]) -> ImageModel:
    """image_client's checks, in its order and with its wording, each naming the model."""
    name = str(metadata.get("name", config.get("name", "")))
    inputs, outputs, config_inputs = metadata.get("inputs", []), metadata.get("outputs", []), config.get("input", [])
    if len(inputs) != 1:
        raise UserError(f"model '{name}' is not an image classifier: expecting 1 input, got {len(inputs)}")
    if len(outputs) != 1:
        raise UserError(f"model '{name}' is not an image classifier: expecting 1 output, got {len(outputs)}")
    if len(config_inputs) != 1:
        raise UserError(f"model '{name}' is not an image classifier: expecting 1 input in model configuration, got {len(config_inputs)}")
    max_batch_size = int(config.get("max_batch_size", 0))
    offset = 1 if max_batch_size > 0 else 0
    output = outputs[0]
    if output.get("datatype") != "FP32":
        raise UserError(f"expecting output datatype to be FP32, model '{name}' output type is {output.get('datatype')}")
    if sum(1 for dim in _dims(output.get("shape", []))[offset:] if dim > 1) > 1:
        raise UserError(f"model '{name}' output is not a vector of class scores: expecting model output to be a vector")
    shape = _dims(inputs[0].get("shape", []))
    if len(shape) != 3 + offset:
        raise UserError(f"expecting input to have {3 + offset} dimensions, model '{name}' input has {len(shape)}")
    layout = str(config_inputs[0].get("format", "FORMAT_NONE"))
    if layout not in LAYOUTS:
        raise UserError(f"model '{name}': unexpected input format {layout}, expecting FORMAT_NCHW or FORMAT_NHWC (set format: in config.pbtxt)")
    first, second, third = shape[offset:]
    channels, height, width = (third, first, second) if layout == "FORMAT_NHWC" else (first, second, third)
    return ImageModel(name, max_batch_size, str(inputs[0]["name"]), str(output["name"]), channels, height, width, layout, str(inputs[0]["datatype"]))


def preprocess(path: Path, model: ImageModel, scaling: Scaling) -> npt.NDArray[Any]:
    """image_client's preprocess: convert, BILINEAR resize to (w, h), cast, scale, transpose to NCHW if asked."""
    from PIL import Image
    from tritonclient.utils import triton_to_np_dtype

    try:
        with opened_image(path) as opened:
            sample = opened.convert("L") if model.channels == 1 else opened.convert("RGB")
            resized = np.array(sample.resize((model.width, model.height), Image.Resampling.BILINEAR))
            del sample  # the full-size copy goes before the semaphore lets another decode in
    except OSError as error:  # a truncated file shows only when its pixels are read
        raise UserError(f"cannot read it: {error.strerror or error}") from None
    if resized.ndim == 2:
        resized = resized[:, :, np.newaxis]
    npdtype = triton_to_np_dtype(model.datatype)
    typed = resized.astype(npdtype)
    if scaling is Scaling.INCEPTION:
        scaled = (typed / 127.5) - 1
    elif scaling is Scaling.VGG:
        scaled = typed - np.asarray(VGG_MEANS[1 if model.channels == 1 else 3], dtype=npdtype)
    else:
        scaled = typed
    return np.transpose(scaled, (2, 0, 1)) if model.layout == "FORMAT_NCHW" else scaled


def check_batch_size(model: ImageModel, batch_size: int) -> None:
    if batch_size < 1:
        raise UserError(f"batch size {batch_size} is not valid: use 1 or more")
    if not model.supports_batching and batch_size != 1:
        raise UserError(f"model '{model.name}' doesn't support batching (max_batch_size 0): use -b 1")
    if model.supports_batching and batch_size > model.max_batch_size:
        raise UserError(f"batch size {batch_size} is above model '{model.name}' max_batch_size {model.max_batch_size}: use -b {model.max_batch_size} or less")


def batch_tensor(model: ImageModel, tensors: Sequence[npt.NDArray[Any]]) -> npt.NDArray[Any]:
    """Stacked with a batch dimension when the model batches; a single image array when it does not."""
    return np.stack(tensors, axis=0) if model.supports_batching else tensors[0]


def parse_classes(output: npt.NDArray[Any], model: ImageModel, batch_size: int) -> list[list[str]]:
    """The classification strings of each image of a response, as image_client's postprocess reads them."""
    rows = output if model.supports_batching else output[np.newaxis]
    if model.supports_batching and len(rows) != batch_size:
        raise UserError(f"model '{model.name}' answered {len(rows)} results for a batch of {batch_size}")
    return [[value.decode() if isinstance(value, bytes) else str(value) for value in row] for row in rows]
