"""`triton-deck image ...` and `triton-deck registry ...`: the tutorial's docker steps.

    triton-deck image dockerfile [--client] [--version 23.03] [-o FILE]
    triton-deck image build CONTEXT -t TAG [--platform linux/amd64] [-f DOCKERFILE | --generate --client --version V --base IMAGE]
    triton-deck image tag SRC DST
    printf %s "$PASSWORD" | triton-deck image login REGISTRY -u USER [--save]
    triton-deck image push TAG
    triton-deck image pull REF [--platform linux/amd64]
    triton-deck registry list | add ADDRESS [-u USER --password-command CMD] | remove ADDRESS

Build lines and push progress go to stderr (bars on a terminal, one line per layer status
when piped); stdout gets the result (image id, `reference@digest`), so scripts can read it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeVar

from rich.markup import escape

from services.cancel import CancelToken
from services.config import RegistryEntry
from services.errors import UserError
from services.images.docker_builder import registry_of, save_login
from services.images.dockerfile import DEFAULT_PLATFORM, DEFAULT_TRITON_VERSION, DockerfileSpec, render_dockerfile
from services.images.protocol import BuildDone, BuildFailed, BuildLog, BuildStep, ImageBuilder, LayerProgress, PullDone, PushDone
from services.images.push_tally import PushTally
from services.secrets import Secret
from services.text import visible
from services.usecases.images import build_image, pull_image, push_image
from services.usecases.registries import add_registry, registry_entry, remove_registry
from tui.cli.output import shown, warn
from tui.cli.parser import CommandGroup, OutputOption
from tui.render import build_failure, build_step_line

if TYPE_CHECKING:
    from rich.progress import TaskID

    from tui.cli.context import Context


def _builder(ctx: Context) -> ImageBuilder:
    return ctx.services.images()


def _spec(args: argparse.Namespace) -> DockerfileSpec:
    return DockerfileSpec(version=args.version, client=args.client, base=args.base, extra_lines=tuple(args.line or ()))


def cmd_image_dockerfile(ctx: Context) -> int:
    text = render_dockerfile(_spec(ctx.args))
    if ctx.args.output_file is None:
        ctx.out.write(text)
        return 0
    target: Path = ctx.args.output_file
    if target.is_dir():
        target = target / "Dockerfile"
    temp = target.with_name(f".{target.name}.tmp")
    try:
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, target)
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise UserError(f"cannot write {target}: {error.strerror}; pick a writable path with -o") from None
    ctx.print(f"wrote {target}")
    return 0


def cmd_image_build(ctx: Context) -> int:
    args = ctx.args
    # docker's convention: -f, else the context's own Dockerfile, else (or with --generate) ours.
    own = Path(args.context) / "Dockerfile"
    chosen = args.file if args.file is not None else own if own.is_file() and not args.generate else None
    if chosen is not None and args.generate:
        raise UserError("-f and --generate both name the Dockerfile: keep one")
    if chosen is not None:
        try:
            dockerfile = chosen.read_text(encoding="utf-8")
        except OSError as error:
            raise UserError(f"cannot read Dockerfile {chosen}: {error.strerror}") from None
        if args.file is None:
            warn(f"triton-deck: building {own} (as docker build does); --generate builds the AI Training one instead")
    else:
        dockerfile = render_dockerfile(_spec(args))
        warn(f"triton-deck: building the generated Dockerfile (FROM {_spec(args).base_image}); -f to build your own")
    cancel = CancelToken()
    done: BuildDone | None = None
    try:
        for event in build_image(_builder(ctx), ctx.profile.name, args.context, args.tag, args.platform, dockerfile, cancel):
            if isinstance(event, BuildStep):
                warn(build_step_line(event))
            elif isinstance(event, BuildLog):
                warn(event.text)
            elif isinstance(event, BuildFailed):
                raise UserError(build_failure(event))
            else:
                done = event
    except KeyboardInterrupt:
        cancel.cancel()
        raise
    assert done is not None
    ctx.print(done.image_id)
    return 0


def cmd_image_tag(ctx: Context) -> int:
    _builder(ctx).tag(ctx.args.source, ctx.args.target)
    ctx.print(f"tagged {ctx.args.source} as {ctx.args.target}")
    return 0


def _read_password(what: str) -> Secret:
    if sys.stdin.isatty():
        import getpass

        value = getpass.getpass(f"{what}: ")
    else:
        value = sys.stdin.readline().strip()
    if not value:
        raise UserError(f"no {what} given: pipe it on standard input, e.g. `pass show registry | triton-deck image login ...`")
    return Secret(value)


def cmd_image_login(ctx: Context) -> int:
    args = ctx.args
    username = args.username or ctx.config.registries.get(args.registry, RegistryEntry(args.registry)).username
    if not username:
        raise UserError(f"no username for {args.registry}: pass -u USER (or `triton-deck registry add {args.registry} -u USER`)")
    password = _read_password(f"password for {username}@{args.registry}")
    status = _builder(ctx).login(args.registry, username, password)
    ctx.print(status)
    if args.save:
        path = save_login(args.registry, username, password, ctx.env)
        warn(f"triton-deck: saved in {path} as `docker login` does (base64, not encrypted; mode 0600)")
    else:
        warn("triton-deck: not saved: this process is gone after the login; use --save, `registry add --password-command`, or push with -u and --password-stdin")
    return 0


class PushReporter:
    """One bar per layer plus the total on a terminal; a line per layer status change when piped."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tally = PushTally()
        self._last: dict[str, str] = {}
        self._bars = None
        if stream.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

            self._bars = Progress(TextColumn("{task.description:<24}"), BarColumn(), DownloadColumn(), console=Console(file=stream), transient=True)
            self._total = self._bars.add_task("total", total=None)
            self._tasks: dict[str, TaskID] = {}
            self._bars.start()

    def __call__(self, event: LayerProgress) -> None:
        layer = self._tally.apply(event)
        if self._bars is not None:
            if layer.layer_id not in self._tasks:
                self._tasks[layer.layer_id] = self._bars.add_task(escape(visible(layer.layer_id)), total=layer.total)
            task = self._tasks[layer.layer_id]
            # The engine's words: shown, never read as Rich markup or obeyed as escapes.
            description = escape(visible(f"{layer.layer_id} {layer.status[:11]}"))
            self._bars.update(task, description=description, total=layer.total, completed=layer.fraction * (layer.total or 1))
            done, total = self._tally.bytes_known
            self._bars.update(self._total, description=f"total {self._tally.layers_done}/{len(self._tally.layers)}", total=total or None, completed=done)
        elif self._last.get(layer.layer_id) != layer.status:
            self._last[layer.layer_id] = layer.status
            print(shown(f"{layer.layer_id}: {layer.status}", self._stream), file=self._stream)

    def close(self) -> None:
        if self._bars is not None:
            self._bars.stop()


