"""`triton-deck job ...`: the ovhai job commands, on the profile's job platform.

    triton-deck job run --default-http-port 8000 --gpu 1 --unsecure-http \\
        --volume my-models@LOCAL:/workspace/models:RO local/tritonserver -- bash -c 'tritonserver --model-repository=/workspace/models'
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from services.jobs.document import job_document
from services.jobs.protocol import (
    JobPlatform,
    JobSpec,
    JobState,
    LogItem,
    check_image,
    is_marker,
    job_resources,
    parse_pairs,
    parse_volume,
    resources_note,
)
from services.jobs.ssh_keys import ssh_public_keys
from services.logs.format import source_of
from services.units import parse_duration
from services.usecases.jobs import resolve_job, run_job, stop_job
from tui.cli.logs import print_log
from tui.cli.output import warn
from tui.cli.parser import CommandGroup, OutputOption
from tui.cli.workloads import access, action_command, add_read_commands, add_run_options, check_port, parse_states, print_listing
from tui.render import job_cells

if TYPE_CHECKING:
    from tui.cli.context import Context


def _platform(ctx: Context) -> JobPlatform:
    return ctx.services.jobs()


def cmd_job_run(ctx: Context) -> int:
    args = ctx.args
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    gpu, cpu = job_resources(args.gpu, args.cpu)
    if note := resources_note(args.gpu, args.cpu):
        warn(f"triton-deck: {note}")
    spec = JobSpec(
        image=check_image(args.image),
        command=tuple(command),
        name=args.name,
        gpu=gpu,
        cpu=cpu,
        flavor=args.flavor,
        default_http_port=check_port(args.default_http_port, "--default-http-port") or 8080,
        grpc_port=check_port(args.grpc_port, "--grpc-port"),
        unsecure_http=args.unsecure_http,
        volumes=tuple(parse_volume(volume) for volume in args.volume or []),
        env=parse_pairs(args.env or [], "--env"),
        labels=parse_pairs(args.label or [], "--label"),
        timeout_s=parse_duration(args.timeout) if args.timeout else None,
        ssh_public_keys=ssh_public_keys(args.ssh_public_keys or []),
    )
    if spec.unsecure_http:
        warn("triton-deck: warning: --unsecure-http makes the job's URL reachable without a token")
    job = run_job(_platform(ctx), spec, ctx.services.object_store)
    if args.output == "json":
        ctx.print_json(job.raw or job_document(job))
    else:
        ctx.print(f"{job.id} {job.state.value}")
    return 0


def cmd_job_list(ctx: Context) -> int:
    """`ovhai job list`'s columns plus NAME; `--state` filters (the API does it where it can), `-q` prints ids only."""
    jobs = _platform(ctx).list(parse_states(ctx.args.state, JobState, "a job"))
    now = datetime.now(UTC)
    rows = [[cells[column] for column in ("ID", "NAME", "STATE", "AGE", "IMAGE", "URL")] for cells in (job_cells(job, now) for job in jobs)]
    return print_listing(ctx, jobs, job_document, ("ID", "NAME", "STATE", "AGE", "IMAGE", "JOB_URL"), rows, frozenset({3}))


def cmd_job_get(ctx: Context) -> int:
    job = resolve_job(_platform(ctx), ctx.args.id)
    if ctx.args.output == "json":
        ctx.print_json(job.raw or job_document(job))
        return 0
    for label, value in (("id", job.id), ("state", job.state.value), ("url", job.url or ""), ("ip", job.ip or ""), ("info", job.info_message or ""), ("access", access(job.spec.unsecure_http))):
        ctx.print(f"{label:<6} {value}")
    return 0


def _wanted(item: LogItem, source: str | None) -> bool:
    return source is None or is_marker(item) or source_of(item) == source


def cmd_job_logs(ctx: Context) -> int:
    """`--from job` keeps the container's own lines."""
    platform = _platform(ctx)
    job_id = resolve_job(platform, ctx.args.id).id
    source = ctx.args.source
    wanted = None if source is None else (lambda line: _wanted(line, source))
    return print_log(ctx, lambda tail: platform.logs(job_id, tail=tail), lambda cancel: platform.follow_logs(job_id, cancel), wanted)


cmd_job_stop = action_command(_platform, resolve_job, lambda platform, job, _: stop_job(platform, job), "stop requested for")
cmd_job_delete = action_command(_platform, resolve_job, lambda platform, job, args: platform.delete(job.id, force=args.force), "deleted")


def add_job_commands(groups: argparse._SubParsersAction, common: argparse.ArgumentParser, output_option: OutputOption) -> None:  # type: ignore[type-arg]
    job = CommandGroup(groups, common, output_option, "job", "run, list, get, follow, stop and delete jobs")
    run = job.action("run", cmd_job_run, "run a job: IMAGE [OPTIONS] -- COMMAND...", usage="%(prog)s [OPTIONS] IMAGE [OPTIONS] -- COMMAND...")
    add_run_options(run, "job", "GPUs, 1-4 (default 1; the local profile records it and runs on CPU)", 8080,
                    "the port the job URL exposes (default 8080)", "a second port for gRPC when it cannot share the HTTP one")  # fmt: skip
    run.add_argument("-t", "--timeout", help="stop the job after this long: 30s, 15m, 1h, 7d")
    run.add_argument("-s", "--ssh-public-keys", action="append", help="a public key, or a file of them")
    output_option(run)
    handlers = {"list": cmd_job_list, "get": cmd_job_get, "logs": cmd_job_logs, "delete": cmd_job_delete}
    _listing, logs = add_read_commands(job, "job", handlers, "the job's log; -f follows it until the job ends")
    logs.add_argument("--from", dest="source", metavar="SOURCE", help="only lines from this source: `job` is the container's own output")
    job.action("stop", cmd_job_stop, "stop a job (RW volumes sync back)").add_argument("id")
