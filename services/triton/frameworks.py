"""What each target can serve of a repository, and a repository the bundled server can load.

The local profile's tritonserver (from the nvidia-pytriton wheel) ships only the python
backend. A model for another framework is served through a generated python-backend model
that runs the user's own file with the framework's CPU runtime. The generated directory
lives in the job's or app's own directory, never in the bucket or the source: the version
directories hold links to the user's files, a `model.py` copied from `served_model.py`, and a
sidecar naming the framework and the file; the config is the user's with `backend: "python"`
in place of the platform (and, without a config, the one Triton's ONNX auto-complete would
derive). TorchScript and TensorFlow run where their optional extras are installed.

A model that cannot be served locally (a TensorRT plan, a custom backend, a framework whose
extra is not installed) is refused before the server starts, with one line saying why.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from importlib import metadata
from pathlib import Path
from typing import Any

from services.errors import UserError
from services.repository import MODEL_FILE_BY_PLATFORM, VERSION_DIR, ConfigError, parse_config

TARGETS = ("local", "ovhcloud")  # the profile kinds a repository can be served on
SIDECAR = "triton_deck_model.json"
SERVED_REPOSITORY = "served-repository"  # in a job's or app's own directory, beside its workspace
TEMPLATE = Path(__file__).with_name("served_model.py")
DEFAULT_MAX_BATCH_SIZE = 4  # what Triton's auto-complete gives a batchable ONNX model (--backend-config default-max-batch-size)
# onnxruntime's element types, as `InferenceSession.get_inputs()` names them, in Triton's words.
ONNX_TYPES = {
    "tensor(float)": "TYPE_FP32", "tensor(float16)": "TYPE_FP16", "tensor(double)": "TYPE_FP64",
    "tensor(bfloat16)": "TYPE_BF16", "tensor(bool)": "TYPE_BOOL", "tensor(string)": "TYPE_STRING",
    "tensor(int8)": "TYPE_INT8", "tensor(int16)": "TYPE_INT16", "tensor(int32)": "TYPE_INT32", "tensor(int64)": "TYPE_INT64",
    "tensor(uint8)": "TYPE_UINT8", "tensor(uint16)": "TYPE_UINT16", "tensor(uint32)": "TYPE_UINT32", "tensor(uint64)": "TYPE_UINT64",
}  # fmt: skip
# Frameworks served through a runtime that is an optional extra: the module that proves it is
# installed, the framework's name for people, and the distributions that may have brought it.
EXTRAS = {"torch": ("torch", "TorchScript", ("torch",)), "tensorflow": ("tensorflow", "TensorFlow", ("tensorflow-cpu", "tensorflow"))}


class Route(StrEnum):
    """How the bundled server gets to serve a model."""

    NATIVE = "native"  # python backend: as it is
    ENSEMBLE = "ensemble"  # Triton's own scheduler, over served models
    ONNX = "onnxruntime"
    TORCH = "torch"
    TENSORFLOW = "tensorflow"
    REFUSED = "refused"


GENERATED = (Route.ONNX, Route.TORCH, Route.TENSORFLOW)  # served through a generated python-backend model
DEFAULT_PLATFORM = {Route.ONNX: "onnxruntime_onnx", Route.TORCH: "pytorch_libtorch", Route.TENSORFLOW: "tensorflow_savedmodel"}


@dataclass(frozen=True)
class ModelServing:
    """One model on one target: can it be served there, and how, in one line."""

    model: str
    route: Route
    servable: bool
    line: str
    steps: tuple[str, ...] = ()


def _route(platform: str, backend: str, files: set[str]) -> Route:
    kind = platform or backend
    if kind == "python":
        return Route.NATIVE
    if kind == "ensemble":
        return Route.ENSEMBLE
    if kind in ("onnxruntime_onnx", "onnxruntime") or (not kind and "model.onnx" in files):
        return Route.ONNX
    if kind in ("pytorch_libtorch", "pytorch"):
        return Route.TORCH
    if kind in ("tensorflow_graphdef", "tensorflow_savedmodel", "tensorflow"):
        return Route.TENSORFLOW
    return Route.REFUSED


def _config(model_dir: Path) -> Any | None:
    path = model_dir / "config.pbtxt"
    if not path.is_file():
        return None
    try:
        return parse_config(path)
    except ConfigError:
        return None  # validate says where; here it is refused as unreadable


def _version_files(model_dir: Path) -> set[str]:
    return {item.name for version in model_dir.iterdir() if version.is_dir() and VERSION_DIR.match(version.name) for item in version.iterdir()}


def _refusal(kind: str) -> str:
    if kind in ("tensorrt_plan", "tensorrt") or not kind:
        what = "a TensorRT plan" if kind else "a model whose framework is not named"
        return f"{what} needs an NVIDIA GPU: it runs on an OVHcloud GPU job, not on the local profile"
    return f"the '{kind}' backend is not in the local server: it runs on an OVHcloud GPU job, not on the local profile"


def local_serving(model_dir: Path) -> ModelServing:
    """Whether the local profile can serve the model in `model_dir`, and through what."""
    name = model_dir.name
    config = _config(model_dir)
    if config is None and (model_dir / "config.pbtxt").is_file():
        return ModelServing(name, Route.REFUSED, False, "its config.pbtxt does not parse: `triton-deck repo validate` says where")
    platform, backend = (config.platform, config.backend) if config is not None else ("", "")
    files = _version_files(model_dir) if model_dir.is_dir() else set()
    route = _route(platform, backend, files)
    if route is Route.NATIVE:
        return ModelServing(name, route, True, "served locally by the python backend")
    if route is Route.ENSEMBLE:
        steps = tuple(dict.fromkeys(step.model_name for step in (config.ensemble_scheduling.step if config is not None else ())))
        return ModelServing(name, route, True, f"served locally as an ensemble of {', '.join(steps) or 'no step'}", steps)
    if route is Route.ONNX:
        return ModelServing(name, route, True, f"served locally through onnxruntime {metadata.version('onnxruntime')} (CPU)")
    if route in (Route.TORCH, Route.TENSORFLOW):
        module, label, distributions = EXTRAS[route.value]
        if not installed(module):
            return ModelServing(name, route, False, f"a {label} model needs the {route.value} extra locally: pip install 'triton-deck[{route.value}]'")
        return ModelServing(name, route, True, f"served locally through {module} {_version(distributions)} (CPU)")
    return ModelServing(name, Route.REFUSED, False, _refusal(platform or backend))


def installed(module: str) -> bool:
    """Whether a framework's runtime can be imported here, and so in the server's python stub,
    which runs in this same environment."""
    return importlib.util.find_spec(module) is not None


def _version(distributions: tuple[str, ...]) -> str:
    for distribution in distributions:
        try:
            return metadata.version(distribution).split("+")[0]
        except metadata.PackageNotFoundError:
            continue
    return "(version unknown)"


def ovhcloud_serving(model_dir: Path) -> ModelServing:
    """On an OVHcloud GPU job the model runs on NVIDIA's own tritonserver image, with every backend."""
    config = _config(model_dir)
    kind = (config.platform or config.backend) if config is not None else ("onnxruntime" if "model.onnx" in _version_files(model_dir) else "")
    return ModelServing(model_dir.name, Route.NATIVE, True, f"served on the GPU job by Triton's {kind or 'auto-completed'} backend")


