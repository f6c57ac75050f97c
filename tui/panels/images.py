"""Images: the AI Training Dockerfile, the engine that builds it, the registries, what was made.

The Dockerfile preview is pure computation and shows on every profile, with or without an
engine: `c` switches server/client, `v` the Triton version, `f` the FROM image (a local base
where NGC cannot be pulled), `e` edits it by hand. `b` builds it (a screen with the live
log), `P` pushes an image with a bar per layer. Engine, registries and history come from
workers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Static

from services.backends import Capability
from services.config import RegistryEntry
from services.errors import UserError
from services.images.dockerfile import DEFAULT_PLATFORM, DockerfileSpec, render_dockerfile
from services.images.history import HistoryEntry, ImageHistory
from services.images.protocol import EngineInfo
from services.jobs.protocol import RegistryInfo
from services.units import human_age
from services.usecases.registries import RegistryAdded, remove_registry
from tui.keymap import KEYMAP
from tui.panels.base import Panel, confirm_screen
from widgets.inert import inert
from widgets.notice import NoticeKind
from widgets.resource_table import ResourceTable, Row

REGISTRY_COLUMNS = ("ID", "TYPE", "URL")
HISTORY_COLUMNS = ("KIND", "REFERENCE", "RESULT", "AGE")


def dockerfile_text(dockerfile: str) -> Text:
    """The Dockerfile with its instructions in bold: enough highlighting to scan it."""
    text = Text()
    for line in dockerfile.splitlines():
        instruction, _, rest = line.partition(" ")
        text.append(instruction, style="bold")
        text.append(f" {rest}\n")
    text.rstrip()
    return text


def image_name(spec: DockerfileSpec) -> str:
    return f"local/tritonserver:{spec.version}{'-py3-sdk' if spec.client else '-py3'}"


def registry_key(info: RegistryInfo) -> str:
    """A row's key: one address can be listed twice (attached to the project, and added here)."""
    return f"{info.kind} {info.id or ''} {info.url}"


