"""Profiles and registries set up from the app as from the CLI: added, checked for real, removed.

The TUI half runs on the seeded fakes; the CLI half checks a profile against the fake
regional API and moto's S3 server, and the local profile in a real subprocess.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
from textual.widgets import Input, Static

from services import locations
from services.config import load_config
from tests.conftest import fake_app, plain_text, settle
from tests.fake_ai_api import TOKEN, FakeAITrainingAPI
from tests.helpers import run
from tui.screens.confirm import ConfirmScreen
from tui.screens.profile_add import ProfileAddScreen
from tui.screens.profiles import ProfileScreen
from tui.screens.registry_add import RegistryAddScreen
from widgets.resource_table import ResourceTable

SECRET_TOKEN = "tok-never-on-screen-4242"


def table_rows(table: ResourceTable) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]


async def test_a_profile_added_from_the_app_is_saved_0600_listed_and_checked_at_once() -> None:
    app = fake_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await pilot.press("a")
        assert isinstance(app.screen, ProfileAddScreen)
        await pilot.press(*"prod")
        app.screen.query_one("#profile-token_command", Input).value = "pass show ovh/ai"
        app.screen.query_one("#profile-token", Input).value = SECRET_TOKEN
        await pilot.pause()
        preview = plain_text(app.screen.query_one("#run-preview", Static))
        assert "triton-deck profile add prod --region GRA --token-command 'pass show ovh/ai' --token-stdin" in preview
        assert SECRET_TOKEN not in app.export_screenshot(), "typed hidden, previewed as the flag that reads it"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ProfileScreen)
        saved = load_config().profiles["prod"]
        assert saved.token_command == "pass show ovh/ai" and saved.token is not None and saved.token.reveal() == SECRET_TOKEN
        assert stat.S_IMODE(os.stat(locations.config_file()).st_mode) == 0o600
        assert "prod" in app.config.profiles, "the palette offers it too"
        check = plain_text(app.screen.query_one("#profiles-check", Static))
        assert check.startswith("check of prod") and "(checking…)" not in check
        assert "✓ Object storage  answers: 2 buckets" in check and "✓ AI Training     answers: 4 jobs" in check
        assert SECRET_TOKEN not in app.export_screenshot()
        await pilot.press("enter")
        assert app.profile.name == "prod"


async def test_the_add_form_marks_the_refused_field_and_keeps_the_rest() -> None:
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("p", "a")
        await pilot.press(*"gra", "ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ProfileAddScreen), "not dismissed"
        assert "profile 'gra' already exists: pick another name" in plain_text(app.screen.query_one("#run-error", Static))
        assert app.screen.query_one("#profile-name", Input).has_class("-invalid")
        app.screen.query_one("#profile-name", Input).value = "bhs"
        app.screen.query_one("#profile-region", Input).value = "XYZ"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "unknown AI Training region 'XYZ'" in plain_text(app.screen.query_one("#run-error", Static))
        assert app.screen.query_one("#profile-region", Input).has_class("-invalid") and app.focused is app.screen.query_one("#profile-region")
        app.screen.query_one("#profile-region", Input).value = "BHS"
        app.screen.query_one("#profile-s3_access_key", Input).value = "AKIA"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "S3 keys come in pairs" in plain_text(app.screen.query_one("#run-error", Static))
        assert app.screen.query_one("#profile-s3_secret_key", Input).has_class("-invalid")
        await pilot.press("escape")
        assert isinstance(app.screen, ProfileScreen) and "bhs" not in load_config().profiles


async def test_ctrl_t_makes_it_a_local_profile_with_the_local_kind_s_fields_only() -> None:
    """The kinds come from the backend registry: a local one takes a name and nothing else,
    and saving it is `profile add NAME --kind local`."""
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("p", "a")
        await pilot.press(*"lab", "ctrl+t")
        await pilot.pause()
        form = app.screen
        assert form.query_one("#profile-kind", Input).value == "local"
        shown = [field.id for field in form.query(Input) if field.parent is not None and field.parent.display]
        assert shown == ["profile-kind", "profile-name"], shown
        assert plain_text(form.query_one("#run-preview", Static)).strip() == "triton-deck profile add lab --kind local"
        form.query_one("#profile-kind", Input).value = "cloud"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "kind 'cloud' is not one of local, ovhcloud" in plain_text(form.query_one("#run-error", Static))
        await pilot.press("ctrl+t")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ProfileScreen)
        saved = load_config().profiles["lab"]
        assert (saved.kind.value, saved.region, saved.token) == ("local", "LOCAL", None)


async def test_c_checks_the_highlighted_profile_and_names_the_missing_token_with_its_fix() -> None:
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("p", "up", "c")  # the list is gra, local; local is active
        await settle(pilot)
        check = plain_text(app.screen.query_one("#profiles-check", Static))
        assert check.startswith("check of gra")
        assert "✗ AI token        not set: export OVHAI_TOKEN, or give the profile a token command" in check
        assert "✓ AI Deploy       answers: 3 apps" in check
        assert app.profile.name == "local", "checking does not switch"


async def test_a_name_taken_meanwhile_by_another_shell_keeps_the_form_and_what_was_typed() -> None:
    from services.config import Profile, ProfileKind, update_config

    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("p", "a")
        await pilot.press(*"race")
        app.screen.query_one("#profile-token_command", Input).value = "pass show mine"
        update_config(lambda config: config.with_profile(Profile(name="race", kind=ProfileKind.OVHCLOUD, region="BHS")))
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ProfileAddScreen), "not closed on a refused save"
        assert "profile 'race' was just added elsewhere (another shell?)" in plain_text(app.screen.query_one("#run-error", Static))
        assert app.screen.query_one("#profile-token_command", Input).value == "pass show mine"
        assert load_config().profiles["race"].region == "BHS", "the other shell's profile is kept"


async def test_a_registry_is_added_attached_and_removed_from_the_images_panel() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("a")
        assert isinstance(app.screen, RegistryAddScreen)
        await pilot.press(*"ghcr.io/acme", "ctrl+s")
        await pilot.pause()
        assert "not a registry address" in plain_text(app.screen.query_one("#run-error", Static))
        form = app.screen
        form.query_one("#registry-address", Input).value = "127.0.0.1:5000"
        form.query_one("#registry-username", Input).value = "deck"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert form.query_one("#registry-password_command", Input).has_class("-invalid"), "credentials come in pairs"
        form.query_one("#registry-password_command", Input).value = "false"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form and form.query_one("#registry-password_command", Input).has_class("-invalid")
        assert "the password of 127.0.0.1:5000 exited with status 1" in plain_text(form.query_one("#run-error", Static))
        assert form.query_one("#registry-username", Input).value == "deck", "what was typed stays"
        form.query_one("#registry-password_command", Input).value = f"{sys.executable} -c \"print('hunter2')\""
        await pilot.pause()
        assert "triton-deck registry add 127.0.0.1:5000 -u deck --password-command" in plain_text(form.query_one("#run-preview", Static))
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert load_config().registries["127.0.0.1:5000"].username == "deck"
        table = app.query_one("#registries-table", ResourceTable)
        rows = table_rows(table)
        assert rows[0][1] == "SHARED" and ["reg-1", "PRIVATE", "127.0.0.1:5000"] in rows, "attached to the project, as ovhai does"
        assert "hunter2" not in app.export_screenshot()
        table.focus()
        table.move_cursor(row=0)
        await pilot.press("ctrl+d")
        assert not isinstance(app.screen, ConfirmScreen), "the shared registry comes with the project and stays"
        table.move_cursor(row=1)
        await pilot.press("ctrl+d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert "127.0.0.1:5000" not in load_config().registries
        assert [row[1] for row in table_rows(table)] == ["SHARED"], "detached and removed from the config"


# -- the CLI -------------------------------------------------------------------------------------


def test_profile_check_tries_each_credential_for_real(api: FakeAITrainingAPI, moto_endpoint: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["profile", "add", "gra", "--api-url", api.base_url, "--s3-endpoint", moto_endpoint])[0] == 0
    env = {"OVHAI_TOKEN": TOKEN, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    code, out = run(["profile", "check", "gra"], env=env)
    assert code == 0, out
    assert [line.split()[:2] for line in out.splitlines()] == [["ok", "AI"], ["ok", "Object"], ["ok", "AI"], ["ok", "AI"]]
    assert "read from env OVHAI_TOKEN" in out and "answers: 0 jobs" in out

    code, out = run(["profile", "check", "gra", "-o", "json"], env={**env, "OVHAI_TOKEN": "wrong-token-1234"})
    assert code == 1
    results = {result["check"]: result for result in json.loads(out)}
    assert results["AI token"]["ok"] and results["Object storage"]["ok"]
    assert not results["AI Training"]["ok"] and "401" in results["AI Training"]["detail"]
    assert "wrong-token-1234" not in out + capsys.readouterr().err

    code, out = run(["profile", "check", "gra"], env={"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    assert code == 1 and out.splitlines()[0].startswith("FAILED  AI token        not set: export OVHAI_TOKEN")

    assert run(["profile", "add", "gra", "--replace", "--api-url", api.base_url, "--s3-endpoint", moto_endpoint, "--token-command", "false"])[0] == 0
    code, out = run(["profile", "check", "gra"], env={"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    assert code == 1 and "FAILED  AI token        token_command of profile 'gra' exited with status 1" in out


def test_profile_check_of_the_local_profile_in_a_real_process() -> None:
    result = subprocess.run([sys.executable, "-m", "tui", "profile", "check"], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["ok", "ok", "ok"]
    assert "Object storage" in result.stdout and "AI Training" in result.stdout and "AI Deploy" in result.stdout
