"""Pilot tests: panels, help, palette, profile switching, drill-down, filter, confirmations."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style as RichStyle
from textual.color import Color as TextualColor
from textual.command import CommandPalette
from textual.widgets import Input, Static

from services.backends import ServiceSet, open_services
from services.config import Config, Profile
from services.errors import UserError
from services.fake_set import fake_services
from services.jobs.protocol import JobState
from services.secrets import Secret
from services.storage.listing import iter_objects
from services.storage.protocol import BucketRef
from tests.conftest import deck_config, fake_app, plain_text
from tui.app import TritonDeck, make_app
from tui.panel_registry import PANEL_IDS, entry
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen
from tui.screens.job_detail import JobDetailScreen
from tui.screens.job_logs import JobLogScreen
from tui.screens.profiles import ProfileScreen
from tui.settings import AppSettings
from widgets.context_bar import ContextBar
from widgets.log_pane import LogPane, StreamState
from widgets.notice import Notice
from widgets.resource_table import ResourceTable
from widgets.tab_strip import TabStrip


async def settle(app: TritonDeck, pilot: object) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()  # type: ignore[attr-defined]


def table(app: TritonDeck, name: str) -> ResourceTable:
    return app.query_one(f"#{name}-table", ResourceTable)


def cells(app: TritonDeck, name: str, column: int) -> list[str]:
    grid = table(app, name)
    return [str(grid.get_row_at(index)[column]) for index in range(grid.row_count)]


async def test_number_keys_and_brackets_switch_panels() -> None:
    app = fake_app()
    async with app.run_test() as pilot:
        await settle(app, pilot)
        assert app.active_panel == "buckets"
        for key, panel in (("3", "jobs"), ("4", "inference"), ("2", "images"), ("1", "buckets")):
            await pilot.press(key)
            assert app.active_panel == panel
            assert app.query_one(TabStrip).active == panel
            assert app.query_one(ContextBar).panel == entry(panel).title
        await pilot.press("right_square_bracket")
        assert app.active_panel == "images"
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert app.active_panel == PANEL_IDS[-1], "[ from the first panel wraps to the last"
        await pilot.click("#tabs", offset=(13, 0))  # " 1 Buckets " then " 2 Images "
        await pilot.pause()
        assert app.active_panel == "images"
        await pilot.press("3")
        assert app.focused is table(app, "jobs"), "the panel's list takes the focus"


async def test_the_first_panel_follows_the_first_frame_and_leaves_a_chosen_panel_its_focus() -> None:
    app = fake_app()
    async with app.run_test() as pilot:
        assert not app.query("#buckets-panel"), "the first frame is the deck's chrome: the panel comes after it"
        app.action_show_panel("jobs")  # what `3` does, before the first panel is in
        await settle(app, pilot)
        assert app.query("#buckets-panel"), "the first panel is mounted all the same"
        assert app.active_panel == "jobs"
        assert app.focused is table(app, "jobs"), "the first panel does not take the focus of the one chosen"
    app = fake_app()
    async with app.run_test() as pilot:
        await settle(app, pilot)
        assert app.focused is table(app, "buckets")


async def test_help_lists_bindings_and_closes() -> None:
    app = fake_app()
    async with app.run_test() as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_palette_offers_panel_actions_and_runs_them() -> None:
    app = fake_app()
    async with app.run_test() as pilot:
        await settle(app, pilot)
        await pilot.press("colon")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"go to jobs")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.active_panel == "jobs"
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for expected in ("Go to Buckets", "Jobs: Logs", "Jobs: Delete", "Buckets: Filter", "Inference: Refresh", "Profile: gra"):
            assert expected in titles


async def test_profile_switch_updates_header_and_reloads_panels() -> None:
    seen: list[str] = []

    def factory(profile: Profile) -> ServiceSet:
        seen.append(profile.name)
        return fake_services(profile)

    settings = AppSettings(poll=False)
    app = make_app("local", deck_config(), factory, settings, env={})
    async with app.run_test() as pilot:
        await settle(app, pilot)
        assert cells(app, "buckets", 1) == ["LOCAL", "LOCAL"]
        await pilot.press("p")
        assert isinstance(app.screen, ProfileScreen)
        await pilot.press("up", "enter")  # profiles are sorted: gra, local
        await settle(app, pilot)
        bar = app.query_one(ContextBar)
        assert (bar.profile, bar.region_code, bar.endpoint) == ("gra", "GRA", "https://gra.ai.cloud.ovh.net/v1")
        assert cells(app, "buckets", 1) == ["GRA", "GRA"]
        assert seen == ["local", "gra"]
        await pilot.press("p", "escape")
        assert app.profile.name == "gra"


async def test_profile_flag_env_and_unknown_profile() -> None:
    config = deck_config().with_active("gra")
    assert make_app(None, config, fake_services, env={}).profile.name == "gra"
    assert make_app(None, config, fake_services, env={"TRITON_DECK_PROFILE": "local"}).profile.name == "local"
    try:
        make_app("nope", config, fake_services, env={})
    except UserError as error:
        assert "unknown profile 'nope'" in str(error)
    else:
        raise AssertionError("an unknown profile is refused")


async def test_drill_into_bucket_and_prefix_then_back() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert cells(app, "buckets", 2) == ["efficientnet_lite0/", "simple/"]
        await pilot.press("enter")
        await settle(app, pilot)
        assert cells(app, "buckets", 2) == ["1/", "config.pbtxt", "labels.txt"]
        assert cells(app, "buckets", 1) == ["DIR", "360 B", "5.9 KiB"]
        await pilot.press("escape")
        await settle(app, pilot)
        assert cells(app, "buckets", 2) == ["efficientnet_lite0/", "simple/"]
        await pilot.press("escape")
        await settle(app, pilot)
        assert cells(app, "buckets", 0) == ["my-models", "my-results"]


async def test_empty_bucket_says_so() -> None:
    app = fake_app()
    async with app.run_test() as pilot:
        await settle(app, pilot)
        await pilot.press("j", "enter")
        await settle(app, pilot)
        notice = app.query_one("#buckets-panel-notice", Notice)
        assert notice.display and "my-results@LOCAL/ is empty" in str(notice.render())


async def test_filter_narrows_the_list_and_esc_clears_it() -> None:
    app = fake_app()
    async with app.run_test() as pilot:
        await pilot.press("3")
        await settle(app, pilot)
        assert table(app, "jobs").row_count == 4
        await pilot.press("slash", *"running")
        assert table(app, "jobs").row_count == 1
        await pilot.press("enter")
        assert app.focused is table(app, "jobs") and table(app, "jobs").row_count == 1
        await pilot.press("slash", "escape")
        assert table(app, "jobs").row_count == 4
        assert not app.query_one("#jobs-filter", Input).display


async def test_ctrl_d_deletes_an_object_only_after_yes() -> None:
    app = fake_app()
    store = app.services.object_store
    assert store is not None
    bucket = BucketRef("my-models", "LOCAL")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("j", "ctrl+d")  # simple/
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert plain_text(app.screen.query_one("#confirm-question", Static)).strip() == "Delete the 2 objects under my-models@LOCAL/simple/?", "counted first"
        await pilot.press("n")
        await settle(app, pilot)
        assert len(list(iter_objects(store, bucket))) == 6
        await pilot.press("ctrl+d")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        assert [o.key for o in iter_objects(store, bucket)] == [
            "efficientnet_lite0/1/model.onnx",
            "efficientnet_lite0/1/model.py",
            "efficientnet_lite0/config.pbtxt",
            "efficientnet_lite0/labels.txt",
        ]
        assert cells(app, "buckets", 2) == ["efficientnet_lite0/"]


async def test_after_a_delete_the_cursor_stays_in_place_on_the_next_row() -> None:
    """So a second ctrl+d takes the next object, not the first row (a whole prefix)."""
    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("enter")  # into efficientnet_lite0/
        await settle(app, pilot)
        assert cells(app, "buckets", 2) == ["1/", "config.pbtxt", "labels.txt"]
        await pilot.press("j", "ctrl+d")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        assert cells(app, "buckets", 2) == ["1/", "labels.txt"]
        assert table(app, "buckets").selected_key == "object:efficientnet_lite0/labels.txt"


async def test_stop_and_delete_jobs_behind_confirmation() -> None:
    app = fake_app()
    platform = app.services.job_platform
    assert platform is not None
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await settle(app, pilot)
        await pilot.press("j", "s")  # the running server
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        assert platform.get("00000003-7a1e-4c2b-9d3f-000000000003").state is JobState.INTERRUPTING
        assert cells(app, "jobs", 3)[1] == "INTERRUPTING"
        await pilot.press("ctrl+d", "escape")
        await settle(app, pilot)
        assert len(platform.list()) == 4
        await pilot.press("ctrl+d", "y")
        await settle(app, pilot)
        assert len(platform.list()) == 3 and table(app, "jobs").row_count == 3


async def test_job_detail_and_live_logs() -> None:
    app = fake_app()
    platform = app.services.job_platform
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await settle(app, pilot)
        await pilot.press("j", "enter")
        assert isinstance(app.screen, JobDetailScreen)
        await pilot.press("escape", "l")
        assert isinstance(app.screen, JobLogScreen)
        pane = app.screen.query_one(LogPane)
        for _ in range(50):
            await pilot.pause(0.05)
            if pane.received == 8:
                break
        assert pane.received == 8 and pane.stream is StreamState.LIVE and pane.following
        assert platform is not None
        platform.append_log("00000003-7a1e-4c2b-9d3f-000000000003", "one more line")
        for _ in range(50):
            await pilot.pause(0.05)
            if pane.received == 9:
                break
        rows = pane.view.rows
        assert rows.line(rows.count - 1) == ("one more line", False)
        await pilot.press("f")
        assert not pane.following
        await pilot.press("escape")
        assert not isinstance(app.screen, JobLogScreen)


async def test_real_local_profile_is_real_or_says_what_is_missing() -> None:
    app = make_app("local", Config(), open_services, AppSettings(poll=False), env={})
    async with app.run_test() as pilot:
        await settle(app, pilot)
        notice = app.query_one("#buckets-panel-notice", Notice)
        assert "no buckets yet" in str(notice.render()), "an empty local store, not fake data"
        await pilot.press("3")
        await settle(app, pilot)
        jobs_notice = app.query_one("#jobs-panel-notice", Notice)
        assert jobs_notice.display and "no jobs yet" in str(jobs_notice.render()), "real local jobs, none yet"
        await pilot.press("4")
        await settle(app, pilot)
        inference_notice = app.query_one("#inference-panel-notice", Notice)
        assert inference_notice.display and "no RUNNING server job" in str(inference_notice.render()), "real discovery, no server yet"


async def test_errors_are_one_redacted_notification() -> None:
    secret = Secret("very-secret-token-value")

    def broken(profile: Profile) -> ServiceSet:
        services = fake_services(profile)
        store = services.object_store

        class FailingStore:
            def __getattr__(self, name: str) -> object:
                return getattr(store, name)

            def list_buckets(self) -> list[object]:
                raise RuntimeError(f"401 Unauthorized for token {secret.reveal()}")

        services.object_store = FailingStore()  # type: ignore[assignment]
        return services

    app = make_app("local", Config(), broken, AppSettings(poll=False), env={})
    async with app.run_test() as pilot:
        await settle(app, pilot)
        messages = [notification.message for notification in app._notifications]
        assert messages == ["unexpected error (RuntimeError): 401 Unauthorized for token ****"]


async def test_q_quits() -> None:
    app = fake_app()
    async with app.run_test() as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_no_color_and_terminal_native_theme(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NO_COLOR", "1")
    plain = fake_app()
    assert plain.no_color
    async with plain.run_test(size=(80, 24)) as pilot:
        await settle(plain, pilot)
        grey = [Segment("x", RichStyle(color="grey50", bgcolor="color(236)", bold=True))]
        for line_filter in plain._filters:
            grey = line_filter.apply(grey, TextualColor(0, 0, 0))
        style = grey[0].style
        assert style is not None and style.bold and style.color is not None and style.color.is_default, "no colour codes, greys included"
        assert style.bgcolor is not None and style.bgcolor.is_default
        cursor = table(plain, "buckets").get_component_rich_style("datatable--cursor")
        assert cursor.reverse, "the cursor row is marked without colour"
    monkeypatch.delenv("NO_COLOR", raising=False)
    app = fake_app(config=deck_config().with_theme("ansi-dark"))
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.theme == "ansi-dark"
        assert "ansi-light" in app.available_themes


async def test_unknown_theme_warns_and_keeps_the_default() -> None:
    app = fake_app(config=deck_config().with_theme("no-such-theme"))
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.theme != "no-such-theme"
        assert any("unknown theme 'no-such-theme'" in n.message for n in app._notifications)


async def test_keys_never_act_on_a_hidden_screen() -> None:
    """On a full screen the panel keys go back to the panels; behind a dialog they do nothing."""
    from tui.screens.deploy import DeployScreen

    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await settle(app, pilot)
        await pilot.press("j", "l")
        assert isinstance(app.screen, JobLogScreen)
        await pilot.press("1")
        await settle(app, pilot)
        assert len(app.screen_stack) == 1 and app.active_panel == "buckets", "back to the panels, Buckets shown"
        await pilot.press("3", "j", "l")
        await settle(app, pilot)
        await pilot.press("0")
        await settle(app, pilot)
        assert isinstance(app.screen, DeployScreen) and len(app.screen_stack) == 2, "Deploy over the panels, not over the log"
        await pilot.press("0")
        assert len(app.screen_stack) == 2, "0 on Deploy does not stack another"
        await pilot.press("escape", "3")
        await settle(app, pilot)
        await pilot.press("g", "j", "s")  # the running server, second from the top
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("1", "0", "right_square_bracket", "p")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and len(app.screen_stack) == 2 and app.active_panel == "jobs", "the dialog has the keys"
        said = [notification.message for notification in app._notifications]
        assert said[-4:] == [
            "1 goes to Buckets once this dialog is closed: esc closes it",
            "0 opens Deploy once this dialog is closed: esc closes it",
            "] goes to the next panel once this dialog is closed: esc closes it",
            "p picks a profile once this dialog is closed: esc closes it",
        ], "and says why"
        await pilot.press("n")


def test_the_help_covers_every_panel_and_screen_of_the_registry() -> None:
    from tui.keys import key_groups
    from tui.panel_registry import PANEL_ENTRIES, SCREEN_ENTRIES

    titles = {group.title for group in key_groups()}
    assert {f"{panel.title} ({panel.key})" for panel in PANEL_ENTRIES} <= titles
    assert {screen.title for screen in SCREEN_ENTRIES if not screen.key} <= titles and "Deploy (0)" in titles
    assert all(group.rows for group in key_groups())


async def test_widget_messages_carry_their_control_for_selectors() -> None:
    """`@on(FilterBar.Updated, "#id")` needs `control`, as Textual's own widgets have."""
    from textual import on
    from textual.app import App, ComposeResult

    from widgets.filter_bar import FilterBar

    seen: list[str] = []

    class Probe(App[None]):
        def compose(self) -> ComposeResult:
            yield FilterBar(id="models-filter")

        def on_mount(self) -> None:
            self.query_one(FilterBar).open()

        @on(FilterBar.Updated, "#models-filter")
        def _typed(self, message: FilterBar.Updated) -> None:
            seen.append(message.text)

    async with Probe().run_test() as pilot:
        await pilot.press("a", "b")
        await pilot.pause()
    assert seen == ["a", "ab"]


