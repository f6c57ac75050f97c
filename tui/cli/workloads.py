"""What `job` and `app` share on the command line: jobs and apps are both containers run from an
image with ovhai's flags, listed, described, followed and deleted the same way; only what is
theirs (a job's timeout and SSH keys, an app's replicas, probe and scaling) lives in
tui/cli/jobs.py and tui/cli/apps.py.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

from services.errors import UserError
from tui.cli.output import aligned
from tui.cli.parser import CommandGroup

if TYPE_CHECKING:
    from tui.cli.context import Context

State = TypeVar("State", bound=Enum)


def access(unsecure_http: bool) -> str:
    """How a client gets in: the detail's Access line of a job or an app."""
    return "public (--unsecure-http)" if unsecure_http else "Authorization: Bearer <token> (`triton-deck profile token` prints it)"


def check_port(value: int | None, flag: str) -> int | None:
    if value is not None and not 1 <= value <= 65535:
        raise UserError(f"{flag} {value} is not a port: use 1-65535 (8000 for Triton HTTP, 8001 for gRPC)")
    return value


def parse_states(typed: Iterable[str] | None, states: type[State], noun: str) -> tuple[State, ...]:
    """`--state` as typed, checked against the platform's states (`noun` is "a job", "an app")."""
    upper = [state.upper() for state in typed or ()]
    unknown = [state for state in upper if state not in states.__members__]
    if unknown:
        raise UserError(f"--state {unknown[0]} is not {noun} state: use one of {', '.join(states.__members__)}")
    return tuple(states(state) for state in upper)


def print_listing(ctx: Context, items: Sequence[Any], document: Callable[[Any], object], header: tuple[str, ...], rows: Sequence[Sequence[str]], right: frozenset[int]) -> int:
    """`-q` the ids, `-o json` the platform's records, else the aligned table."""
    if ctx.args.quiet:
        for item in items:
            ctx.print(item.id)
    elif ctx.args.output == "json":
        ctx.print_json([item.raw or document(item) for item in items])
    else:
        for line in aligned(header, rows, right=right):
            ctx.print(line)
    return 0


def action_command(platform_of: Callable[[Context], Any], resolve: Callable[[Any, str], Any], act: Callable[[Any, Any, argparse.Namespace], None],
                   done: str) -> Callable[[Context], int]:  # fmt: skip
    """`start`, `stop` or `delete` of one job or app: find it by the typed id (or its start),
    act on it, say `done` with its id."""

    def command(ctx: Context) -> int:
        platform = platform_of(ctx)
        item = resolve(platform, ctx.args.id)
        act(platform, item, ctx.args)
        ctx.print(f"{done} {item.id}")
        return 0

    return command


def add_run_options(run: argparse.ArgumentParser, noun: str, gpu_help: str, port_default: int | None, port_help: str, grpc_help: str) -> None:
    """ovhai's run flags that jobs and apps both take."""
    run.add_argument("image", metavar="IMAGE")
    # The command is what follows `--` (split off by tui.cli.parse): options may come before
    # or after IMAGE, as in ovhai, and nothing after `--` is read as one.
    run.set_defaults(command=[])
    run.add_argument("-n", "--name")
    run.add_argument("-g", "--gpu", type=int, help=gpu_help)
    run.add_argument("-c", "--cpu", type=int, help="CPUs instead of GPUs")
    run.add_argument("-f", "--flavor", help="a flavor from `ovhai capabilities flavor list`, e.g. l4-1-gpu")
    run.add_argument("-p", "--default-http-port", type=int, default=port_default, help=port_help)
    run.add_argument("--grpc-port", type=int, help=grpc_help)
    run.add_argument("--unsecure-http", action="store_true", help=f"no token needed for the {noun} URL (it becomes public)")
    run.add_argument("-v", "--volume", action="append", help="container@ALIAS[/prefix]:/mount/path[:RO|RW|RWD][:cache]")
    run.add_argument("-e", "--env", action="append", help="NAME=VALUE")
    run.add_argument("-l", "--label", action="append", help="NAME=VALUE")


def add_read_commands(commands: CommandGroup, noun: str, handlers: Mapping[str, Callable[[Context], int]], logs_help: str) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """`list` (`-q`, `--state`), `get ID`, `logs ID [-f] [--tail N]` and `delete ID [--force]`;
    the list and logs parsers come back for what only one kind adds to them."""
    listing = commands.action("list", handlers["list"], f"{noun}s, newest first", aliases=["ls"])
    listing.add_argument("-q", "--quiet", action="store_true", help="only the ids, one a line (for scripts)")
    listing.add_argument("--state", action="append", metavar="STATE", help=f"only {noun}s in this state (repeatable), e.g. RUNNING")
    commands.output_option(listing)
    commands.action("get", handlers["get"], f"one {noun} (-o json for the whole record)", output=True).add_argument("id")
    logs = commands.action("logs", handlers["logs"], logs_help)
    logs.add_argument("id")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("--tail", type=int, help="only the last N lines")
    delete = commands.action("delete", handlers["delete"], f"delete a {'finished' if noun == 'job' else 'stopped'} {noun} (--force stops it first)")
    delete.add_argument("id")
    delete.add_argument("--force", action="store_true")
    return listing, logs
