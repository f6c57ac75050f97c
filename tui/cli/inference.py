"""`triton-deck health` and `triton-deck classify`: the tutorial's curl and image_client steps.

    triton-deck health --job ID
    triton-deck classify -m efficientnet_lite0 -c 3 -s INCEPTION --job ID demo/samples/coffee.png

`classify` takes image_client's flags and prints its output (the tutorial's C++ form:
`Request 0, batch size 1`, `Image '...':`, then `    score (index) = label` lines).
Without `-u` or `--job`, both talk to the newest RUNNING server job of the profile.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from services.backends import Capability, ServiceSet
from services.errors import UserError
from services.inference.endpoint import parse_address
from services.inference.protocol import ClassifyResult, Endpoint, InferenceClient, Scaling, Transport
from services.usecases.infer import FILLS, infer, parse_input_flags, parse_output_flags, result_document
from services.usecases.inference import check_server, classify_request
from services.usecases.server import find_server
from tui.cli.output import aligned, warn
from tui.render import OUTPUT_COLUMNS, output_rows

if TYPE_CHECKING:
    from tui.cli.context import Context


def _transport(value: str) -> Transport:
    """image_client compares `.lower() == "grpc"`; anything else is HTTP. Here a typo is an error."""
    lowered = value.lower()
    if lowered not in ("http", "grpc"):
        raise argparse.ArgumentTypeError(f"protocol '{value}' is not http or grpc")
    return Transport(lowered)


def _endpoint(ctx: Context, services: ServiceSet) -> tuple[Endpoint, str]:
    """The endpoint and how it was chosen (shown by `health`)."""
    args = ctx.args
    if sum(bool(given) for given in (args.url, args.job, args.app)) > 1:
        raise UserError("-u, --job and --app each name the server: keep one")
    if not args.url and not args.app and not services.has(Capability.JOBS):
        raise UserError(f"no server URL: pass -u host:port ({services.reason(Capability.JOBS)})")
    server = find_server(services, args.protocol, url=args.url, job_id=args.job, app_id=args.app)
    if server is None:
        raise UserError(f"no RUNNING server job on profile '{services.profile.name}': pass -u host:port or --job ID, or start one with `triton-deck job run`")
    origin = f"app {server.app.id}" if server.app else f"job {server.job.id}" if server.job else "-u"
    return server.endpoint, origin


def server_client(ctx: Context) -> tuple[InferenceClient, str]:
    services = ctx.services
    if ctx.args.timeout <= 0:
        raise UserError(f"--timeout {ctx.args.timeout:g} is not valid: give seconds, more than 0")
    endpoint, origin = _endpoint(ctx, services)
    return services.inference_client(replace(endpoint, timeout_s=ctx.args.timeout)), origin


def cmd_health(ctx: Context) -> int:
    client, origin = server_client(ctx)
    display = parse_address(client.endpoint.url, client.endpoint.transport).display
    report = check_server(client)
    health, server, models = report.health, report.server, report.models
    if ctx.args.output == "json":
        ctx.print_json({
            "endpoint": display, "from": origin, "live": health.live, "ready": health.ready, "latencyMs": round(health.latency_ms, 1),
            "server": {"name": server.name, "version": server.version, "extensions": list(server.extensions)},
            "models": [{"name": m.name, "version": m.version, "state": m.state, "reason": m.reason} for m in models],
        })  # fmt: skip
    else:
        ctx.print(f"endpoint    {display} ({origin})")
        ctx.print(f"live        {'yes' if health.live else 'no'}")
        ctx.print(f"ready       {'yes' if health.ready else 'no'} ({health.latency_ms:.0f} ms)")
        ctx.print(f"server      {server.name} {server.version}")
        ctx.print(f"extensions  {', '.join(server.extensions)}")
        ctx.print()
        width = max([len("MODEL"), *(len(m.name) for m in models)])
        ctx.print(f"{'MODEL':<{width}}  {'VERSION':<7}  {'STATE':<11}  REASON")
        for m in models:
            ctx.print(f"{m.name:<{width}}  {m.version:<7}  {m.state or 'not loaded':<11}  {m.reason}".rstrip())
    return 0 if health.ready else 1


def _print_result(ctx: Context, result: ClassifyResult, header: bool) -> None:
    """image_client's lines for one image; a failed image goes to stderr and the run goes on."""
    if result.error is not None:
        warn(f"triton-deck: image '{result.image}': {result.error}")
        return
    if header:
        ctx.print(f"Request {result.request}, batch size {result.batch_size}")
    ctx.print(f"Image '{result.image}':")
    for cls in result.classes:
        ctx.print(cls.image_client_line())
    ctx.out.flush()


def _result_document(result: ClassifyResult) -> dict[str, object]:
    return {
        "image": result.image, "request": result.request, "error": result.error,
        "latencyMs": None if result.latency_ms is None else round(result.latency_ms, 1),
        "classes": [{"score": float(c.score), "index": c.index, "label": c.label} for c in result.classes],
    }  # fmt: skip


