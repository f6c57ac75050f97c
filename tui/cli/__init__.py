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
from dataclasses import replace
from importlib.metadata import version
from typing import TextIO

from services import locations
from services.backends import KINDS, ai_token_reader, describe_profile, open_services
from services.config import Profile, ProfileKind, select_profile_name, update_config
from services.errors import UserError
from services.json_keys import camel
from services.secrets import Secret, redact
from services.usecases.profiles import ProfileDraft, check_profile, exists_error, new_profile, save_profile
from tui.cli.apps import add_app_commands
from tui.cli.context import Context, ServiceOpener
from tui.cli.deploy import add_deploy_commands
from tui.cli.images import add_image_commands, add_registry_commands
from tui.cli.inference import add_inference_commands
from tui.cli.jobs import add_job_commands
from tui.cli.output import warn
from tui.cli.parser import DeckParser, parser_class
from tui.cli.perf import add_perf_commands
from tui.cli.repo import add_repo_commands
from tui.cli.storage import add_bucket_commands

PROG = "triton-deck"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

Handler = Callable[[Context], int]


# -- profile ---------------------------------------------------------------------------------


def _profile_summary(profile: Profile, active: str) -> dict[str, object]:
    return {"name": profile.name, "kind": profile.kind.value, "region": profile.region, "active": profile.name == active}


def cmd_profile_list(ctx: Context) -> int:
    active = select_profile_name(ctx.config, ctx.args.profile, ctx.env)
    profiles = [ctx.config.profiles[name] for name in sorted(ctx.config.profiles)]
    if ctx.args.output == "json":
        ctx.print_json([_profile_summary(profile, active) for profile in profiles])
        return EXIT_OK
    ctx.print(f"{'':2}{'NAME':<20} {'KIND':<9} REGION")
    for profile in profiles:
        marker = "* " if profile.name == active else "  "
        ctx.print(f"{marker}{profile.name:<20} {profile.kind.value:<9} {profile.region}")
    return EXIT_OK


def cmd_profile_show(ctx: Context) -> int:
    profile = ctx.config.profile(ctx.args.name) if ctx.args.name else ctx.profile
    rows = describe_profile(profile, ctx.env)
    if ctx.args.output == "json":
        ctx.print_json({camel(label): value for label, value in rows})
        return EXIT_OK
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        ctx.print(f"{label:<{width}}  {value}")
    return EXIT_OK


def _read_secret_line(stream: TextIO, what: str) -> Secret:
    value = stream.readline().strip()
    if not value:
        raise UserError(f"no {what} on standard input: pipe it in, e.g. `pass show ovh/ai | triton-deck profile add ...`")
    return Secret(value)


def cmd_profile_add(ctx: Context) -> int:
    args = ctx.args
    if args.token_stdin and args.s3_secret_stdin:
        raise UserError("--token-stdin and --s3-secret-stdin both read standard input: add one, then the other")
    if bool(args.s3_access_key) != bool(args.s3_secret_stdin):
        raise UserError("S3 keys come in pairs: give --s3-access-key together with --s3-secret-stdin")
    draft = ProfileDraft(
        name=args.name,
        region=args.region,
        options={option.key: getattr(args, option.key) for option in KINDS[ProfileKind.OVHCLOUD].options},
        s3_access_key=Secret(args.s3_access_key) if args.s3_access_key else None,
    )
    named = new_profile(replace(draft, s3_access_key=None))  # the name and region are checked before anything is read from stdin
    if named.name in ctx.config.profiles and not args.replace:
        raise exists_error(named.name)
    token = _read_secret_line(sys.stdin, "token") if args.token_stdin else None
    secret = _read_secret_line(sys.stdin, "S3 secret key") if args.s3_secret_stdin else None
    profile = new_profile(replace(draft, token=token, s3_secret_key=secret))
    path = save_profile(profile, args.replace)
    ctx.print(f"profile {profile.name} saved to {path}")
    return EXIT_OK


