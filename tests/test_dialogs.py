"""Every dialog and form says how to submit and cancel on its bottom line, and opens with its
first field focused, so what is typed goes into the form and never to the app's keys."""

from __future__ import annotations

import pytest
from textual.widgets import Input, TextArea

from tests.conftest import fake_app, settle
from widgets.key_hint import DialogFooter


@pytest.mark.parametrize(
    ("keys", "footer"),
    [
        pytest.param(("3", "n"), "esc Cancel · ctrl+s Run", id="job-run-form"),
        pytest.param(("5", "n"), "esc Cancel · ctrl+s Run", id="app-run-form"),
        pytest.param(("5", "j", "s"), "enter/ctrl+s Apply · esc Cancel", id="app-scale"),
        pytest.param(("0", "e"), "ctrl+s Keep · esc Cancel", id="deploy-plan"),
        pytest.param(("2", "e"), "ctrl+s Keep · ctrl+o In $EDITOR · esc Cancel", id="dockerfile-editor"),
        pytest.param(("4", "down", "down", "enter", "I"), "enter/ctrl+s Send · esc Cancel", id="infer-form"),
        pytest.param(("4", "e"), "enter OK · esc Cancel", id="prompt"),
        pytest.param(("p", "a"), "esc Cancel · ctrl+s Save · ctrl+t Kind", id="profile-form"),
    ],
)
async def test_a_dialog_shows_its_keys_and_takes_what_is_typed(keys: tuple[str, ...], footer: str) -> None:
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        assert str(app.screen.query_one(DialogFooter).render()) == footer
        field = app.focused
        assert isinstance(field, Input | TextArea), f"{type(field).__name__} has the focus, not the first field"
        before = field.value if isinstance(field, Input) else field.text
        await pilot.press("z", "1")
        await pilot.pause()
        after = field.value if isinstance(field, Input) else field.text
        assert "z1" in after and after != before, "the keys went into the field"
        assert app.screen is not app.screen_stack[0], "the dialog is still open: no key reached the app"
