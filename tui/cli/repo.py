"""`triton-deck repo validate DIR`, and the findings printer the upload command shares."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from services.repository import (
    ValidationReport,
    validate_repository,
)
from tui.cli.output import warn

if TYPE_CHECKING:
    from tui.cli.context import Context


def print_report(report: ValidationReport) -> None:
    for finding in report.findings:
        warn(str(finding))


def cmd_repo_validate(ctx: Context) -> int:
    report = validate_repository(Path(ctx.args.directory))
    if ctx.args.output == "json":
        ctx.print_json({"root": str(report.root), "models": report.models, "ok": report.ok, "findings": [f.as_dict() for f in report.findings]})
    else:
        print_report(report)
        ctx.print(report.summary())
    return 0 if report.ok else 1


def add_repo_commands(groups: argparse._SubParsersAction, common: argparse.ArgumentParser, output_option: Callable[[argparse.ArgumentParser], None]) -> None:  # type: ignore[type-arg]
    repo = groups.add_parser("repo", parents=[common], help="check a Triton model repository")
    repo_commands = repo.add_subparsers(title="repo commands", metavar="ACTION", required=True)
    validate = repo_commands.add_parser("validate", parents=[common], help="check layout, config.pbtxt, versions, model files and labels")
    validate.add_argument("directory", metavar="DIR")
    output_option(validate)
    validate.set_defaults(handler=cmd_repo_validate)
