"""Validate a Triton model repository before it is uploaded.

A repository that Triton will refuse costs a GPU job's queueing and start-up time to
find out about; everything Triton checks from files alone is checked here instead:
config syntax (with file, line and column), names, version directories, the model
file each platform expects, label files, types and shapes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

VERSION_DIR = re.compile(r"^[1-9][0-9]*$")
_PARSE_POSITION = re.compile(r"^(\d+):(\d+) : ")

# The file Triton loads from each version directory, by platform and by backend.
MODEL_FILE_BY_PLATFORM = {
    "tensorrt_plan": "model.plan",
    "onnxruntime_onnx": "model.onnx",
    "pytorch_libtorch": "model.pt",
    "tensorflow_graphdef": "model.graphdef",
    "tensorflow_savedmodel": "model.savedmodel",
    "openvino": "model.xml",
}
MODEL_FILE_BY_BACKEND = {
    "tensorrt": "model.plan",
    "onnxruntime": "model.onnx",
    "pytorch": "model.pt",
    "python": "model.py",
    "openvino": "model.xml",
    "dali": "model.dali",
}
# A config.pbtxt is a few KB, an ensemble's a few dozen; text protobuf parsing costs about
# 7 bytes of memory per byte read, so a file over this is refused unread, by its size.
MAX_CONFIG_BYTES = 4 * 1024 * 1024
# Models Triton can run without a config.pbtxt (it auto-completes one from the model file).
AUTO_COMPLETE_FILES = ("model.onnx", "model.plan", "model.xml")


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    severity: Severity
    path: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.path + (f":{self.line}:{self.column}" if self.line is not None else "")
        return f"{where}: {self.severity}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"severity": self.severity.value, "path": self.path, "line": self.line, "column": self.column, "message": self.message}


@dataclass
class ValidationReport:
    root: Path
    models: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        return f"{self.root}: {len(self.models)} model(s), {len(self.errors)} error(s), {len(self.warnings)} warning(s)"


def looks_like_repository(path: Path) -> bool:
    """A directory holding at least one model directory (with a config or a version dir)."""
    if not path.is_dir():
        return False
    for child in path.iterdir():
        if child.is_dir() and ((child / "config.pbtxt").is_file() or any(VERSION_DIR.match(sub.name) for sub in child.iterdir() if sub.is_dir())):
            return True
    return False


class _ModelCheck:
    """The checks of one model directory; findings go to the shared report."""

    def __init__(self, report: ValidationReport, model_dir: Path) -> None:
        self.report = report
        self.dir = model_dir
        self.name = model_dir.name

    def add(self, severity: Severity, path: Path, message: str, line: int | None = None, column: int | None = None) -> None:
        relative = str(path.relative_to(self.report.root.parent)) if path.is_relative_to(self.report.root.parent) else str(path)
        self.report.findings.append(Finding(severity, relative, message, line, column))

    def run(self) -> None:
        versions = self.versions()
        config_path = self.dir / "config.pbtxt"
        if not config_path.is_file():
            self.without_config(versions)
            return
        config = self.parse(config_path)
        if config is None:
            return
        if config.name and config.name != self.name:
            self.add(Severity.ERROR, config_path, f"name '{config.name}' does not match the directory '{self.name}': rename one of them")
        if config.max_batch_size < 0:
            self.add(Severity.ERROR, config_path, f"max_batch_size is {config.max_batch_size}: it must be 0 (no batching) or more")
        self.tensors(config, config_path)
        self.model_files(config, config_path, versions)

    def versions(self) -> list[Path]:
        valid = []
        for sub in sorted(p for p in self.dir.iterdir() if p.is_dir()):
            if VERSION_DIR.match(sub.name):
                valid.append(sub)
            elif sub.name != "configs":
                self.add(Severity.WARNING, sub, f"'{sub.name}/' is ignored by Triton: version directories are numbers without a leading 0, such as 1/")
        if not valid:
            self.add(Severity.ERROR, self.dir, "no version directory: put the model file in a numbered directory such as 1/")
        return valid

    def without_config(self, versions: list[Path]) -> None:
        present = {name for version in versions for name in AUTO_COMPLETE_FILES if (version / name).exists()}
        if present:
            self.add(
                Severity.WARNING,
                self.dir,
                "no config.pbtxt: Triton auto-completes it from the model, but classification results will carry no labels",
            )
        else:
            self.add(Severity.ERROR, self.dir / "config.pbtxt", "missing: only ONNX, TensorRT and OpenVINO models can do without a config.pbtxt")

    def parse(self, path: Path) -> Any | None:
        try:
            return parse_config(path)
        except ConfigError as error:
            self.add(Severity.ERROR, path, error.message, error.line, error.column)
        return None

    def tensors(self, config: Any, config_path: Path) -> None:
        from tritonclient.grpc import model_config_pb2

        invalid = model_config_pb2.DataType.Value("TYPE_INVALID")
        for kind, tensors in (("input", config.input), ("output", config.output)):
            for tensor in tensors:
                label = f"{kind} '{tensor.name}'"
                if tensor.data_type == invalid:
                    self.add(Severity.ERROR, config_path, f"{label} has no valid data_type: set one such as TYPE_FP32")
                if not tensor.dims and not tensor.HasField("reshape"):
                    self.add(Severity.ERROR, config_path, f"{label} has empty dims: give its shape, e.g. dims: [ 3, 224, 224 ]")
                if kind == "output" and tensor.label_filename:
                    self.labels(tensor, label)

    def labels(self, tensor: Any, label: str) -> None:
        path = self.dir / tensor.label_filename
        if not path.is_file():
            self.add(Severity.ERROR, path, f"label file of {label} is missing: add it next to config.pbtxt")
            return
        dims = list(tensor.dims)
        if dims and all(dim > 0 for dim in dims):
            classes = math.prod(dims)
            lines = _count_lines(path, classes)
            if lines < classes:
                self.add(Severity.ERROR, path, f"{lines} label(s) for the {classes} classes of {label}: add the missing lines")

    def model_files(self, config: Any, config_path: Path, versions: list[Path]) -> None:
        if config.platform == "ensemble":
            return
        expected = config.default_model_filename or MODEL_FILE_BY_PLATFORM.get(config.platform) or MODEL_FILE_BY_BACKEND.get(config.backend)
        if expected is None:
            if not config.platform and not config.backend:
                self.add(Severity.ERROR, config_path, "neither platform nor backend is set: add e.g. backend: \"python\"")
            return  # a custom backend: its file name is its own business
        for version in versions:
            if not (version / expected).exists():
                self.add(Severity.ERROR, version / expected, f"missing: the {config.platform or config.backend} model file Triton loads from {version.name}/")


class ConfigError(Exception):
    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


def parse_config(path: Path) -> Any:
    """A config.pbtxt as Triton's ModelConfig, or ConfigError saying why not (with the position
    of a syntax error): one reader, with one size cap, for validation and for serving."""
    from google.protobuf import text_format  # imported when a repository is read, not at startup
    from tritonclient.grpc import model_config_pb2

    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{size:,} bytes: a config.pbtxt over {MAX_CONFIG_BYTES // 1024 // 1024} MiB is not read; is this really a model config?")
    try:
        return text_format.Parse(path.read_text(encoding="utf-8"), model_config_pb2.ModelConfig())
    except text_format.ParseError as error:
        line, column = error.GetLine(), error.GetColumn()
        raise ConfigError(f"syntax: {_PARSE_POSITION.sub('', str(error))}", line if line >= 0 else None, column if column >= 0 else None) from None
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text: is this really a config.pbtxt?") from None


def _count_lines(path: Path, enough: int) -> int:
    """The label file's line count, read in blocks and only as far as `enough` lines."""
    count, last = 0, b"\n"
    with path.open("rb") as file:
        while count < enough and (block := file.read(1 << 16)):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def validate_repository(root: Path) -> ValidationReport:
    report = ValidationReport(root=root)
    if not root.is_dir():
        report.findings.append(Finding(Severity.ERROR, str(root), "not a directory: give the model repository's path"))
        return report
    for child in sorted(root.iterdir()):
        if child.name.startswith("."):
            continue
        if not child.is_dir():
            report.findings.append(Finding(Severity.WARNING, str(child.relative_to(root.parent)), "not a model directory: Triton ignores files at the top of the repository"))
            continue
        report.models.append(child.name)
        _ModelCheck(report, child).run()
    if not report.models:
        report.findings.append(Finding(Severity.ERROR, str(root), "no model directories: a repository holds one directory per model"))
    return report
