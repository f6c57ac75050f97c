"""`triton-deck repo validate DIR`, and the findings printer the upload command shares."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from services.repository import (
    ValidationReport,
    validate_repository,
)
from services.triton.frameworks import TARGETS, repository_serving
from tui.cli.output import warn
from tui.cli.parser import CommandGroup, OutputOption
from tui.render import serving_lines

if TYPE_CHECKING:
    from tui.cli.context import Context


def print_report(report: ValidationReport) -> None:
    for finding in report.findings:
        warn(str(finding))


def cmd_repo_validate(ctx: Context) -> int:
    """The findings, then per model whether the target serves it and how (default target: the
    active profile's kind): what passes here is what runs there."""
    root = Path(ctx.args.directory)
    report = validate_repository(root)
    target = ctx.args.target or ctx.profile.kind.value
    servings = repository_serving(root, target)
    servable = all(serving.servable for serving in servings)
    if ctx.args.output == "json":
        ctx.print_json({
            "root": str(report.root), "models": report.models, "ok": report.ok and servable, "findings": [f.as_dict() for f in report.findings],
            "target": target, "serving": [{"model": s.model, "servable": s.servable, "how": s.line} for s in servings],
        })  # fmt: skip
    else:
        print_report(report)
        for line in serving_lines(servings, target):
            ctx.print(line)
        ctx.print(report.summary())
    return 0 if report.ok and servable else 1


def add_repo_commands(groups: argparse._SubParsersAction, common: argparse.ArgumentParser, output_option: OutputOption) -> None:  # type: ignore[type-arg]
    repo = CommandGroup(groups, common, output_option, "repo", "check a Triton model repository")
    validate = repo.action("validate", cmd_repo_validate, "check layout, config.pbtxt, versions, model files and labels", output=True)
    validate.add_argument("directory", metavar="DIR")
    validate.add_argument("--target", choices=TARGETS, help="where it will be served: per model, can it be and how (default: the profile's kind)")