class RefusingStore:
    """A store whose listings fail as S3 does with bad credentials, until told otherwise."""

    def __init__(self, base: object) -> None:
        self._base = base
        self.refusing = True

    def __getattr__(self, name: str) -> object:
        return getattr(self._base, name)

    def list_buckets(self):  # type: ignore[no-untyped-def]
        if self.refusing:
            raise UserError("listing buckets: S3 refused the credentials (InvalidAccessKeyId); set AWS_ACCESS_KEY_ID")
        return self._base.list_buckets()  # type: ignore[attr-defined]


async def test_a_failed_listing_stays_in_place_without_another_profiles_rows() -> None:
    from widgets.notice import NoticeKind

    stores: dict[str, RefusingStore] = {}

    def factory(profile: Profile) -> ServiceSet:
        services = fake_services(profile)
        if profile.name == "gra":
            stores["gra"] = RefusingStore(services.object_store)
            services.object_store = stores["gra"]  # type: ignore[assignment]
        return services

    async def settle_failing(app: TritonDeck, pilot: object) -> None:
        from textual.worker import WorkerFailed

        try:
            await app.workers.wait_for_complete()
        except WorkerFailed:
            pass  # the failure is what this test looks at
        await pilot.pause()  # type: ignore[attr-defined]

    app = make_app("local", deck_config(), factory, AppSettings(poll=False), env={})
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert table(app, "buckets").row_count > 0
        app.switch_profile("gra")
        await settle_failing(app, pilot)
        notice = app.query_one("#buckets-panel").query_one(Notice)
        assert table(app, "buckets").row_count == 0, "no local rows under the GRA error"
        assert notice.display and notice.has_class(f"-{NoticeKind.ERROR.value}")
        assert "S3 refused the credentials" in str(notice.render()) and "r tries again" in str(notice.render())
        stores["gra"].refusing = False
        await pilot.press("r")
        await settle(app, pilot)
        assert table(app, "buckets").row_count > 0 and not notice.display