class ImagesPanel(Panel):
    capability = Capability.IMAGES

    BINDINGS = KEYMAP["images"]

    @dataclass
    class EngineFound(Message):
        engine: EngineInfo

    @dataclass
    class RegistriesListed(Message):
        registries: list[RegistryInfo]
        history: list[HistoryEntry]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.spec = DockerfileSpec()
        self.edited: str | None = None  # the hand-edited Dockerfile, which wins over the generated one
        self._registries: list[RegistryInfo] = []

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="images-body"):
            with Vertical(id="dockerfile-box", classes="box"):
                yield Static(id="dockerfile-title", classes="box-title")
                yield Static(id="dockerfile")
            with Vertical(id="engine-box", classes="box"):
                yield Static("engine", classes="box-title")
                yield Static(id="engine")
            yield Static("registries", classes="section-title")
            yield Static(id="registries-note", classes="notice")
            yield ResourceTable(REGISTRY_COLUMNS, id="registries-table")
            yield Static("recent builds and pushes", classes="section-title")
            yield ResourceTable(HISTORY_COLUMNS, id="history-table")

    def reload(self) -> None:
        self._show_dockerfile()
        super().reload()
        self._list_registries()

    def load(self) -> None:
        self.notice.hide()
        self.query_one("#engine", Static).update(Text("connecting…", style="dim"))
        self._find_engine()

    @property
    def dockerfile(self) -> str:
        return self.edited if self.edited is not None else render_dockerfile(self.spec)

    def _show_dockerfile(self) -> None:
        kind = "client" if self.spec.client else "server"
        title = f"Dockerfile ({kind}, Triton {self.spec.version})" + (" · edited" if self.edited is not None else "")
        self.query_one("#dockerfile-title", Static).update(title)
        try:
            text = dockerfile_text(self.dockerfile)
        except UserError as error:
            text = inert(str(error), style="red")
        self.query_one("#dockerfile", Static).update(text)

    @work(thread=True, exclusive=True, group="images-engine", exit_on_error=False)
    def _find_engine(self) -> None:
        builder = self.services.image_builder
        assert builder is not None
        self.post_message(self.EngineFound(builder.engine()))

    def _relist(self) -> None:
        """A build or push screen closed: a push may have made a registry's images change."""
        self._list_registries()

    @work(thread=True, exclusive=True, group="images-registries", exit_on_error=False)
    def _list_registries(self) -> None:
        platform = self.services.job_platform
        listing = platform.registries() if platform and platform.capabilities.registries else None
        registries = [*(listing.rows if listing else ()), *(RegistryInfo(url=address, kind="added") for address in sorted(self.deck.config.registries))]
        for problem in listing.problems if listing else ():
            self.app.call_from_thread(self.notify, problem, severity="warning")
        self.post_message(self.RegistriesListed(registries, ImageHistory(self.services.profile.name).entries()))

    @on(EngineFound)
    def _engine_found(self, message: EngineFound) -> None:
        engine = message.engine
        self.query_one("#engine", Static).update(f"{engine.endpoint}\nversion {engine.version}, {engine.architecture}")

    @on(RegistriesListed)
    def _registries_listed(self, message: RegistriesListed) -> None:
        self._registries = message.registries
        table = self.query_one("#registries-table", ResourceTable)
        rows = [Row(registry_key(info), (info.id or "", info.kind, info.url)) for info in message.registries]
        table.set_rows(rows)
        table.display = bool(rows)
        note = self.query_one("#registries-note", Static)
        note.display = not rows
        note.update("no registries: press a to add one (HOST[:PORT]), or use an AI Training profile's shared registry")
        now = self.deck.settings.now()
        history = [
            Row(f"{entry.kind}{index}", (entry.kind, entry.reference, entry.result[:19], human_age(datetime.fromisoformat(entry.at.replace("Z", "+00:00")), now)))
            for index, entry in enumerate(message.history)
        ]
        self.query_one("#history-table", ResourceTable).set_rows(history)

    # -- registries --------------------------------------------------------------------------

    def action_add_registry(self) -> None:
        from tui.screens.registry_add import RegistryAddScreen

        def added(done: RegistryAdded | None) -> None:
            if done is not None:
                attached = f", attached to the project ({done.attached_id})" if done.attached_id else ""
                self._registries_changed(f"registry {done.address} added{attached}", done.entry, None)

        self.app.push_screen(RegistryAddScreen(), added)  # type: ignore[arg-type]  # it dismisses with RegistryAdded, not its form's entry

    def action_remove_registry(self) -> None:
        key = self.query_one("#registries-table", ResourceTable).selected_key
        info = next((info for info in self._registries if registry_key(info) == key), None)
        if info is None:
            self.notify("no registry to remove: the list is empty", severity="warning")
            return
        if info.kind != "added" and not info.id:
            self.notify(f"{info.url} is the project's {info.kind.lower()} registry: it comes with the project and stays", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._remove_registry(info.url)

        detail = "Jobs can no longer pull from it; images already pushed stay in the registry."
        self.app.push_screen(confirm_screen(f"Remove registry {info.url}?", detail), answered)

    @work(thread=True, exclusive=True, group="images-registry-change", exit_on_error=False)
    def _remove_registry(self, address: str) -> None:
        try:
            remove_registry(self.services, self.deck.config, address)
        except UserError as error:
            self.app.call_from_thread(self.deck.show_error, error)
            return
        self.app.call_from_thread(self._registries_changed, f"registry {address} removed", None, address)

    def _registries_changed(self, message: str, added: RegistryEntry | None, removed: str | None) -> None:
        config = self.deck.config
        if added is not None:
            self.deck.config = config.with_registry(added)
        elif removed is not None and removed in config.registries:
            self.deck.config = config.without_registry(removed)
        self.notify(message)
        self._list_registries()

    # -- the Dockerfile ----------------------------------------------------------------------

    def action_toggle_client(self) -> None:
        self.spec = replace(self.spec, client=not self.spec.client)
        self.edited = None
        self._show_dockerfile()

    def action_version(self) -> None:
        self._ask("Triton NGC release (YY.MM):", self.spec.version, lambda answer: replace(self.spec, version=answer))

    def action_base(self) -> None:
        self._ask("FROM image (empty = NGC's tritonserver; e.g. a local base where NGC cannot be pulled):", self.spec.base or "", lambda answer: replace(self.spec, base=answer or None))

    def _ask(self, question: str, current: str, change: Callable[[str], DockerfileSpec]) -> None:
        from tui.screens.prompt import PromptScreen

        def answered(answer: str | None) -> None:
            if answer is None and current:
                return
            candidate = change(answer or "")
            try:
                render_dockerfile(candidate)
            except UserError as error:
                self.deck.show_error(error)
                return
            self.spec, self.edited = candidate, None
            self._show_dockerfile()

        self.app.push_screen(PromptScreen(question, current), answered)

    def action_edit(self) -> None:
        from tui.screens.dockerfile_edit import DockerfileEditScreen

        def edited(text: str | None) -> None:
            if text is not None:
                self.edited = None if text == render_dockerfile(self.spec) else text
                self._show_dockerfile()

        self.app.push_screen(DockerfileEditScreen(self.dockerfile), edited)

    # -- build and push ----------------------------------------------------------------------

    def _first_registry(self) -> str | None:
        return self._registries[0].url if self._registries else None

    def action_build(self) -> None:
        if not self.is_available():
            self.deck.show_error(UserError(self.services.reason(Capability.IMAGES)))
            return
        from tui.screens.image_build import ImageBuildScreen

        screen = ImageBuildScreen(self.dockerfile, Path("."), image_name(self.spec), DEFAULT_PLATFORM, registry=self._first_registry(), start=False)
        self.app.push_screen(screen, lambda _result: self._relist())

    def action_push(self) -> None:
        if not self.is_available():
            self.deck.show_error(UserError(self.services.reason(Capability.IMAGES)))
            return
        from tui.screens.image_push import ImagePushScreen

        self.app.push_screen(ImagePushScreen(image_name(self.spec), self._first_registry()), lambda _result: self._relist())

    def action_refresh(self) -> None:
        self.reload()

    def show_notice(self, kind: NoticeKind, message: str) -> None:
        # Without an engine the Dockerfile is still useful, so only the engine box says so.
        self.notice.hide()
        self.query_one("#engine", Static).update(inert(message, style="yellow" if kind is NoticeKind.UNAVAILABLE else "red"))

