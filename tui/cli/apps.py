"""`triton-deck app ...`: AI Deploy apps with ovhai's grammar (`ovhai app run|list|get|logs|scale|
set-image|start|stop|delete`), on OVHcloud and, for real, on the local profile.

    triton-deck app run nvcr.io/nvidia/tritonserver:24.08-py3 --models my-models@GRA --replicas 2
    triton-deck app scale 3f2a --auto-min-replicas 1 --auto-max-replicas 3 --auto-resource-type CPU
    triton-deck app logs -f 3f2a --replica 3f2a1b2c-1

`--models BUCKET@ALIAS[/prefix]` is the Triton preset: port 8000, gRPC 8001, probe
`/v2/health/ready`, `tritonserver --model-repository=/workspace/models`, the bucket mounted
read-only there. README "Triton on AI Deploy" says what works as is and what to watch.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from services.apps.document import app_document, run_command_line
from services.apps.preset import triton_app
from services.apps.protocol import AppPlatform, AppSpec, AppState, Probe, Scaling, scaling_summary
from services.jobs.protocol import check_image, job_resources, parse_pairs, parse_volume, resources_note
from services.storage.protocol import BucketRef
from services.usecases.apps import resolve_app, run_app, scale_app, scaling_from_flags, stop_app
from tui.cli.logs import print_log
from tui.cli.output import row_cell, warn
from tui.cli.parser import CommandGroup, OutputOption
from tui.cli.workloads import access, action_command, add_read_commands, add_run_options, check_port, parse_states, print_listing
from tui.render import app_cells

if TYPE_CHECKING:
    from tui.cli.context import Context

README_SECTION = "README.md, section \"Triton on AI Deploy\""


def _platform(ctx: Context) -> AppPlatform:
    return ctx.services.apps()


def _scaling(args: argparse.Namespace) -> Scaling:
    return scaling_from_flags(
        args.replicas, args.auto_min_replicas, args.auto_max_replicas, args.auto_resource_type, args.auto_resource_usage_threshold,
        args.auto_custom_api_url, args.auto_custom_metric_format, args.auto_custom_value_location, args.auto_custom_target_value,
        args.auto_custom_metric_aggregation_type, args.auto_scale_up_stabilization_window_seconds, args.auto_scale_down_stabilization_window_seconds,
    )  # fmt: skip


def _spec(args: argparse.Namespace) -> AppSpec:
    command = list(args.command)
    gpu, cpu = job_resources(args.gpu, args.cpu)
    if note := resources_note(args.gpu, args.cpu):
        warn(f"triton-deck: {note}")
    scaling = _scaling(args)
    volumes = tuple(parse_volume(volume) for volume in args.volume or [])
    if args.models:
        bucket = BucketRef.parse(args.models.split("/", 1)[0])
        prefix = args.models.split("/", 1)[1] if "/" in args.models else ""
        models = parse_volume(f"{bucket.name}@{bucket.region}{'/' + prefix if prefix else ''}:/workspace/models:RO")
        preset = triton_app(check_image(args.image), models, args.name, scaling, args.unsecure_http)
        spec = AppSpec(**{**preset.__dict__, "volumes": preset.volumes + volumes})
    else:
        spec = AppSpec(image=check_image(args.image), name=args.name, scaling=scaling, unsecure_http=args.unsecure_http, volumes=volumes)
    probe = spec.probe
    if args.probe_path or args.probe_port:
        probe = Probe(args.probe_path or (probe.path if probe else "/"), check_port(args.probe_port, "--probe-port") or (probe.port if probe else None))
    return AppSpec(
        **{
            **spec.__dict__,
            "command": tuple(command) or spec.command, "gpu": gpu, "cpu": cpu, "flavor": args.flavor, "probe": probe,
            "default_http_port": check_port(args.default_http_port, "--default-http-port") or spec.default_http_port,
            "grpc_port": check_port(args.grpc_port, "--grpc-port") or spec.grpc_port,
            "env": parse_pairs(args.env or [], "--env"), "labels": parse_pairs(args.label or [], "--label"),
        }
    )  # fmt: skip


def cmd_app_run(ctx: Context) -> int:
    spec = _spec(ctx.args)
    if spec.unsecure_http:
        warn("triton-deck: warning: --unsecure-http makes the app's URL reachable without a token")
    app = run_app(_platform(ctx), spec, ctx.services.object_store)
    if ctx.args.output == "json":
        ctx.print_json(app.raw or app_document(app))
    else:
        ctx.print(f"{app.id} {app.state.value} {app.url or ''}".rstrip())
    return 0


def cmd_app_list(ctx: Context) -> int:
    apps = _platform(ctx).list(parse_states(ctx.args.state, AppState, "an app"), ctx.args.label)
    now = datetime.now(UTC)
    columns = ("ID", "NAME", "STATE", "REPLICAS", "AGE", "SCALING", "URL")
    rows = [[cells[column] for column in columns] for cells in (app_cells(app, now) for app in apps)]
    return print_listing(ctx, apps, app_document, columns, rows, frozenset({3, 4}))


def cmd_app_get(ctx: Context) -> int:
    app = resolve_app(_platform(ctx), ctx.args.id)
    if ctx.args.output == "json":
        ctx.print_json(app.raw or app_document(app))
        return 0
    rows = (
        ("id", app.id), ("name", app.name), ("state", app.state.value), ("replicas", f"{app.available_replicas}/{app.desired}"),
        ("scaling", scaling_summary(app.spec.scaling)), ("url", app.url or ""), ("grpc", app.grpc_address or ""),
        ("info", app.info_message or ""), ("access", access(app.spec.unsecure_http)), ("ovhai", run_command_line(app.spec)),
    )  # fmt: skip
    for label, value in rows:
        ctx.print(f"{label:<8} {row_cell(value) if label != 'ovhai' else value}")
    return 0


def cmd_app_logs(ctx: Context) -> int:
    """Every replica merged and tagged, or `--replica R`'s lines only (the platform filters)."""
    platform = _platform(ctx)
    app_id = resolve_app(platform, ctx.args.id).id
    replica = ctx.args.replica
    return print_log(ctx, lambda tail: platform.logs(app_id, replica, tail), lambda cancel: platform.follow_logs(app_id, cancel, replica))


