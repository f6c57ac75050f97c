"""Images: the AI Training Dockerfile, the engine that builds it, and the registries.

The Dockerfile preview is pure computation and shows on every profile, with or without
an engine; engine and registry details come from workers.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Static

from services.backends import Capability
from services.errors import UserError
from services.images.dockerfile import DockerfileSpec, render_dockerfile
from services.images.protocol import EngineInfo
from services.jobs.protocol import RegistryInfo
from tui.panels.base import Panel
from widgets.notice import NoticeKind
from widgets.resource_table import ResourceTable, Row

REGISTRY_COLUMNS = ("ID", "TYPE", "URL")


def dockerfile_text(dockerfile: str) -> Text:
    """The Dockerfile with its instructions in bold: enough highlighting to scan it."""
    text = Text()
    for line in dockerfile.splitlines():
        instruction, _, rest = line.partition(" ")
        text.append(instruction, style="bold")
        text.append(f" {rest}\n")
    text.rstrip()
    return text


class ImagesPanel(Panel):
    capability = Capability.IMAGES
    title = "Images"

    BINDINGS = [
        Binding("c", "toggle_client", "Server/client"),
        Binding("r", "refresh", "Refresh", show=False),
    ]

    class EngineFound(Message):
        def __init__(self, engine: EngineInfo) -> None:
            super().__init__()
            self.engine = engine

    class RegistriesListed(Message):
        def __init__(self, registries: list[RegistryInfo]) -> None:
            super().__init__()
            self.registries = registries

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.spec = DockerfileSpec()

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

    def is_available(self) -> bool:
        return self.services.image_builder is not None

    def reload(self) -> None:
        self._show_dockerfile()
        super().reload()
        self._list_registries()

    def load(self) -> None:
        self.notice.hide()
        self.query_one("#engine", Static).update(Text("connecting…", style="dim"))
        self._find_engine()

    def _show_dockerfile(self) -> None:
        kind = "client" if self.spec.client else "server"
        self.query_one("#dockerfile-title", Static).update(f"Dockerfile ({kind}, Triton {self.spec.version})")
        try:
            text = dockerfile_text(render_dockerfile(self.spec))
        except UserError as error:
            text = Text(str(error), style="red")
        self.query_one("#dockerfile", Static).update(text)

    @work(thread=True, exclusive=True, group="images-engine", exit_on_error=False)
    def _find_engine(self) -> None:
        builder = self.services.image_builder
        assert builder is not None
        self.post_message(self.EngineFound(builder.engine()))

    @work(thread=True, exclusive=True, group="images-registries", exit_on_error=False)
    def _list_registries(self) -> None:
        platform = self.services.job_platform
        registries = platform.registries() if platform and platform.capabilities.registries else []
        self.post_message(self.RegistriesListed(registries))

    @on(EngineFound)
    def _engine_found(self, message: EngineFound) -> None:
        engine = message.engine
        self.query_one("#engine", Static).update(f"{engine.endpoint}\nversion {engine.version}, {engine.architecture}")

    @on(RegistriesListed)
    def _registries_listed(self, message: RegistriesListed) -> None:
        rows = [Row(info.url, (info.id or "", info.kind, info.url)) for info in message.registries]
        self.query_one(ResourceTable).set_rows(rows)
        self.query_one(ResourceTable).display = bool(rows)
        note = self.query_one("#registries-note", Static)
        note.display = not rows
        platform = self.services.job_platform
        if platform is None:
            note.update(f"{self.services.reason(Capability.JOBS)}: registries come from the job platform")
        elif not platform.capabilities.registries:
            note.update("local jobs run the bundled server and need no registry")
        else:
            note.update("no registries: add one, or use the shared registry of your AI Training project")

    def action_toggle_client(self) -> None:
        self.spec = DockerfileSpec(version=self.spec.version, client=not self.spec.client)
        self._show_dockerfile()

    def action_refresh(self) -> None:
        self.reload()

    def show_notice(self, kind: NoticeKind, message: str) -> None:
        # Without an engine the Dockerfile is still useful, so only the engine box says so.
        self.notice.hide()
        self.query_one("#engine", Static).update(Text(message, style="yellow" if kind is NoticeKind.UNAVAILABLE else "red"))