def repository_serving(root: Path, target: str) -> list[ModelServing]:
    """Per model, what `target` ("local" or "ovhcloud") can serve; an ensemble is servable
    only when every step is a model of the repository that is."""
    models = sorted(child for child in root.iterdir() if child.is_dir() and not child.name.startswith(".")) if root.is_dir() else []
    judge = local_serving if target == "local" else ovhcloud_serving
    found = {model.name: judge(model) for model in models}
    for name, serving in found.items():
        if serving.route is Route.ENSEMBLE:
            blocked = next((step for step in serving.steps if step not in found or not found[step].servable), None)
            if blocked is not None:
                why = "is not in the repository" if blocked not in found else "cannot be served locally"
                found[name] = ModelServing(name, Route.REFUSED, False, f"its step '{blocked}' {why}", serving.steps)
    return list(found.values())


def served_repository(source: Path, generated: Path, log: Callable[[str], None]) -> Path:
    """The repository the bundled server loads for `source`: `source` itself when every model
    is a python or ensemble model, else `generated`, rebuilt (links and generated models),
    each generated model said in `log`. A model the local server cannot serve is refused
    here, before the server starts."""
    servings = repository_serving(source, "local")
    refused = next((serving for serving in servings if not serving.servable), None)
    if refused is not None:
        raise UserError(f"model '{refused.model}' cannot be served locally: {refused.line}")
    if not any(serving.route in GENERATED for serving in servings):
        return source
    shutil.rmtree(generated, ignore_errors=True)
    generated.mkdir(parents=True, mode=0o700)
    for serving in servings:
        if serving.route in GENERATED:
            _generate(source / serving.model, generated / serving.model, serving.route)
            log(f"model '{serving.model}': {serving.line}")
        else:
            (generated / serving.model).symlink_to((source / serving.model).resolve(), target_is_directory=True)
    return generated