def cmd_profile_check(ctx: Context) -> int:
    """Each credential of the profile tried for real; exit 1 when one fails."""
    profile = ctx.config.profile(ctx.args.name) if ctx.args.name else ctx.profile
    results = []
    for result in check_profile(ctx.services_for(profile), ctx.env):
        results.append(result)
        if ctx.args.output == "table":
            ctx.print(f"{'ok' if result.ok else 'FAILED':<7} {result.what:<15} {result.detail}")
    if ctx.args.output == "json":
        ctx.print_json([{"check": result.what, "ok": result.ok, "detail": result.detail} for result in results])
    return EXIT_OK if all(result.ok for result in results) else EXIT_FAILURE


def cmd_profile_token(ctx: Context) -> int:
    """The token job URLs want (the AI token, or the local job token), for curl and scripts;
    printed only when asked for, like `gcloud auth print-access-token`."""
    reader = ai_token_reader(ctx.profile, ctx.env)
    if reader is None:
        raise UserError(f"profile {ctx.profile.name} has no AI token: add one with `triton-deck profile add {ctx.profile.name} --replace --token-stdin`")
    ctx.out.write(reader().reveal() + "\n")
    return EXIT_OK


def cmd_profile_use(ctx: Context) -> int:
    _, path = update_config(lambda config: config.with_active(ctx.args.name))
    ctx.print(f"profile {ctx.args.name} is now the default ({path})")
    return EXIT_OK


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

    profile = groups.add_parser("profile", parents=[common], help="list, show, add and choose profiles")
    profile_commands = profile.add_subparsers(title="profile commands", metavar="ACTION", required=True)
    listing = profile_commands.add_parser("list", parents=[common], help="list profiles; * marks the active one")
    _output_option(listing)
    listing.set_defaults(handler=cmd_profile_list)
    show = profile_commands.add_parser("show", parents=[common], help="show a profile, secrets masked")
    show.add_argument("name", nargs="?", help="profile (default: the active one)")
    _output_option(show)
    show.set_defaults(handler=cmd_profile_show)
    add = profile_commands.add_parser("add", parents=[common], help="add an OVHcloud profile")
    add.add_argument("name")
    add.add_argument("--region", default="GRA", help="AI Training region: GRA or BHS (default GRA)")
    for option in KINDS[ProfileKind.OVHCLOUD].options:  # the kind's settings, from the backend registry
        add.add_argument(f"--{option.key.replace('_', '-')}", dest=option.key, help=option.help)
    add.add_argument("--token-stdin", action="store_true", help="read the AI token from standard input and store it (file mode 0600)")
    add.add_argument("--s3-access-key", help="S3 access key (with --s3-secret-stdin)")
    add.add_argument("--s3-secret-stdin", action="store_true", help="read the S3 secret key from standard input")
    add.add_argument("--replace", action="store_true", help="overwrite an existing profile")
    add.set_defaults(handler=cmd_profile_add)
    token = profile_commands.add_parser("token", parents=[common], help="print the token job URLs want (for curl -H 'Authorization: Bearer ...')")
    token.set_defaults(handler=cmd_profile_token)
    check = profile_commands.add_parser("check", parents=[common], help="try the profile's token, API and S3 keys for real")
    check.add_argument("name", nargs="?", help="profile (default: the active one)")
    _output_option(check)
    check.set_defaults(handler=cmd_profile_check)
    use = profile_commands.add_parser("use", parents=[common], help="make a profile the saved default")
    use.add_argument("name")
    use.set_defaults(handler=cmd_profile_use)

    add_bucket_commands(groups, common, _output_option)
    add_repo_commands(groups, common, _output_option)
    add_job_commands(groups, common, _output_option)
    add_app_commands(groups, common, _output_option)
    add_registry_commands(groups, common, _output_option)
    add_image_commands(groups, common, _output_option)
    add_inference_commands(groups, common, _output_option)
    add_perf_commands(groups, common, _output_option)
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