Done = TypeVar("Done", PushDone, PullDone)


def _with_layer_bars(events: Callable[[CancelToken], Iterator[LayerProgress | Done]]) -> Done:
    """Draw a push's or pull's layers (bars on a terminal, lines when piped); ctrl+c cancels it."""
    reporter = PushReporter(sys.stderr)
    cancel = CancelToken()
    done: Done | None = None
    try:
        for event in events(cancel):
            if isinstance(event, LayerProgress):
                reporter(event)
            else:
                done = event
    except KeyboardInterrupt:
        cancel.cancel()
        raise
    finally:
        reporter.close()
    assert done is not None
    return done


def cmd_image_push(ctx: Context) -> int:
    args = ctx.args
    builder = _builder(ctx)
    registry = registry_of(args.reference)
    if args.password_stdin:
        if not (args.username and registry):
            raise UserError("--password-stdin needs -u USER and a reference that names its registry (host[:port]/name:tag)")
        builder.login(registry, args.username, _read_password(f"password for {args.username}@{registry}"))
    registries = {} if args.password_stdin else ctx.config.registries  # logged in just now: no second login
    done = _with_layer_bars(lambda cancel: push_image(builder, ctx.profile.name, registries, args.reference, cancel))
    ctx.print(f"{done.reference}@{done.digest}")
    return 0


def cmd_image_pull(ctx: Context) -> int:
    """`docker pull` with a bar per layer on a terminal (a line per layer status when piped);
    stdout gets `reference@digest`. A registry added with credentials logs in first."""
    args = ctx.args
    done = _with_layer_bars(lambda cancel: pull_image(_builder(ctx), ctx.config.registries, args.reference, args.platform, cancel))
    ctx.print(f"{done.reference}@{done.digest}" if done.digest else done.reference)
    return 0


def cmd_registry_list(ctx: Context) -> int:
    """`ovhai registry list` (the shared registry, then attached ones) plus the registries added here."""
    platform = ctx.services.job_platform
    listing = platform.registries() if platform and platform.capabilities.registries else None
    rows = [(row.id or "", row.kind, row.url) for row in (listing.rows if listing else ())]
    rows += [("", "added", address) for address in sorted(ctx.config.registries)]
    for problem in listing.problems if listing else ():
        warn(f"triton-deck: {problem}")
    if ctx.args.output == "json":
        ctx.print_json([{"id": row[0], "type": row[1], "url": row[2]} for row in rows])
        return 0
    if not rows:
        raise UserError(f"no registries on profile '{ctx.profile.name}': add one with `triton-deck registry add HOST[:PORT]`")
    ctx.print(f"{'ID':<36} {'TYPE':<7} URL")
    for row_id, kind, url in rows:
        ctx.print(f"{row_id:<36} {kind:<7} {url}")
    return 0


