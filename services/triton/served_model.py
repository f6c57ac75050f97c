"""The python-backend model that serves a user's ONNX, TorchScript or TensorFlow file on the
local profile.

The bundled tritonserver has only the python backend, so `services.triton.frameworks` copies
this file's text as `model.py` into a generated model directory, next to links to the
user's own files. It runs inside Triton's python-backend stub, where neither triton-deck's
packages nor its import paths exist: it imports only numpy, the stub's
`triton_python_backend_utils` and the one framework the sidecar `triton_deck_model.json`
names, and reads from that sidecar which file it serves.

Triton's semantics are kept as each real backend gives them: inputs are fed by the names in
the config, sequence-batching controls arrive as inputs (as they do there), a batch of
requests runs as one batch when their shapes allow, BYTES tensors map to the framework's
strings, and an error is that request's error, on one line. The runners hold what differs
between the backends: how inputs are bound (by name for ONNX, a TensorFlow graph or a
SavedModel signature; by `__<index>` suffix or argument name for TorchScript) and how
outputs are found.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import triton_python_backend_utils as pb_utils

SIDECAR = "triton_deck_model.json"
INDEXED = re.compile(r"^.+__(\d+)$")  # libtorch's <name>__<index> naming convention


def _one_line(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".strip()
    return text.splitlines()[0] if text else type(error).__name__


def _decoded(array: Any) -> Any:
    """Triton hands BYTES as bytes objects; onnxruntime and TorchScript take str."""
    return np.vectorize(lambda item: item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item), otypes=[np.object_])(array)


def _to_triton(array: Any, dtype: Any) -> Any:
    array = np.asarray(array)
    if dtype == np.object_:
        return np.vectorize(lambda item: item.encode("utf-8") if isinstance(item, str) else bytes(item), otypes=[np.object_])(array)
    return array.astype(dtype, copy=False)


def _declared_inputs(config: dict[str, Any]) -> list[str]:
    """The config's inputs, then the sequence batcher's controls, which reach the model as inputs."""
    controls = [item["name"] for item in config.get("sequence_batching", {}).get("control_input", [])]
    return [item["name"] for item in config.get("input", [])] + controls


class Runner(Protocol):
    """One framework's session: the inputs it binds, in the order it wants them, and a run."""

    input_names: list[str]

    def run(self, feeds: dict[str, Any]) -> list[Any]: ...


class OnnxRunner:
    def __init__(self, path: str, config: dict[str, Any], outputs: list[str]) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        # Intra-op threads spin during a run (waking a sleeping thread for each parallel section
        # cost 1 ms of 6 on EfficientNet here) and stop spinning when it returns: a pool still
        # spinning afterwards takes the cores that Triton, the stub and the client need to send
        # the answer back, and the next request's.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1")
        options.add_session_config_entry("session.force_spinning_stop", "1")
        self.session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.input_names = [item.name for item in self.session.get_inputs()]
        self.outputs = outputs
        known = {item.name for item in self.session.get_outputs()}
        missing = [name for name in outputs if name not in known]
        if missing:
            raise ValueError(f"output '{missing[0]}' of config.pbtxt is not an output of the model (it has {', '.join(sorted(known))})")

    def run(self, feeds: dict[str, Any]) -> list[Any]:
        prepared = {name: _decoded(array) if array.dtype == np.object_ else array for name, array in feeds.items()}
        return list(self.session.run(self.outputs, prepared))


class TorchRunner:
    """As the libtorch backend binds them: inputs and outputs named `<name>__<index>` by that
    index, else inputs by the names of forward()'s arguments, else in the config's order;
    BYTES as lists of str."""

    def __init__(self, path: str, config: dict[str, Any], outputs: list[str]) -> None:
        import torch

        self.torch = torch
        self.module = torch.jit.load(path, map_location="cpu").eval()  # type: ignore[no-untyped-call]
        declared = _declared_inputs(config)
        arguments = [argument.name for argument in self.module.forward.schema.arguments][1:]  # after self
        if declared and all(INDEXED.match(name) for name in declared):
            self.input_names = sorted(declared, key=lambda name: int(INDEXED.match(name).group(1)))  # type: ignore[union-attr]
        elif set(declared) == set(arguments):
            self.input_names = arguments
        else:
            self.input_names = declared
        indexed = all(INDEXED.match(name) for name in outputs)
        self.output_index = [int(INDEXED.match(name).group(1)) if indexed else position for position, name in enumerate(outputs)]  # type: ignore[union-attr]

    def _argument(self, array: Any) -> Any:
        if array.dtype == np.object_:
            return [str(item) for item in _decoded(array).reshape(-1)]
        return self.torch.from_numpy(np.ascontiguousarray(array))

    def run(self, feeds: dict[str, Any]) -> list[Any]:
        with self.torch.inference_mode():
            result = self.module(*[self._argument(feeds[name]) for name in self.input_names])
        if isinstance(result, dict):
            result = list(result.values())
        elif not isinstance(result, (tuple, list)) or (result and isinstance(result[0], str)):
            result = [result]
        first = next(iter(feeds.values()))
        return [self._array(result[index], first.shape) for index in self.output_index]

    def _array(self, value: Any, shape: tuple[int, ...]) -> Any:
        if isinstance(value, list):  # strings: the shape of the request's tensors where it fits
            strings = np.array(value, dtype=np.object_)
            return strings.reshape(shape) if strings.size == int(np.prod(shape)) else strings
        return value.detach().cpu().numpy()


