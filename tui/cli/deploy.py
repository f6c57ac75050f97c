"""`triton-deck demo` and `triton-deck deploy --plan FILE`: the pipeline, headless.

    triton-deck demo [--keep] [--fresh] [--app]   the tutorial on the local profile, shipped repository and photos
    triton-deck deploy --plan plan.json       the same flow for any profile, for scripts and CI

One line per step with its time, then the top-k per photo in image_client's format.
Exit 1 names the failing step. A second run resumes where the first stopped.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from services.apps.protocol import App
from services.backends import Capability, backend
from services.cancel import CancelToken
from services.errors import UserError
from services.inference.protocol import Classification
from services.pipeline.plan import STEP_TITLES, DeployPlan, Step, demo_plan, step_title
from services.pipeline.runner import PipelineRunner
from services.pipeline.state import PipelineState, PipelineStore, StepRecord, StepStatus
from tui.cli.output import warn

if TYPE_CHECKING:
    from tui.cli.context import Context

MARKS = {StepStatus.DONE: "ok", StepStatus.SKIPPED: "--", StepStatus.FAILED: "!!", StepStatus.PENDING: ".."}


def step_line(step: Step, record: StepRecord) -> str:
    seconds = f"{record.seconds:6.1f}s" if record.seconds is not None else " " * 7
    return f"[{MARKS.get(record.status, '..')}] {step_title(step, bool(record.result.outputs)):<20} {seconds}  {record.detail}"


def print_answers(ctx: Context, state: PipelineState) -> None:
    for answer in state.steps[Step.CLASSIFY].result.answers:
        if answer.error:
            warn(f"triton-deck: image '{answer.image}': {answer.error}")
            continue
        ctx.print(f"Image '{answer.image}':")
        for score, index, label in answer.classes:
            ctx.print(Classification(score, index, label).image_client_line())


def run_plan(ctx: Context, plan: DeployPlan, fresh: bool, keep: bool) -> int:
    profile = ctx.profile
    services = ctx.services
    store = PipelineStore(profile.name)

    def listener(step: Step, record: StepRecord) -> None:
        if record.status in (StepStatus.DONE, StepStatus.SKIPPED, StepStatus.FAILED) or "interrupted" in record.detail:
            ctx.print(step_line(step, record))
            ctx.out.flush()

    cancel = CancelToken()
    runner = PipelineRunner(services, store, listener, cancel, registries=ctx.config.registries)
    earlier = store.load()
    started_before = {record.result.job for record in earlier.steps.values() if record.result.job} if earlier and not fresh else set()
    try:
        state = runner.run(plan, resume=not fresh, stop_leftovers=True)
    except KeyboardInterrupt:
        cancel.cancel()
        raise
    for leftover in runner.stopped:
        warn(f"triton-deck: stopped {'app' if isinstance(leftover, App) else 'job'} {leftover.id}, which the last run left {leftover.state.value}")
    if ctx.args.output == "json":
        ctx.print_json(state.to_json())
    failed = state.failed_step
    if failed is not None:
        raise UserError(f"step '{STEP_TITLES[failed]}' failed: {state.steps[failed].detail}")
    if ctx.args.output != "json":
        print_answers(ctx, state)
    if not keep and services.has(Capability.JOBS):
        for step in (Step.CLIENT, Step.SERVE):
            job_id = state.steps[step].result.job
            if not job_id or (step is Step.SERVE and plan.reuse_job):
                continue  # a job the plan reused is not ours to delete
            if str(job_id) in started_before:  # e.g. the server job the open TUI is using
                warn(f"triton-deck: kept job {job_id}: an earlier run started it (`triton-deck job delete {job_id} --force` removes it)")
                continue
            services.jobs().delete(str(job_id), force=True)
            warn(f"triton-deck: deleted job {job_id} (--keep keeps it)")
        app_id = state.steps[Step.SERVE].result.app
        if app_id and services.has(Capability.APPS):
            services.apps().delete(app_id, force=True)
            warn(f"triton-deck: deleted app {app_id} (--keep keeps it)")
        store.clear()
    return 0


def cmd_demo(ctx: Context) -> int:
    if not backend(ctx.profile).runs_demo:
        raise UserError(f"`demo` runs on the local profile (this is '{ctx.profile.name}'): add --profile local, or use `deploy --plan`")
    plan = demo_plan(ctx.profile).with_changes(client_job=ctx.args.client_job)
    if ctx.args.app:  # the tutorial's question answered: the same server as a 2-replica app
        plan = plan.with_changes(serve_as="app", replicas=2)
    return run_plan(ctx, plan, ctx.args.fresh, ctx.args.keep)


def cmd_deploy(ctx: Context) -> int:
    plan = DeployPlan.read(ctx.args.plan)
    return run_plan(ctx, plan, ctx.args.fresh, keep=True)


def cmd_deploy_example(ctx: Context) -> int:
    """A plan to start from: the demo's, for this profile."""
    ctx.out.write(json.dumps(demo_plan(ctx.profile).to_json(), indent=2) + "\n")
    return 0


Output = Callable[[argparse.ArgumentParser], None]


def add_deploy_commands(groups: argparse._SubParsersAction, common: argparse.ArgumentParser, output_option: Output) -> None:  # type: ignore[type-arg]
    demo = groups.add_parser("demo", parents=[common], help="the whole tutorial on the local profile, headless")
    demo.add_argument("--keep", action="store_true", help="keep the server job (and its record) afterwards")
    demo.add_argument("--fresh", action="store_true", help="start over instead of resuming an unfinished run")
    demo.add_argument("--client-job", action="store_true", help="also run the classifier as a job, as the tutorial does")
    demo.add_argument("--app", action="store_true", help="serve the model as a 2-replica app (AI Deploy) instead of a job")
    output_option(demo)
    demo.set_defaults(handler=cmd_demo)
    deploy = groups.add_parser("deploy", parents=[common], help="run a deploy plan (JSON) on the profile, headless")
    deploy.add_argument("--plan", type=Path, help="the plan file; `deploy --example` prints one to start from")
    deploy.add_argument("--example", action="store_true", help="print the demo's plan for this profile")
    deploy.add_argument("--fresh", action="store_true", help="start over instead of resuming an unfinished run")
    output_option(deploy)
    deploy.set_defaults(handler=lambda ctx: cmd_deploy_example(ctx) if ctx.args.example else _deploy_with_plan(ctx))


def _deploy_with_plan(ctx: Context) -> int:
    if ctx.args.plan is None:
        raise UserError("deploy needs --plan FILE (or --example to print one to start from)")
    return cmd_deploy(ctx)