def _model_file(config: Any, source: Path, route: Route) -> str:
    """The file the real backend would open: default_model_filename, else the platform's name;
    a `backend: "tensorflow"` model says by its file whether it is a GraphDef or a SavedModel."""
    if config.default_model_filename:
        return str(config.default_model_filename)
    if route is Route.TENSORFLOW and not config.platform:
        files = _version_files(source)
        return next((name for name in ("model.savedmodel", "model.graphdef") if name in files), "model.savedmodel")
    return MODEL_FILE_BY_PLATFORM[config.platform or DEFAULT_PLATFORM[route]]


def _generate(source: Path, target: Path, route: Route) -> None:
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    config = _config(source) or model_config_pb2.ModelConfig()
    file = _model_file(config, source, route)
    if Path(file).name != file or file in (".", ".."):  # the stub opens it inside the version directory, never elsewhere
        raise UserError(f"model '{source.name}': default_model_filename '{file}' must be a file name in the version directory, not a path")
    versions = sorted(v for v in source.iterdir() if v.is_dir() and VERSION_DIR.match(v.name))
    present = [version for version in versions if (version / file).exists()]
    if not present:
        raise UserError(f"model '{source.name}' has no {file} in a version directory: put it in e.g. {source.name}/1/{file}")
    if not config.input or not config.output:
        if route is not Route.ONNX:  # as on a GPU server: only some backends derive a config
            label = EXTRAS[route.value][1]
            raise UserError(f"model '{source.name}': a {label} model needs its inputs and outputs in config.pbtxt: Triton cannot derive them from {file}")
        _auto_complete(config, present[-1] / file)
    config.name = source.name
    config.platform, config.backend, config.default_model_filename = "", "python", ""
    for group in config.instance_group:
        if group.kind == model_config_pb2.ModelInstanceGroup.KIND_GPU:  # the CPU runtime takes them: same count, on CPU
            group.kind = model_config_pb2.ModelInstanceGroup.KIND_CPU
            del group.gpus[:]
    config.optimization.ClearField("execution_accelerators")
    target.mkdir(mode=0o700)
    for item in source.iterdir():  # labels and whatever else the model directory holds
        if item.name != "config.pbtxt" and not (item.is_dir() and VERSION_DIR.match(item.name)):
            (target / item.name).symlink_to(item.resolve())
    for version in versions:
        (target / version.name).mkdir(mode=0o700)
        for item in version.iterdir():  # the model file and its external data, as they are
            if item.name not in ("model.py", SIDECAR):
                (target / version.name / item.name).symlink_to(item.resolve())
        shutil.copyfile(TEMPLATE, target / version.name / "model.py")
        (target / version.name / SIDECAR).write_text(json.dumps({"framework": route.value, "file": file}))
    (target / "config.pbtxt").write_text(text_format.MessageToString(config), encoding="utf-8")


def _auto_complete(config: Any, model_file: Path) -> None:
    """Inputs, outputs and max_batch_size from the ONNX file, as Triton's onnxruntime
    auto-complete derives them: a model whose every tensor has a free first dimension is
    batchable, with the default maximum and dynamic batching."""
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(model_file), providers=["CPUExecutionProvider"])
    except Exception as error:  # noqa: BLE001 - onnxruntime's reason, on one line
        raise UserError(f"model '{model_file.parent.parent.name}': onnxruntime cannot read {model_file.name}: {str(error).splitlines()[0]}") from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    batchable = config.max_batch_size > 0 or (not config.input and not config.output and all(
        tensor.shape and not isinstance(tensor.shape[0], int) for tensor in [*inputs, *outputs]
    ))  # fmt: skip
    if batchable and config.max_batch_size == 0:
        config.max_batch_size = DEFAULT_MAX_BATCH_SIZE
        config.dynamic_batching.SetInParent()
    for kind, tensors in (("input", inputs), ("output", outputs)):
        field = getattr(config, kind)
        if field:
            continue
        for tensor in tensors:
            shape = [dim if isinstance(dim, int) else -1 for dim in tensor.shape]
            item = field.add(name=tensor.name, dims=shape[1:] if batchable else shape)
            item.data_type = _triton_type(tensor.type, model_file)


def _triton_type(onnx_type: str, model_file: Path) -> int:
    from tritonclient.grpc import model_config_pb2

    name = ONNX_TYPES.get(onnx_type)
    if name is None:
        raise UserError(f"model '{model_file.parent.parent.name}': {onnx_type} tensors have no Triton type: give the model a config.pbtxt")
    return int(model_config_pb2.DataType.Value(name))
