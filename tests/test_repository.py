"""Model repository validation: the tutorial's layout passes, each broken rule is caught."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from services.repository import Severity, looks_like_repository, validate_repository
from tests.helpers import good_repository
from tui.cli import main


def messages(repo: Path) -> list[tuple[str, str, str]]:
    return [(f.severity.value, f.path, f.message) for f in validate_repository(repo).findings]


def test_the_tutorial_layout_is_valid(tmp_path: Path) -> None:
    repo = good_repository(tmp_path)
    report = validate_repository(repo)
    assert report.ok and report.findings == [] and report.models == ["densenet_onnx", "simple"]
    assert looks_like_repository(repo) and not looks_like_repository(repo / "densenet_onnx" / "1")


def edit(path: str, old: str, new: str) -> Callable[[Path], None]:
    def apply(repo: Path) -> None:
        target = repo / path
        target.write_text(target.read_text().replace(old, new))

    return apply


BROKEN: dict[str, tuple[Callable[[Path], None], tuple[str, str, str]]] = {
    "syntax": (
        edit("simple/config.pbtxt", "max_batch_size: 8", "max_batch_size: 8\nmax_batch: 1"),
        ("error", "model_repository/simple/config.pbtxt", 'syntax: Message type "inference.ModelConfig" has no field named "max_batch".'),
    ),
    "name mismatch": (
        edit("simple/config.pbtxt", 'name: "simple"', 'name: "simpel"'),
        ("error", "model_repository/simple/config.pbtxt", "name 'simpel' does not match the directory 'simple': rename one of them"),
    ),
    "negative batch": (
        edit("simple/config.pbtxt", "max_batch_size: 8", "max_batch_size: -1"),
        ("error", "model_repository/simple/config.pbtxt", "max_batch_size is -1: it must be 0 (no batching) or more"),
    ),
    "invalid type": (
        edit("simple/config.pbtxt", "data_type: TYPE_INT32 dims: [ 16 ] } ]\noutput", "dims: [ 16 ] } ]\noutput"),
        ("error", "model_repository/simple/config.pbtxt", "input 'INPUT0' has no valid data_type: set one such as TYPE_FP32"),
    ),
    "empty dims": (
        edit("simple/config.pbtxt", 'name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 16 ]', 'name: "OUTPUT0" data_type: TYPE_INT32'),
        ("error", "model_repository/simple/config.pbtxt", "output 'OUTPUT0' has empty dims: give its shape, e.g. dims: [ 3, 224, 224 ]"),
    ),
    "no version": (
        lambda repo: (repo / "simple" / "1").rename(repo / "simple" / "v1"),
        ("error", "model_repository/simple", "no version directory: put the model file in a numbered directory such as 1/"),
    ),
    "model file missing": (
        lambda repo: (repo / "densenet_onnx" / "1" / "model.onnx").unlink(),
        ("error", "model_repository/densenet_onnx/1/model.onnx", "missing: the onnxruntime_onnx model file Triton loads from 1/"),
    ),
    "default_model_filename": (
        edit("simple/config.pbtxt", 'backend: "python"', 'backend: "python"\ndefault_model_filename: "main.py"'),
        ("error", "model_repository/simple/1/main.py", "missing: the python model file Triton loads from 1/"),
    ),
    "labels missing": (
        lambda repo: (repo / "densenet_onnx" / "densenet_labels.txt").unlink(),
        ("error", "model_repository/densenet_onnx/densenet_labels.txt", "label file of output 'fc6_1' is missing: add it next to config.pbtxt"),
    ),
    "labels short": (
        lambda repo: (repo / "densenet_onnx" / "densenet_labels.txt").write_text("ONLY\nTWO\n"),
        ("error", "model_repository/densenet_onnx/densenet_labels.txt", "2 label(s) for the 1000 classes of output 'fc6_1': add the missing lines"),
    ),
    "no platform": (
        edit("simple/config.pbtxt", 'backend: "python"\n', ""),
        ("error", "model_repository/simple/config.pbtxt", 'neither platform nor backend is set: add e.g. backend: "python"'),
    ),
    "python without config": (
        lambda repo: (repo / "simple" / "config.pbtxt").unlink(),
        ("error", "model_repository/simple/config.pbtxt", "missing: only ONNX, TensorRT and OpenVINO models can do without a config.pbtxt"),
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_each_broken_rule_is_one_finding(tmp_path: Path, case: str) -> None:
    repo = good_repository(tmp_path)
    breaker, expected = BROKEN[case]
    breaker(repo)
    assert messages(repo) == [expected] or (case == "no version" and expected in messages(repo))


def test_syntax_errors_carry_line_and_column(tmp_path: Path) -> None:
    repo = good_repository(tmp_path)
    edit("simple/config.pbtxt", "max_batch_size: 8", "max_batch_size: 8\nmax_batch: 1")(repo)
    finding = validate_repository(repo).findings[0]
    assert (finding.line, finding.column) == (4, 1)
    assert str(finding).startswith("model_repository/simple/config.pbtxt:4:1: error: syntax:")


def test_warnings_do_not_block(tmp_path: Path) -> None:
    repo = good_repository(tmp_path)
    (repo / "simple" / "0").mkdir()
    (repo / "simple" / "01").mkdir()
    (repo / "onnx_only" / "1").mkdir(parents=True)
    (repo / "onnx_only" / "1" / "model.onnx").write_bytes(b"x")
    report = validate_repository(repo)
    assert report.ok
    assert [(f.severity, f.path) for f in report.findings] == [
        (Severity.WARNING, "model_repository/onnx_only"),
        (Severity.WARNING, "model_repository/simple/0"),
        (Severity.WARNING, "model_repository/simple/01"),
    ]
    assert "classification results will carry no labels" in report.findings[0].message


def test_cli_validate_and_upload_blocked_by_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    repo = good_repository(tmp_path)
    out = io.StringIO()
    assert main(["repo", "validate", str(repo), "-o", "json"], env={}, out=out) == 0
    assert json.loads(out.getvalue())["ok"] is True
    (repo / "densenet_onnx" / "densenet_labels.txt").unlink()
    assert main(["repo", "validate", "model_repository"], env={}, out=io.StringIO()) == 1
    upload = ["bucket", "object", "upload", "--create", "my-models@LOCAL", "model_repository/", "-r", "model_repository/"]
    assert main(upload, env={}, out=io.StringIO()) == 1
    err = capsys.readouterr().err
    assert "model_repository: 2 model(s), 1 error(s), 0 warning(s): fix them, or upload anyway with --skip-validation" in err
    assert main(["bucket", "object", "list", "my-models@LOCAL"], env={}, out=io.StringIO()) == 1, "nothing created"
    assert main([*upload, "--skip-validation"], env={}, out=io.StringIO()) == 0
    listing = io.StringIO()
    main(["bucket", "object", "list", "my-models@LOCAL"], env={}, out=listing)
    assert listing.getvalue().count("\n") == 5, "header and four objects"


def test_a_huge_config_is_refused_by_its_size_unread(tmp_path: Path) -> None:
    """A 200 MB config.pbtxt took 1.4 GB to parse; it is refused by its size (a sparse file: nothing is read)."""
    import resource

    repo = good_repository(tmp_path)
    with (repo / "simple" / "config.pbtxt").open("r+b") as config:
        config.truncate(200 * 1024 * 1024)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    findings = messages(repo)
    assert findings == [("error", "model_repository/simple/config.pbtxt", f"{200 * 1024 * 1024:,} bytes: a config.pbtxt over 4 MiB is not read; is this really a model config?")]
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 64 * 1024  # KiB: no 200 MB read


def test_a_label_file_is_counted_without_being_read_whole(tmp_path: Path) -> None:
    repo = good_repository(tmp_path)
    labels = repo / "densenet_onnx" / "densenet_labels.txt"
    labels.write_text("".join(f"CLASS {n}\n" for n in range(999)) + "last, no newline")
    assert messages(repo) == []
    labels.write_text("".join(f"CLASS {n}\n" for n in range(998)))
    assert messages(repo) == [("error", "model_repository/densenet_onnx/densenet_labels.txt", "998 label(s) for the 1000 classes of output 'fc6_1': add the missing lines")]