def cmd_app_scale(ctx: Context) -> int:
    platform = _platform(ctx)
    app = resolve_app(platform, ctx.args.id)
    scaling = _scaling(ctx.args)
    scale_app(platform, app, scaling)
    ctx.print(f"app {app.id}: scaling set to {scaling_summary(scaling)}")
    return 0


def cmd_app_set_image(ctx: Context) -> int:
    platform = _platform(ctx)
    app = resolve_app(platform, ctx.args.id)
    platform.set_image(app.id, check_image(ctx.args.image))
    ctx.print(f"app {app.id}: image set to {ctx.args.image}")
    return 0


cmd_app_start = action_command(_platform, resolve_app, lambda platform, app, _: platform.start(app.id), "start requested for")
cmd_app_stop = action_command(_platform, resolve_app, lambda platform, app, _: stop_app(platform, app), "stop requested for")
cmd_app_delete = action_command(_platform, resolve_app, lambda platform, app, args: platform.delete(app.id, force=args.force), "deleted")


def _scaling_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("scaling (fixed, or automatic on CPU/RAM or a custom metric)")
    group.add_argument("--replicas", type=int, help="a fixed number of replicas, 1-10 (default 1)")
    group.add_argument("--auto-min-replicas", "--min-replicas", type=int, help="automatic scaling: fewest replicas")
    group.add_argument("--auto-max-replicas", "--max-replicas", type=int, help="automatic scaling: most replicas (1-10)")
    group.add_argument("--auto-resource-type", "--resource-type", type=str.upper, choices=("CPU", "RAM"), help="the resource to scale on (default CPU)")
    group.add_argument("--auto-resource-usage-threshold", "--resource-threshold", type=int, help="average use per replica to hold, %% (default 75)")
    group.add_argument("--auto-scale-up-stabilization-window-seconds", type=int, help="lowest recommendation over this window wins a scale-up (default 0)")
    group.add_argument("--auto-scale-down-stabilization-window-seconds", type=int, help="highest recommendation over this window wins a scale-down (default 300)")
    group.add_argument("--auto-custom-api-url", help="custom metric URL; <SELF> is each replica, e.g. http://<SELF>:8002/metrics")
    group.add_argument("--auto-custom-metric-format", type=str.upper, choices=("JSON", "XML", "YAML", "PROMETHEUS"), help="format of the answer (default PROMETHEUS)")
    group.add_argument("--auto-custom-value-location", help='where the number is, e.g. nv_inference_pending_request_count{model="resnet50"}')
    group.add_argument("--auto-custom-target-value", type=float, help="the value per replica to hold")
    group.add_argument("--auto-custom-metric-aggregation-type", type=str.upper, choices=("AVERAGE", "MIN", "MAX", "SUM"), help="how replicas' values combine (default AVERAGE)")


def add_app_commands(groups: argparse._SubParsersAction, common: argparse.ArgumentParser, output_option: OutputOption) -> None:  # type: ignore[type-arg]
    app = CommandGroup(groups, common, output_option, "app", "run, list, scale, follow, stop and delete AI Deploy apps")
    run = app.action(
        "run", cmd_app_run, "run an app: IMAGE [OPTIONS] [-- COMMAND...]", usage="%(prog)s [OPTIONS] IMAGE [OPTIONS] [-- COMMAND...]",
        description=f"Run a long-lived, scalable app. With --models it is a Triton server; what works as is on AI Deploy: {README_SECTION}.",
    )  # fmt: skip
    add_run_options(run, "app", "GPUs per replica, 1-4 (default 1; the local profile runs on CPU)", None,
                    "the port behind the app URL (default 8080; 8000 with --models)", "the port behind the app's gRPC address (8001 with --models)")  # fmt: skip
    run.add_argument("--models", metavar="BUCKET@ALIAS[/prefix]", help="Triton preset: this bucket RO at /workspace/models, ports 8000/8001, probe /v2/health/ready")
    run.add_argument("--probe-path", help="readiness probe path (default /; /v2/health/ready with --models)")
    run.add_argument("--probe-port", type=int, help="readiness probe port (default: the HTTP port)")
    _scaling_options(run)
    output_option(run)
    handlers = {"list": cmd_app_list, "get": cmd_app_get, "logs": cmd_app_logs, "delete": cmd_app_delete}
    listing, logs = add_read_commands(app, "app", handlers, "the app's log, every replica merged and tagged; -f follows it")
    listing.add_argument("--label", metavar="NAME=VALUE", help="only apps with this label")
    logs.add_argument("--replica", help="only this replica's lines")
    scale = app.action("scale", cmd_app_scale, "change the scaling: --replicas N, or the --auto-* flags")
    scale.add_argument("id")
    _scaling_options(scale)
    set_image = app.action("set-image", cmd_app_set_image, "run another image")
    set_image.add_argument("id")
    set_image.add_argument("image")
    for name, handler, text in (("start", cmd_app_start, "start a stopped app (same URL)"), ("stop", cmd_app_stop, "stop an app (it is kept)")):
        app.action(name, handler, text).add_argument("id")