def cmd_classify(ctx: Context) -> int:
    args = ctx.args
    request = classify_request(
        args.images, args.model_name, "pass image files or a directory holding some", version=args.model_version, top_k=args.classes,
        scaling=Scaling(args.scaling), batch_size=args.batch_size, concurrency=args.concurrency,
    )  # fmt: skip
    client, _origin = server_client(ctx)
    results: list[ClassifyResult] = []
    last_request: int | None = None
    for result in client.classify(request):
        results.append(result)
        if args.output != "json":
            _print_result(ctx, result, header=result.error is None and result.request != last_request)
            last_request = result.request if result.error is None else last_request
    if args.output == "json":
        ctx.print_json([_result_document(result) for result in results])
    return 1 if any(result.error for result in results) else 0


def cmd_infer(ctx: Context) -> int:
    args = ctx.args
    if (args.output == "npz") != (args.npz_file is not None):
        raise UserError("-o npz FILE saves the outputs to FILE: give both, or neither" if args.output == "npz" else f"{args.npz_file}: a file is only taken with -o npz")
    given = parse_input_flags(args.input)
    outputs = parse_output_flags(args.outputs)
    client, _origin = server_client(ctx)
    result = infer(client, args.model_name, args.model_version, given, args.input_data, args.fill, args.batch_size, outputs)
    if args.output == "json":
        ctx.print_json(result_document(result))
    elif args.output == "npz":
        _save_npz(args.npz_file, {output.name: output.array for output in result.outputs})
        ctx.print(f"saved {len(result.outputs)} output(s) of {result.model} to {args.npz_file}")
    else:
        ctx.print(f"model {result.model} version {result.version or '-'}: {len(result.outputs)} output(s) in {result.latency_ms:.1f} ms")
        for line in aligned(OUTPUT_COLUMNS, output_rows(result)):
            ctx.print(line)
    return 0


def _save_npz(path: Path, arrays: dict[str, object]) -> None:
    """Written beside `path` and renamed into place: an interrupted save leaves no half file."""
    import numpy as np

    target = path.expanduser()
    fd, temp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", prefix=f".{target.name}.", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)  # type: ignore[arg-type]
        os.replace(temp, target)
    except BaseException:
        os.unlink(temp)
        raise


def server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-u", "--url", help="server: host:port, http://host:port/base or https://<job URL> (default: the newest RUNNING server job)")
    parser.add_argument("--job", help="a job ID: its status.url (HTTP) or address (gRPC)")
    parser.add_argument("--app", help="an app ID: its URL (HTTP) or gRPC address; replicas behind it share the load")
    parser.add_argument("-i", "--protocol", type=_transport, default=Transport.HTTP, help="http or grpc (default http)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each answer (default 30)")


def add_inference_commands(groups: argparse._SubParsersAction, common: argparse.ArgumentParser, output_option: Callable[[argparse.ArgumentParser], None]) -> None:  # type: ignore[type-arg]
    health = groups.add_parser("health", parents=[common], help="check a Triton server: live, ready, version, models")
    server_options(health)
    output_option(health)
    health.set_defaults(handler=cmd_health)

    classify = groups.add_parser("classify", parents=[common], help="classify images against a model, like Triton's image_client")
    classify.add_argument("images", nargs="+", type=Path, metavar="IMAGE_OR_DIR", help="image files, or directories of them")
    classify.add_argument("-m", "--model-name", required=True, help="name of the model")
    classify.add_argument("-x", "--model-version", default="", help="model version (default: the latest)")
    classify.add_argument("-c", "--classes", type=int, default=3, help="number of class results to report (default 3)")
    classify.add_argument("-s", "--scaling", type=str.upper, choices=[s.value for s in Scaling], default="NONE", help="preprocessing (default NONE)")
    classify.add_argument("-b", "--batch-size", type=int, default=1, help="images per request (default 1)")
    classify.add_argument("--concurrency", type=int, default=1, help="requests in flight at once, for throughput (default 1)")
    server_options(classify)
    output_option(classify)
    classify.set_defaults(handler=cmd_classify)

    run = groups.add_parser(
        "infer", parents=[common], help="one inference request to any model: inputs from JSON, .npy or random data, outputs as a table or JSON",
        epilog="e.g. triton-deck infer -m simple --input INPUT0=@a.npy --input INPUT1=[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]",
    )  # fmt: skip
    run.add_argument("-m", "--model-name", required=True, help="name of the model")
    run.add_argument("-x", "--model-version", default="", help="model version (default: the latest)")
    run.add_argument("--input", action="append", default=[], metavar="NAME=VALUE", help="an input's value: a JSON array, @file.npy, @file.json, or a string for BYTES")
    run.add_argument("--input-data", type=Path, metavar="FILE", help="perf_analyzer's real-data JSON ({\"data\": [{NAME: [...]}]}): its first step")
    fill = run.add_mutually_exclusive_group()
    fill.add_argument("--random", dest="fill", action="store_const", const=FILLS[0], help="inputs not given get random data")
    fill.add_argument("--zero", dest="fill", action="store_const", const=FILLS[1], help="inputs not given get zeros")
    run.add_argument("-b", "--batch-size", type=int, help="requests in the batch (default 1, or the batch an input holds)")
    run.add_argument("--output", dest="outputs", action="append", default=[], metavar="NAME[:CLASS_COUNT]", help="outputs to return (default all); :K asks for the top K classes")
    run.add_argument("-o", "--output-format", dest="output", choices=("table", "json", "npz"), default="table", help="table, json (KServe v2) or npz FILE")
    run.add_argument("npz_file", nargs="?", type=Path, metavar="FILE", help="with -o npz: where the outputs are saved")
    server_options(run)
    run.set_defaults(handler=cmd_infer)
