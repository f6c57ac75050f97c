"""`triton-deck profile list|show|add|check|token|use`: the profiles a config holds, and their secrets kept out of sight."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, TextIO

from services.backends import KINDS, ai_token_reader, describe_profile
from services.config import Profile, ProfileKind, select_profile_name, update_config
from services.errors import UserError
from services.json_keys import camel
from services.secrets import Secret
from services.usecases.profiles import ProfileDraft, check_profile, exists_error, new_profile, save_profile
from tui.cli.parser import CommandGroup, OutputOption

if TYPE_CHECKING:
    from tui.cli.context import Context

EXIT_OK, EXIT_FAILURE = 0, 1


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


def all_option_keys() -> list[str]:
    """Every setting some profile kind takes, once each, in the registry's order."""
    return list(dict.fromkeys(option.key for kind in KINDS.values() for option in kind.options))


def other_kind(key: str) -> ProfileKind:
    """The (first) kind whose profiles take the setting `key`."""
    return next(kind for kind, backend in KINDS.items() if any(option.key == key for option in backend.options))


def cmd_profile_add(ctx: Context) -> int:
    args = ctx.args
    if args.token_stdin and args.s3_secret_stdin:
        raise UserError("--token-stdin and --s3-secret-stdin both read standard input: add one, then the other")
    if bool(args.s3_access_key) != bool(args.s3_secret_stdin):
        raise UserError("S3 keys come in pairs: give --s3-access-key together with --s3-secret-stdin")
    kind = ProfileKind(args.kind)
    chosen = {option.key for option in KINDS[kind].options}
    foreign = next((key for key in all_option_keys() if key not in chosen and getattr(args, key) is not None), None)
    if foreign is not None:
        raise UserError(f"--{foreign.replace('_', '-')} is not a setting of {kind.value} profiles: drop it, or add --kind {other_kind(foreign).value}")
    if kind is ProfileKind.LOCAL and (args.region or args.token_stdin or args.s3_access_key):
        raise UserError("a local profile takes no region, token or S3 keys: its buckets are directories on this machine")
    draft = ProfileDraft(
        name=args.name,
        region=args.region or "GRA",
        kind=kind,
        options={key: getattr(args, key) for key in chosen},
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



def add_profile_commands(groups: argparse._SubParsersAction, common: argparse.ArgumentParser, output_option: OutputOption) -> None:  # type: ignore[type-arg]
    profile = CommandGroup(groups, common, output_option, "profile", "list, show, add and choose profiles")
    profile.action("list", cmd_profile_list, "list profiles; * marks the active one", output=True)
    show = profile.action("show", cmd_profile_show, "show a profile, secrets masked", output=True)
    show.add_argument("name", nargs="?", help="profile (default: the active one)")
    add = profile.action("add", cmd_profile_add, "add an OVHcloud profile")
    add.add_argument("name")
    add.add_argument("--kind", choices=[kind.value for kind in ProfileKind], default=ProfileKind.OVHCLOUD.value, help="the profile's kind (default ovhcloud)")
    add.add_argument("--region", help="AI Training region: GRA or BHS (default GRA; an ovhcloud profile's)")
    for key in all_option_keys():  # every kind's settings, from the backend registry; the chosen kind's are kept
        option = next(option for kind in KINDS.values() for option in kind.options if option.key == key)
        add.add_argument(f"--{key.replace('_', '-')}", dest=key, help=f"{option.help} ({other_kind(key).value} profiles)")
    add.add_argument("--token-stdin", action="store_true", help="read the AI token from standard input and store it (file mode 0600)")
    add.add_argument("--s3-access-key", help="S3 access key (with --s3-secret-stdin)")
    add.add_argument("--s3-secret-stdin", action="store_true", help="read the S3 secret key from standard input")
    add.add_argument("--replace", action="store_true", help="overwrite an existing profile")
    profile.action("token", cmd_profile_token, "print the token job URLs want (for curl -H 'Authorization: Bearer ...')")
    check = profile.action("check", cmd_profile_check, "try the profile's token, API and S3 keys for real", output=True)
    check.add_argument("name", nargs="?", help="profile (default: the active one)")
    profile.action("use", cmd_profile_use, "make a profile the saved default").add_argument("name")
