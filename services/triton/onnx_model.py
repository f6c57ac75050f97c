"""The python-backend model that serves a user's ONNX file on the local profile.

The bundled tritonserver has no onnxruntime backend, so `services.triton.frameworks` copies
this file's text as `model.py` into a generated model directory, next to links to the
user's own files. It runs inside Triton's python-backend stub, where neither triton-deck's
packages nor its import paths exist: it imports only numpy, onnxruntime and the stub's
`triton_python_backend_utils`, and reads what it serves from `triton_deck_model.json`
beside it.

Triton's semantics are kept as the onnxruntime backend gives them: inputs are fed by the
names in the config (sequence-batching controls arrive as inputs, as they do there), a
batch of requests runs as one batch when their shapes allow, BYTES tensors map to ONNX
strings, and an error is that request's error, on one line.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import onnxruntime
import triton_python_backend_utils as pb_utils

SIDECAR = "triton_deck_model.json"


def _one_line(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".strip()
    return text.splitlines()[0] if text else type(error).__name__


def _to_onnx(array: Any) -> Any:
    """Triton hands BYTES as bytes objects; onnxruntime's string tensors take str."""
    if array.dtype == np.object_:
        return np.vectorize(lambda item: item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item), otypes=[np.object_])(array)
    return array


def _to_triton(array: Any, dtype: Any) -> Any:
    if dtype == np.object_:
        return np.vectorize(lambda item: item.encode("utf-8") if isinstance(item, str) else bytes(item), otypes=[np.object_])(array)
    return array.astype(dtype, copy=False)


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        version_dir = os.path.join(args["model_repository"], args["model_version"])
        with open(os.path.join(version_dir, SIDECAR), encoding="utf-8") as sidecar:
            served = json.load(sidecar)
        config = json.loads(args["model_config"])
        self.batching = int(config.get("max_batch_size", 0)) > 0
        self.reshape = {item["name"]: [int(d) for d in item["reshape"]["shape"]] for item in config.get("input", []) if item.get("reshape")}
        self.outputs = [(item["name"], pb_utils.triton_string_to_numpy(item["data_type"])) for item in config.get("output", [])]
        options = onnxruntime.SessionOptions()
        try:
            self.session = onnxruntime.InferenceSession(os.path.join(version_dir, served["file"]), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # noqa: BLE001 - onnxruntime's reason, as the model's one-line UNAVAILABLE reason
            raise pb_utils.TritonModelException(f"onnxruntime cannot load {served['file']}: {_one_line(error)}") from None
        self.input_names = [item.name for item in self.session.get_inputs()]
        known = {item.name for item in self.session.get_outputs()}
        missing = [name for name, _ in self.outputs if name not in known]
        if missing:
            raise pb_utils.TritonModelException(f"output '{missing[0]}' of config.pbtxt is not an output of {served['file']} (it has {', '.join(sorted(known))})")

    def feeds(self, request: Any) -> dict[str, Any]:
        feeds = {}
        for name in self.input_names:
            tensor = pb_utils.get_input_tensor_by_name(request, name)
            if tensor is None:
                raise ValueError(f"input '{name}' of the model is missing from the request")
            array = tensor.as_numpy()
            if name in self.reshape:
                array = array.reshape(([array.shape[0]] if self.batching else []) + self.reshape[name])
            feeds[name] = _to_onnx(array)
        return feeds

    def run(self, feeds: dict[str, Any]) -> list[Any]:
        return list(self.session.run([name for name, _ in self.outputs], feeds))

    def respond(self, results: list[Any]) -> Any:
        tensors = [pb_utils.Tensor(name, _to_triton(result, dtype)) for (name, dtype), result in zip(self.outputs, results, strict=True)]
        return pb_utils.InferenceResponse(output_tensors=tensors)

    def execute(self, requests: list[Any]) -> list[Any]:
        prepared: list[dict[str, Any] | BaseException] = []
        for request in requests:
            try:
                prepared.append(self.feeds(request))
            except Exception as error:  # noqa: BLE001 - a bad request fails alone
                prepared.append(error)
        whole = [feeds for feeds in prepared if isinstance(feeds, dict)]
        if self.batching and len(whole) > 1 and self.stackable(whole):
            answers = self.run_together(whole)
            batched = iter(answers)
            return [self.failed(item) if isinstance(item, BaseException) else next(batched) for item in prepared]
        return [self.failed(item) if isinstance(item, BaseException) else self.answer(item) for item in prepared]

    def stackable(self, batch: list[dict[str, Any]]) -> bool:
        return all(len({feeds[name].shape[1:] for feeds in batch}) == 1 for name in self.input_names)

    def run_together(self, batch: list[dict[str, Any]]) -> list[Any]:
        """One onnxruntime run for the requests Triton's dynamic batcher gathered, split back by rows."""
        sizes = [next(iter(feeds.values())).shape[0] for feeds in batch]
        stacked = {name: np.concatenate([feeds[name] for feeds in batch]) for name in self.input_names}
        try:
            results = self.run(stacked)
        except Exception as error:  # noqa: BLE001 - the whole batch failed: each request says why
            return [self.failed(error) for _ in batch]
        bounds = np.cumsum([0, *sizes])
        return [self.respond([result[bounds[i] : bounds[i + 1]] for result in results]) for i in range(len(batch))]

    def answer(self, feeds: dict[str, Any]) -> Any:
        try:
            return self.respond(self.run(feeds))
        except Exception as error:  # noqa: BLE001 - onnxruntime's refusal is this request's error
            return self.failed(error)

    def failed(self, error: BaseException) -> Any:
        return pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(_one_line(error)))