async def test_the_profile_picker_lists_profiles_added_in_another_shell() -> None:
    from services.config import ProfileKind, update_config

    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        update_config(lambda config: config.with_profile(Profile(name="added-later", kind=ProfileKind.OVHCLOUD, region="BHS")))
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, ProfileScreen)
        assert "added-later" in app.config.profiles and "gra" in app.config.profiles, "the session's profiles stay too"


async def test_the_deploy_tab_opens_the_guided_flow() -> None:
    from tui.screens.deploy import DeployScreen

    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        strip = app.query_one(TabStrip)
        assert "0 Deploy" in str(strip.render())
        start = str(strip.render()).index("0 Deploy") - 1
        await pilot.click("#tabs", offset=(start + 2, 0))
        await pilot.pause()
        assert isinstance(app.screen, DeployScreen)


async def test_the_selected_jobs_url_is_shown_whole_at_80_columns() -> None:
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await settle(app, pilot)
        await pilot.press("j")  # the running server
        await pilot.pause()
        line = app.query_one("#jobs-address", Static)
        assert plain_text(line).strip() == "URL https://00000003-7a1e-4c2b-9d3f-000000000003.job.gra.ai.cloud.ovh.net"
        assert line.region.width <= 80 and line.display


async def test_the_footer_keeps_help_and_quit_and_the_first_keys_at_60_columns() -> None:
    from widgets.priority_footer import PriorityFooter

    app = fake_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.press("3")
        await settle(app, pilot)
        footer = app.screen.query_one(PriorityFooter)
        actions = [binding.action for binding, _enabled, _tooltip in footer.chosen(60)]
        assert actions[-2:] == ["help", "quit"] and actions[0] == "new_job", actions
        assert len(actions) < len([b for _n, b, _e, _t in app.screen.active_bindings.values() if b.show])
    wide_app = fake_app()
    async with wide_app.run_test(size=(160, 20)) as pilot:
        await settle(wide_app, pilot)
        footer = wide_app.screen.query_one(PriorityFooter)
        wide = [binding.action for binding, _enabled, _tooltip in footer.chosen(160)]
        assert "command_palette" in wide and wide[-2:] == ["help", "quit"]


