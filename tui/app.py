"""The triton-deck app and `make_app`, the one factory the CLI, tests and screenshots use.

The app owns the active profile and its `ServiceSet`; panels read both from it. Switching
profile swaps the set and asks every panel to start over.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Container
from textual.filter import Monochrome, NoColor
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen
from textual.widgets import ContentSwitcher, Input

from services.backends import ServiceFactory, ServiceSet, open_services
from services.config import Config, Profile, load_config, select_profile_name, update_config
from services.errors import UserError
from services.secrets import redact
from services.text import visible
from services.units import human_age
from tui import terminal_guard
from tui.clipboard import inside_tmux_without_clipboard, to_tmux_buffer
from tui.commands import DeckCommands
from tui.keys import key_display
from tui.panel_registry import PANEL_ENTRIES, PANEL_IDS, PanelEntry, entry
from tui.settings import AppSettings
from tui.tune_runs import TuneRuns
from widgets.context_bar import ContextBar
from widgets.priority_footer import PriorityFooter
from widgets.tab_strip import TabStrip

DEPLOY_TAB = "deploy"

if TYPE_CHECKING:
    from textual.widget import AwaitMount

    from tui.panels.base import Panel


class TritonDeck(App[None]):
    # Absolute, so subclasses in other directories (the startup probe) find it too.
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "triton-deck"
    COMMANDS = {DeckCommands}  # the app's order and k9s aliases, instead of Textual's name-sorted list

    # Number keys come from the view registry: a new panel gets the next one.
    BINDINGS = [
        Binding("0", "deploy", "Deploy", show=False),
        *(Binding(panel.key, f"show_panel('{panel.name}')", panel.title, show=False) for panel in PANEL_ENTRIES),
        Binding("right_square_bracket", "cycle_panel(1)", "Next panel", show=False),
        Binding("left_square_bracket", "cycle_panel(-1)", "Previous panel", show=False),
        Binding("colon,ctrl+p", "command_palette", "Palette"),
        Binding("p", "pick_profile", "Profile", show=False),
        Binding("question_mark,f1", "help", "Help"),  # f1 where a field takes the `?`
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        config: Config,
        profile_name: str,
        service_factory: ServiceFactory = open_services,
        settings: AppSettings | None = None,
    ) -> None:
        terminal_guard.install()
        super().__init__()
        if self.no_color:  # no-color.org: no colour codes at all, not Textual's 256-colour greys
            self._filters = [NoColor() if isinstance(line_filter, Monochrome) else line_filter for line_filter in self._filters]
        self.config = config
        self.settings = settings or AppSettings()
        self._service_factory = service_factory
        self.profile: Profile = config.profile(profile_name)
        self.services: ServiceSet = service_factory(self.profile)
        self.tune_runs = TuneRuns()  # searches outlive the Tune screen: reopening it resumes one

    def compose(self) -> ComposeResult:
        yield ContextBar(id="context")
        first = PANEL_ENTRIES[0]
        # The guided flow is a tab too (last, so the panels keep their places): where a newcomer looks first.
        yield TabStrip([*((panel.name, f"{panel.key} {panel.title}") for panel in PANEL_ENTRIES), (DEPLOY_TAB, "0 Deploy")], id="tabs")
        with ContentSwitcher(initial=f"{first.name}-pane", id="panels"):
            for panel in PANEL_ENTRIES:
                yield Container(id=f"{panel.name}-pane", classes="pane")
        yield PriorityFooter()

    def on_mount(self) -> None:
        if self.config.theme in self.available_themes:
            self.theme = self.config.theme
        elif self.config.theme:
            self.notify(f"unknown theme '{self.config.theme}' in the config: using the default", severity="warning")
        self._update_context()
        self.call_after_refresh(self._show_first_panel)
        if self.settings.poll:
            self.set_interval(1.0, self._update_age)

    def _update_context(self) -> None:
        bar = self.query_one(ContextBar)
        bar.profile = self.profile.name
        bar.region_code = self.profile.region
        bar.endpoint = self.services.backend.api_url(self.profile) or ""
        bar.panel = entry(self.active_panel).title
        self._update_age()

    def panel_refreshed(self, panel: Panel) -> None:
        if panel.id == f"{self.active_panel}-panel":
            self._update_age()

    def _update_age(self) -> None:
        """"refreshed 4s ago" for the shown panel: how old its rows are (ticks once a second)."""
        panel = self._mounted_panel(self.active_panel)
        at = panel.refreshed_at if panel is not None else None
        self.query_one(ContextBar).age = "" if at is None else f"refreshed {human_age(at, self.settings.now())} ago"

    # -- panels --------------------------------------------------------------------------------

    @property
    def active_panel(self) -> str:
        current = self.query_one(ContentSwitcher).current
        return current.removesuffix("-pane") if current else PANEL_IDS[0]

    def _mounted_panel(self, name: str) -> Panel | None:
        """The panel `name` if it is mounted (its class is imported only then)."""
        mounted = self.query(f"#{name}-panel")
        if not mounted:
            return None
        from tui.panels.base import Panel

        return mounted.first(Panel)

    def panel(self, name: str) -> Panel:
        """The panel `name`, composed and mounted on first use."""
        mounted = self._mounted_panel(name)
        return mounted if mounted is not None else self._mount_panel(name)[0]

    def _mount_panel(self, name: str) -> tuple[Panel, AwaitMount]:
        panel = entry(name).load()(id=f"{name}-panel")
        return panel, self.query_one(f"#{name}-pane", Container).mount(panel)

    async def _show_first_panel(self) -> None:
        """The first panel comes after the first frame: the deck's frame shows at once and
        the panel's imports and widgets follow, as Textual's `Lazy` does for hidden panes.
        Focused once mounted, so the frame that shows it shows its cursor too."""
        name = PANEL_IDS[0]
        if self.query_one(f"#{name}-pane", Container).is_attached and self._mounted_panel(name) is None:  # not if the app closed first
            await self._mount_panel(name)[1]
            self._focus_panel(name)

    def mounted_panels(self) -> list[Panel]:
        from tui.panels.base import Panel

        return list(self.query(Panel))

    # -- navigation never acts on what is hidden ----------------------------------------------

    NAVIGATION = frozenset({"show_panel", "cycle_panel", "deploy", "pick_profile"})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Behind a dialog, the panel and deploy keys do nothing: the dialog has the keys.
        (On a full screen they first go back to the panels: see `_to_panels`.)"""
        if action in self.NAVIGATION and isinstance(self.screen, ModalScreen):
            return False
        return True

    # What each navigation key would do: said when a dialog keeps it from doing it.
    NAVIGATION_KEYS = {
        "0": "opens Deploy",
        "p": "picks a profile",
        "left_square_bracket": "goes to the previous panel",
        "right_square_bracket": "goes to the next panel",
        **{panel.key: f"goes to {panel.title}" for panel in PANEL_ENTRIES},
    }

    def on_key(self, event: events.Key) -> None:
        """In a dialog (where the app's own bindings are cut off) `?`/f1 still shows the keys,
        the dialog's first, and a panel key nothing in the dialog took says why it did
        nothing. (Typed into a field, the key is the field's and never reaches here.)"""
        if not isinstance(self.screen, ModalScreen):
            return
        from tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        if event.key in ("question_mark", "f1"):
            event.stop()
            self.call_after_refresh(self.action_help)  # after this key is done: the help's own `?` closes it
        elif event.key in self.NAVIGATION_KEYS:
            event.stop()
            what = self.NAVIGATION_KEYS[event.key]
            self.notify(f"{key_display(event.key)} {what} once this dialog is closed: esc closes it", severity="warning", timeout=3)

    def _to_panels(self) -> None:
        """Leave every full screen (log view, deploy, build…) so the panels are what shows."""
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def action_show_panel(self, name: str) -> None:
        self._to_panels()
        self.panel(name).refresh_if_stale()
        self.query_one(ContentSwitcher).current = f"{name}-pane"
        self.query_one(TabStrip).active = name
        self._update_context()
        self.call_after_refresh(self._focus_panel, name)

    def action_cycle_panel(self, step: int) -> None:
        index = PANEL_IDS.index(self.active_panel)
        self.action_show_panel(PANEL_IDS[(index + step) % len(PANEL_IDS)])

    def on_tab_strip_chosen(self, message: TabStrip.Chosen) -> None:
        if message.name == DEPLOY_TAB:
            self.action_deploy()
        else:
            self.action_show_panel(message.name)

    def _focus_panel(self, name: str) -> None:
        if name != self.active_panel:  # another panel was chosen meanwhile: it keeps the focus
            return
        panel = self.panel(name)
        for widget in panel.query("*"):
            if widget.focusable and widget.display and not isinstance(widget, Input):
                widget.focus()
                return

    def run_panel_action(self, name: str, action: str) -> None:
        self.action_show_panel(name)
        self.call_after_refresh(lambda: self.panel(name).run_action(action))

    # -- profiles ------------------------------------------------------------------------------

    def action_pick_profile(self) -> None:
        """The picker lists the config as it is now: a profile added in another shell shows up."""
        try:
            self.config = self._reload_config()
        except UserError as error:
            self.show_error(error)

        def picked(name: str | None) -> None:
            if name:
                self.switch_profile(name)

        from tui.screens.profiles import ProfileScreen

        self.push_screen(ProfileScreen(self.config.profiles, self.profile.name), picked)

    def _reload_config(self) -> Config:
        """This session's config plus what the file holds now (profiles and registries added since)."""
        saved = load_config()
        return replace(self.config, profiles={**self.config.profiles, **saved.profiles}, registries={**self.config.registries, **saved.registries})

    def services_for(self, profile: Profile) -> ServiceSet:
        """`profile`'s services (a profile being checked need not be the active one)."""
        return self.services if profile == self.profile else self._service_factory(profile)

    def profile_added(self, profile: Profile) -> None:
        """A profile saved from the profile screen: the palette and the picker offer it now."""
        self.config = self.config.with_profile(profile)

    def switch_profile(self, name: str) -> None:
        """Use `name` for this session (the saved default changes only with `profile use`)."""
        try:
            profile = self.config.profile(name)
            services = self._service_factory(profile)
        except UserError as error:
            self.show_error(error)
            return
        self.profile, self.services = profile, services
        self._update_context()
        for panel in self.mounted_panels():
            panel.reload()
        self.notify(f"profile {profile.name} ({profile.region})")

    # -- help, palette, errors -----------------------------------------------------------------

    def action_deploy(self) -> None:
        from tui.screens.deploy import DeployScreen

        if isinstance(self.screen, DeployScreen):
            return
        self._to_panels()
        self.push_screen(DeployScreen())

    def action_help(self) -> None:
        from tui.keys import current_group_title
        from tui.screens.help import HelpScreen

        self.push_screen(HelpScreen(current_group_title(self.screen, self.active_panel)))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette, most useful first: the shown panel's actions, then going elsewhere, then
        the other panels' actions, profiles, and Textual's own commands last. Each says what it
        does and its key."""
        current = self.active_panel if screen is self.screen_stack[0] else None  # the palette is on top of `screen`
        ordered = sorted(PANEL_ENTRIES, key=lambda panel: panel.name != current)
        for panel in ordered[:1] if current else []:
            yield from self._panel_commands(panel)
        for panel in PANEL_ENTRIES:
            if panel.name != current:
                yield SystemCommand(f"Go to {panel.title}", f"Show the {panel.title} panel (key {panel.key})", partial(self.action_show_panel, panel.name))
        yield SystemCommand("Deploy", "The whole tutorial as one resumable flow: upload, build, serve, classify (key 0)", self.action_deploy)
        for panel in ordered[1:] if current else ordered:
            yield from self._panel_commands(panel)
        for name in sorted(self.config.profiles):
            if name != self.profile.name:
                profile = self.config.profiles[name]
                yield SystemCommand(f"Profile: {name}", f"Switch to profile {name} ({profile.kind.value} {profile.region}) (key p)", partial(self.switch_profile, name))
        yield SystemCommand("Help: keys", "Every key of this screen first, then the others (key ?)", self.action_help)
        yield from super().get_system_commands(screen)

    def _panel_commands(self, panel: PanelEntry) -> Iterable[SystemCommand]:
        for binding in panel.load().BINDINGS:
            if isinstance(binding, Binding) and binding.description:
                what = binding.tooltip or binding.description.lower()
                yield SystemCommand(
                    f"{panel.title}: {binding.description}",
                    f"{what[:1].upper()}{what[1:]} (key {panel.key}, then {key_display(binding.key)})",
                    partial(self.run_panel_action, panel.name, binding.action),
                )

    def watch_theme(self, theme: str) -> None:
        """A theme chosen in the palette is the next session's too."""
        if self.is_running and theme != self.config.theme:
            self.config = self.config.with_theme(theme)
            self._save_theme(theme)

    @work(thread=True, exclusive=True, group="save-theme", exit_on_error=False)
    def _save_theme(self, theme: str) -> None:
        update_config(lambda config: config.with_theme(theme))

    def notify(
        self, message: str, *, title: str = "", severity: SeverityLevel = "information", timeout: float | None = None, markup: bool = True
    ) -> None:
        """Every toast (the app's and each widget's) shows its text inert: messages quote keys,
        names and server replies, so markup is never parsed and control characters are shown."""
        super().notify(visible(message), title=visible(title), severity=severity, timeout=timeout, markup=False)

    def copy_text(self, text: str, what: str) -> None:
        """Copy `text` (`what` names it in the toast) where the user can paste it, and say where."""
        self._copy_text(text, what)

    def copy_field(self, owner: str, what: str, value: str | None) -> None:
        """A job's or an app's field (`owner` is "job 1a2b3c4d"), or a warning that it has none yet."""
        if value:
            self.copy_text(value, f"the {owner.split()[0]}'s {what}")
        else:
            self.notify(f"{owner} has no {what} yet", severity="warning")

    @work(thread=True, group="copy", exit_on_error=False)
    def _copy_text(self, text: str, what: str) -> None:
        if not inside_tmux_without_clipboard():
            self.call_from_thread(self.copy_to_clipboard, text)
            self.call_from_thread(self.notify, f"copied {what} to the clipboard")
        elif to_tmux_buffer(text):
            self.call_from_thread(self.notify, f"copied {what} into tmux's paste buffer (prefix ] pastes it); `tmux set -g set-clipboard on` reaches the system clipboard too")
        else:
            self.call_from_thread(self.notify, f"could not copy {what}: tmux refused it and drops the terminal's clipboard request", severity="warning")

    def show_error(self, error: BaseException) -> None:
        """One redacted line in a notification; never a traceback on screen."""
        if isinstance(error, UserError):
            text = error.message
        else:
            text = f"unexpected error ({type(error).__name__}): {error}"
            self.log.error(redact(repr(error)))
        self.notify(redact(text), severity="error", timeout=8)


def make_app(
    profile_flag: str | None = None,
    config: Config | None = None,
    service_factory: ServiceFactory = open_services,
    settings: AppSettings | None = None,
    env: Mapping[str, str] | None = None,
    app_class: type[TritonDeck] | None = None,
) -> TritonDeck:
    """Build the app the same way for the CLI, the tests, the benches and the screenshot script
    (`app_class`: a subclass of theirs, such as one that exits on its first frame)."""
    config = config if config is not None else load_config()
    name = select_profile_name(config, profile_flag, os.environ if env is None else env)
    config.profile(name)
    return (app_class or TritonDeck)(config, name, service_factory, settings)