def cmd_registry_add(ctx: Context) -> int:
    args = ctx.args
    added = add_registry(ctx.services, registry_entry(args.address, args.username, args.password_command))
    if added.attached_id is not None:
        ctx.print(f"registry {added.address} attached to the project ({added.attached_id})")
    ctx.print(f"registry {added.address} added to {added.path}")
    return 0


def cmd_registry_remove(ctx: Context) -> int:
    removed = remove_registry(ctx.services, ctx.config, ctx.args.address)
    for detached in removed.detached_ids:
        ctx.print(f"registry {removed.address} detached from the project ({detached})")
    if removed.path is not None:
        ctx.print(f"registry {removed.address} removed from {removed.path}")
    return 0


def _dockerfile_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--client", action="store_true", help="the client image (-py3-sdk) instead of the server")
    parser.add_argument("--version", default=DEFAULT_TRITON_VERSION, help=f"Triton NGC release (default {DEFAULT_TRITON_VERSION})")
    parser.add_argument("--base", help="another FROM image (a mirror, or a local base where NGC cannot be pulled)")
    parser.add_argument("--line", action="append", help="an extra instruction before the chown, e.g. 'RUN pip install pillow'")


def add_image_commands(groups: argparse._SubParsersAction, common: argparse.ArgumentParser, output_option: OutputOption) -> None:  # type: ignore[type-arg]
    image = CommandGroup(groups, common, output_option, "image", "Dockerfiles, build, tag, login and push")
    dockerfile = image.action("dockerfile", cmd_image_dockerfile, "print or write the AI Training Dockerfile")
    _dockerfile_options(dockerfile)
    dockerfile.add_argument("-o", dest="output_file", type=Path, help="write to this file (or directory) instead of stdout")
    build = image.action("build", cmd_image_build, "build CONTEXT with the generated (or -f) Dockerfile")
    build.add_argument("context", type=Path, metavar="CONTEXT")
    build.add_argument("-t", "--tag", required=True, help="name:tag of the image")
    build.add_argument("--platform", default=DEFAULT_PLATFORM, help=f"target platform (default {DEFAULT_PLATFORM}, what AI Training runs)")
    build.add_argument("-f", "--file", type=Path, help="build this Dockerfile (default: CONTEXT/Dockerfile, else the generated one)")
    build.add_argument("--generate", action="store_true", help="build the generated AI Training Dockerfile even if CONTEXT has one")
    _dockerfile_options(build)
    pull = image.action("pull", cmd_image_pull, "pull an image with a bar per layer; prints reference@digest")
    pull.add_argument("reference", metavar="REF")
    pull.add_argument("--platform", default=DEFAULT_PLATFORM, help=f"the platform to pull (default {DEFAULT_PLATFORM}, what AI Training runs)")
    tag = image.action("tag", cmd_image_tag, "tag SRC as DST (e.g. for the registry)")
    tag.add_argument("source", metavar="SRC")
    tag.add_argument("target", metavar="DST")
    login = image.action("login", cmd_image_login, "log the engine in to a registry (password on stdin)")
    login.add_argument("registry", metavar="REGISTRY")
    login.add_argument("-u", "--username")
    login.add_argument("--save", action="store_true", help="store it in the docker config as `docker login` does")
    push = image.action("push", cmd_image_push, "push TAG with per-layer progress; prints reference@digest")
    push.add_argument("reference", metavar="TAG")
    push.add_argument("-u", "--username", help="log in first as USER (with --password-stdin)")
    push.add_argument("--password-stdin", action="store_true", help="read the registry password from standard input")


def add_registry_commands(groups: argparse._SubParsersAction, common: argparse.ArgumentParser, output_option: OutputOption) -> None:  # type: ignore[type-arg]
    registry = CommandGroup(groups, common, output_option, "registry", "the registries jobs pull from and images push to")
    registry.action("list", cmd_registry_list, "the shared registry, attached ones, then those added here", output=True)
    add = registry.action("add", cmd_registry_add, "remember a registry (every profile can push to it)")
    add.add_argument("address", metavar="ADDRESS")
    add.add_argument("-u", "--username")
    add.add_argument("--password-command", help="command that prints the password (e.g. 'pass show registry')")
    registry.action("remove", cmd_registry_remove, "forget an added registry").add_argument("address", metavar="ADDRESS")
