"""The layer rules of the product card, checked on the import statements themselves."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PURE_TEXT = "services.text"


def imported_modules(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # services.text is kept whole: the one pure services module widgets may import
                names.add(node.module if node.module == PURE_TEXT else node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_services_know_nothing_of_textual_or_the_ui() -> None:
    offenders = {path: names & {"textual", "tui", "widgets"} for path, names in imported_modules("services").items()}
    assert not {path: names for path, names in offenders.items() if names}
    assert "textual" not in "".join(p.read_text() for p in (ROOT / "services").rglob("*.py"))


def test_widgets_do_no_io() -> None:
    io_libraries = {"boto3", "botocore", "httpx", "docker", "tritonclient", "subprocess", "socket", "services", "tui"}
    offenders = {path: names & io_libraries for path, names in imported_modules("widgets").items()}
    assert not {path: names for path, names in offenders.items() if names}


def test_the_text_module_widgets_share_with_services_is_pure() -> None:
    """Widgets make untrusted text inert with `services.text`; it must stay free of I/O."""
    assert any(PURE_TEXT in names for names in imported_modules("widgets").values())
    assert imported_modules("services")["services/text.py"] <= {"__future__", "re"}


def test_the_ui_reaches_clients_only_through_services() -> None:
    """`tui` wires services to widgets: it never talks to S3, the API, dockerd or Triton itself."""
    clients = {"boto3", "botocore", "httpx", "docker", "tritonclient", "websockets"}
    offenders = {path: names & clients for path, names in imported_modules("tui").items()}
    assert not {path: names for path, names in offenders.items() if names}


def test_the_domain_never_imports_the_distribution_shim_and_inference_stands_below_perf() -> None:
    """`triton_deck` is the wheel's wrapper (services find the demo beside themselves), and
    `services.perf` builds on `services.inference`, never the other way round."""
    found = imported_modules("services")
    assert not {path for path, names in found.items() if "triton_deck" in names}
    for path in (ROOT / "services" / "inference").rglob("*.py"):
        imported = [node.module or "" for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ImportFrom)]
        assert not [name for name in imported if name.startswith("services.perf")], path


def test_tests_share_helpers_not_each_other() -> None:
    """A helper one test module needs from another lives in tests/helpers.py or a conftest
    fixture: importing a test module runs its module-level setup and couples the two."""
    offenders = []
    for path in sorted([*(ROOT / "tests").glob("*.py"), *(ROOT / "bench").glob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tests.test_"):
                offenders.append(f"{path.relative_to(ROOT)}: from {node.module}")
    assert not offenders


def test_use_cases_stand_below_the_pipeline() -> None:
    """The pipeline runs the use cases; a use case that imported the pipeline would run it back."""
    for path in (ROOT / "services" / "usecases").rglob("*.py"):
        imported = [node.module or "" for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ImportFrom)]
        assert not [name for name in imported if name.startswith("services.pipeline")], path


def test_apps_take_from_jobs_only_what_runs_share() -> None:
    """An app is a run like a job (the protocol's RunSpec, the API's document mapping); what
    local jobs and replicas share lives in services/supervised, not in the jobs' internals."""
    shared = {"services.jobs.protocol", "services.jobs.document"}
    for path in (ROOT / "services" / "apps").rglob("*.py"):
        imported = {node.module or "" for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ImportFrom)}
        assert not {name for name in imported if name.startswith("services.jobs") and name not in shared}, path
