"""The `triton-deck` command: no argument opens the TUI, subcommands script the same work.

Exit codes: 0 ok, 1 failure, 2 usage error. Errors print as one redacted line on
stderr; `--debug` adds the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import version
from typing import TextIO

from services import locations
from services.backends import open_services
from services.errors import UserError
from services.secrets import redact
from tui.cli.apps import add_app_commands
from tui.cli.context import Context, ServiceOpener
from tui.cli.deploy import add_deploy_commands
from tui.cli.images import add_image_commands, add_registry_commands
from tui.cli.inference import add_inference_commands
from tui.cli.jobs import add_job_commands
from tui.cli.output import warn
from tui.cli.parser import DeckParser, parser_class
from tui.cli.perf import add_perf_commands
from tui.cli.profile import add_profile_commands
from tui.cli.repo import add_repo_commands
from tui.cli.storage import add_bucket_commands
from tui.cli.tune import add_tune_commands

PROG = "triton-deck"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

Handler = Callable[[Context], int]


# -- the TUI ---------------------------------------------------------------------------------


def cmd_tui(ctx: Context) -> int:
    from tui.app import make_app  # Textual is imported only when the TUI is wanted.

    make_app(profile_flag=ctx.args.profile, env=ctx.env).run()
    return EXIT_OK


# -- parser ----------------------------------------------------------------------------------


def _output_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", choices=("table", "json"), default="table", help="output format")


def build_parser(parser_type: type[DeckParser] = DeckParser) -> argparse.ArgumentParser:
    common = parser_type(add_help=False)
    common.add_argument("--profile", default=argparse.SUPPRESS, help="profile to use (default: $TRITON_DECK_PROFILE, then the saved default)")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors")

    parser = parser_type(
        prog=PROG,
        parents=[common],
        description="Take a Triton model repository to a GPU job on OVHcloud AI Training, or a scalable app on AI Deploy, and back. No command opens the TUI.",
        epilog=f"config: {locations.config_file()}",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {version('triton-deck')}")
    # No default for the global options here: argparse would let it overwrite a value given
    # before the subcommand. `parse` fills them in after parsing, wherever they were typed.
    parser.set_defaults(handler=cmd_tui)
    groups = parser.add_subparsers(title="commands", metavar="COMMAND")

    add_profile_commands(groups, common, _output_option)

    add_bucket_commands(groups, common, _output_option)
    add_repo_commands(groups, common, _output_option)
    add_job_commands(groups, common, _output_option)
    add_app_commands(groups, common, _output_option)
    add_registry_commands(groups, common, _output_option)
    add_image_commands(groups, common, _output_option)
    add_inference_commands(groups, common, _output_option)
    add_perf_commands(groups, common, _output_option)
    add_tune_commands(groups, common, _output_option)
    add_deploy_commands(groups, common, _output_option)

    return parser


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The parsed command; `--profile` and `--debug` count before or after the subcommand.

    For `job run` and `app run`, everything after the first `--` is the job's command, taken as typed;
    before it, options and IMAGE come in any order (argparse alone cannot mix the two)."""
    words = list(sys.argv[1:] if argv is None else argv)
    command: list[str] | None = None
    if "--" in words:
        cut = words.index("--")
        if any(words[i : i + 2] in (["job", "run"], ["app", "run"]) for i in range(cut)):
            words, command = words[:cut], words[cut + 1 :]
    parser = build_parser(parser_class(separated=command is not None))
    args, extra = parser.parse_known_args(words)
    if extra:
        kind = ("an app's", "app") if "app" in words else ("a job's", "job")
        hint = f"; {kind[0]} command goes after --: `triton-deck {kind[1]} run IMAGE -- {' '.join(extra)}`" if hasattr(args, "command") else ""
        parser.error(f"unrecognized arguments: {' '.join(extra)}{hint}")
    if command is not None:
        args.command = command
    for name, default in (("profile", None), ("debug", False)):
        if not hasattr(args, name):
            setattr(args, name, default)
    return args


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # not a real file descriptor (a test's StringIO): nothing will flush it
    finally:
        os.close(devnull)


def main(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None, out: TextIO | None = None, open_services: ServiceOpener = open_services
) -> int:
    """The command line; `open_services` is injectable, as `make_app`'s factory is, so tests run commands on fakes."""
    args = parse(argv)
    ctx = Context(args, os.environ if env is None else env, out or sys.stdout, open_services)
    try:
        return int(args.handler(ctx))
    except UserError as error:
        warn(f"{PROG}: {redact(error.message)}")
        if args.debug:
            warn(redact(traceback.format_exc()))
        return EXIT_FAILURE
    except KeyboardInterrupt:
        warn(f"{PROG}: interrupted")
        return 130
    except BrokenPipeError:  # `| head` closed the pipe: stop quietly, as other Unix tools do
        _silence_stdout()
        return EXIT_FAILURE
    except Exception as error:  # last resort: one line, the traceback only on request
        warn(f"{PROG}: unexpected error ({type(error).__name__}): {redact(str(error))}")
        if args.debug:
            warn(redact(traceback.format_exc()))
        else:
            warn(f"{PROG}: run again with --debug for the traceback")
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