async def test_the_palette_lists_the_shown_panels_actions_first_and_a_chosen_theme_is_kept() -> None:
    from services.config import load_config

    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await settle(app, pilot)
        commands = list(app.get_system_commands(app.screen))
        jobs = [command for command in commands if command.title.startswith("Jobs: ")]
        assert commands[: len(jobs)] == jobs, "the Jobs panel's own actions come first"
        stop = next(command for command in jobs if command.title == "Jobs: Stop")
        assert stop.help == "Stop the selected job (key 3, then s)"
        assert not any(command.title.startswith("Go to Jobs") for command in commands), "not where the user already is"
        app.theme = "ansi-light"
        for _ in range(100):
            if load_config().theme == "ansi-light":
                break
            await pilot.pause(0.05)
        assert load_config().theme == "ansi-light" and app.config.theme == "ansi-light"


async def test_a_panel_shown_again_lists_again_and_says_how_old_its_rows_are() -> None:
    """A job started elsewhere (another shell, the Deploy screen) is there when Jobs is shown again."""
    from datetime import timedelta

    from services.fake_set import FROZEN_NOW
    from services.jobs.protocol import JobSpec
    from tui.app import make_app
    from tui.settings import AppSettings
    from widgets.context_bar import ContextBar

    clock = [FROZEN_NOW + timedelta(minutes=10)]
    app = make_app("local", deck_config(), fake_services, AppSettings(now=lambda: clock[0], poll=False), env={})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await settle(app, pilot)
        assert table(app, "jobs").row_count == 4
        assert app.query_one(ContextBar).age == "refreshed 0s ago"
        await pilot.press("1")
        await settle(app, pilot)
        platform = app.services.job_platform
        assert platform is not None
        platform.run(JobSpec(image="ubuntu", name="elsewhere"))
        clock[0] += timedelta(seconds=30)
        await pilot.press("3")
        await settle(app, pilot)
        assert table(app, "jobs").row_count == 5 and "elsewhere" in cells(app, "jobs", 1)
        assert app.query_one(ContextBar).age == "refreshed 0s ago"
        clock[0] += timedelta(seconds=1)
        await pilot.press("3")  # within the staleness window: no listing, the age moves on
        await settle(app, pilot)
        assert app.query_one(ContextBar).age == "refreshed 1s ago"


