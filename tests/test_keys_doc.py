"""KEYS.md is generated from the bindings; this fails as soon as it is stale."""

from pathlib import Path

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