class TensorFlowRunner:
    """A GraphDef's tensors by the config's names (`name:0`); a SavedModel's `serving_default`
    signature by its input and output keys, as the TensorFlow backend binds them."""

    def __init__(self, path: str, config: dict[str, Any], outputs: list[str]) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf

        self.tf = tf
        self.outputs = outputs
        if os.path.isdir(path):
            self.signature = tf.saved_model.load(path).signatures["serving_default"]
            self.input_names = list(self.signature.structured_input_signature[1])
            known = set(self.signature.structured_outputs)
            missing = [name for name in outputs if name not in known]
            if missing:
                raise ValueError(f"output '{missing[0]}' of config.pbtxt is not an output of the SavedModel's signature (it has {', '.join(sorted(known))})")
            return
        self.signature = None
        graph_def = tf.compat.v1.GraphDef()
        with open(path, "rb") as file:
            graph_def.ParseFromString(file.read())
        graph = tf.Graph()
        with graph.as_default():
            tf.import_graph_def(graph_def, name="")
        self.session = tf.compat.v1.Session(graph=graph)
        self.input_names = _declared_inputs(config)
        self.feeds_by_name = {name: graph.get_tensor_by_name(self._tensor(name)) for name in self.input_names}
        self.fetches = [graph.get_tensor_by_name(self._tensor(name)) for name in outputs]

    @staticmethod
    def _tensor(name: str) -> str:
        return name if ":" in name else f"{name}:0"

    def run(self, feeds: dict[str, Any]) -> list[Any]:
        if self.signature is not None:
            answer = self.signature(**{name: self.tf.constant(array) for name, array in feeds.items()})
            return [answer[name].numpy() for name in self.outputs]
        return list(self.session.run(self.fetches, {self.feeds_by_name[name]: array for name, array in feeds.items()}))


RUNNERS: dict[str, Callable[[str, dict[str, Any], list[str]], Runner]] = {"onnxruntime": OnnxRunner, "torch": TorchRunner, "tensorflow": TensorFlowRunner}


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        version_dir = os.path.join(args["model_repository"], args["model_version"])
        with open(os.path.join(version_dir, SIDECAR), encoding="utf-8") as sidecar:
            served = json.load(sidecar)
        config = json.loads(args["model_config"])
        self.batching = int(config.get("max_batch_size", 0)) > 0
        self.reshape = {item["name"]: [int(d) for d in item["reshape"]["shape"]] for item in config.get("input", []) if item.get("reshape")}
        self.outputs = [(item["name"], pb_utils.triton_string_to_numpy(item["data_type"])) for item in config.get("output", [])]
        try:
            self.runner: Runner = RUNNERS[served["framework"]](os.path.join(version_dir, served["file"]), config, [name for name, _ in self.outputs])
        except Exception as error:  # noqa: BLE001 - the framework's reason, as the model's one-line UNAVAILABLE reason
            raise pb_utils.TritonModelException(f"{served['framework']} cannot load {served['file']}: {_one_line(error)}") from None
        self.input_names = self.runner.input_names

    def feeds(self, request: Any) -> dict[str, Any]:
        feeds = {}
        for name in self.input_names:
            tensor = pb_utils.get_input_tensor_by_name(request, name)
            if tensor is None:
                raise ValueError(f"input '{name}' of the model is missing from the request")
            array = tensor.as_numpy()
            if name in self.reshape:
                array = array.reshape(([array.shape[0]] if self.batching else []) + self.reshape[name])
            feeds[name] = array
        return feeds

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
        """One framework run for the requests Triton's dynamic batcher gathered, split back by rows."""
        sizes = [next(iter(feeds.values())).shape[0] for feeds in batch]
        stacked = {name: np.concatenate([feeds[name] for feeds in batch]) for name in self.input_names}
        try:
            results = self.runner.run(stacked)
        except Exception as error:  # noqa: BLE001 - the whole batch failed: each request says why
            return [self.failed(error) for _ in batch]
        bounds = np.cumsum([0, *sizes])
        return [self.respond([np.asarray(result)[bounds[i] : bounds[i + 1]] for result in results]) for i in range(len(batch))]

    def answer(self, feeds: dict[str, Any]) -> Any:
        try:
            return self.respond(self.runner.run(feeds))
        except Exception as error:  # noqa: BLE001 - the framework's refusal is this request's error
            return self.failed(error)

    def failed(self, error: BaseException) -> Any:
        return pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(_one_line(error)))
