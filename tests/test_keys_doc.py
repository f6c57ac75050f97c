"""KEYS.md is generated from the bindings; this fails as soon as it is stale."""

from pathlib import Path

from tui.keymap import KEYMAP
from tui.keys import key_groups, render_markdown

KEYS_MD = Path(__file__).resolve().parent.parent / "KEYS.md"


def test_keys_md_matches_the_bindings() -> None:
    assert KEYS_MD.read_text() == render_markdown(), "KEYS.md is stale: run `python -m tui.keys > KEYS.md`"


def test_every_group_has_keys_and_the_conventions_are_there() -> None:
    groups = {group.title: {row.keys: row.description for row in group.rows} for group in key_groups()}
    assert all(groups.values())
    everywhere = groups["Everywhere"]
    assert {"1", "2", "3", "4", "? f1", "q", ": ctrl+p"} <= set(everywhere)
    assert groups["Jobs (3)"]["ctrl+d"] == "Delete" and groups["Jobs (3)"]["l"] == "Logs"
    assert groups["Buckets (1)"]["/"] == "Filter" and groups["Buckets (1)"]["esc backspace"] == "Back"


def test_no_key_does_two_things_in_one_view() -> None:
    """A view's own keys and those of the widgets it is made of (as the help shows them)."""
    for group in key_groups():
        keys = [key for row in group.rows for key in row.keys.split(" ")]
        assert len(keys) == len(set(keys)), f"{group.title}: {sorted(key for key in keys if keys.count(key) > 1)}"


def test_every_table_entry_is_some_view_s_keys() -> None:
    """The key table holds no keys that no view takes (a renamed view would leave them behind)."""
    import importlib
    import pkgutil

    import tui.panels
    import tui.screens

    taken = set()
    for package in (tui.panels, tui.screens):
        for module in pkgutil.iter_modules(package.__path__):
            for value in vars(importlib.import_module(f"{package.__name__}.{module.name}")).values():
                bindings = vars(value).get("BINDINGS") if isinstance(value, type) else None
                taken |= {name for name, table in KEYMAP.items() if table is bindings}
    assert taken == set(KEYMAP)