async def test_help_shows_the_keys_of_what_is_on_screen_first() -> None:
    from tui.screens.help import HelpScreen

    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        first = app.screen.query(".help-group").first(Static)
        assert plain_text(first).startswith("Jobs (3)")
        await pilot.press("escape", "j", "l")
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert plain_text(app.screen.query(".help-group").first(Static)).startswith("Job logs")
        await pilot.press("escape", "escape", "n")  # the run form: its fields take `?`, f1 still helps
        await pilot.pause()
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen) and plain_text(app.screen.query(".help-group").first(Static)).startswith("Run form")
        await pilot.press("escape", "escape", "p")
        await pilot.pause()
        await pilot.press("question_mark")  # a picker: nothing in it takes `?`
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen) and plain_text(app.screen.query(".help-group").first(Static)).startswith("Profile picker")
        await pilot.press("escape")
        assert type(app.screen).__name__ == "ProfileScreen", "closing the help goes back to the dialog"


async def test_space_marks_jobs_for_one_bulk_stop_and_s_sorts_by_a_column() -> None:
    from tui.screens.confirm import ConfirmScreen

    app = fake_app()
    platform = app.services.job_platform
    assert platform is not None
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await settle(app, pilot)
        jobs = table(app, "jobs")
        await pilot.press("space", "space")  # the QUEUED client and the RUNNING server, the cursor moving down
        await pilot.pause()
        assert jobs.marks == {"00000004-7a1e-4c2b-9d3f-000000000004", "00000003-7a1e-4c2b-9d3f-000000000003"}
        assert cells(app, "jobs", 0)[:2] == ["● 00000004", "● 00000003"], "a mark is a glyph, seen without colour"
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert plain_text(app.screen.query_one("#confirm-question", Static)).strip() == "Stop 2 jobs (00000004, 00000003)?"
        await pilot.press("y")
        await settle(app, pilot)
        assert {platform.get(job_id).state for job_id in ("00000004-7a1e-4c2b-9d3f-000000000004", "00000003-7a1e-4c2b-9d3f-000000000003")} == {JobState.INTERRUPTING}
        assert not jobs.marks and any("stop requested for 2 of 2" in n.message for n in app._notifications)
        await pilot.press("S", "S")  # by NAME
        await pilot.pause()
        assert cells(app, "jobs", 1) == sorted(cells(app, "jobs", 1)) and str(jobs.columns[list(jobs.columns)[1]].label) == "NAME ▲"
        await pilot.press("S", "S", "S", "S", "S", "S")  # past the last column: as the platform lists them
        await pilot.pause()
        assert cells(app, "jobs", 0) == ["00000004", "00000003", "00000002", "00000001"]


async def test_colon_aliases_go_to_a_panel_as_in_k9s() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        for alias, panel in (("j", "jobs"), ("apps", "apps"), ("bucket", "buckets"), ("inf", "inference")):
            await pilot.press("colon", *alias)
            await pilot.pause(0.3)
            await pilot.press("enter")
            await pilot.pause()
            await settle(app, pilot)
            assert app.active_panel == panel, alias


async def test_the_empty_palette_lists_the_shown_panels_actions_first() -> None:
    from textual.command import CommandPalette

    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await settle(app, pilot)
        await pilot.press("colon")
        await pilot.pause(0.3)
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        from textual.widgets import OptionList

        options = palette.query_one(OptionList)
        first = str(options.get_option_at_index(0).prompt)
        assert first.startswith("Jobs: "), first
