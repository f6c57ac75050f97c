"""Every key binding of the app, grouped by where it applies: one source for the help
screen and KEYS.md (the lazydocker cheatsheet idea: generated, never hand-edited).

`python -m tui.keys > KEYS.md` regenerates the file; a test fails when it is stale.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from textual.binding import Binding, BindingType

if TYPE_CHECKING:
    from tui.panel_registry import PanelEntry, ScreenEntry

KEY_NAMES = {
    "escape": "esc",
    "slash": "/",
    "colon": ":",
    "question_mark": "?",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "backspace": "backspace",
    "ampersand": "&",
}


class KeyRow(NamedTuple):
    keys: str
    description: str


class KeyGroup(NamedTuple):
    title: str
    rows: tuple[KeyRow, ...]


def key_display(key: str) -> str:
    return " ".join(KEY_NAMES.get(part, part) for part in key.split(","))


def _rows(bindings: list[BindingType]) -> tuple[KeyRow, ...]:
    rows: list[KeyRow] = []
    for binding in bindings:
        if not isinstance(binding, Binding):
            continue
        rows.append(KeyRow(key_display(binding.key), binding.description or binding.action))
    return tuple(rows)


def key_groups() -> list[KeyGroup]:
    """The app's keys, the list keys, then each panel and each screen of the view registry."""
    # Imported here: the panels import screens that import this module's users.
    from tui.app import TritonDeck
    from tui.panel_registry import PANEL_ENTRIES, SCREEN_ENTRIES
    from widgets.filter_bar import FilterBar
    from widgets.resource_table import ResourceTable

    groups = [KeyGroup("Everywhere", _rows(TritonDeck.BINDINGS)), KeyGroup("Lists", _rows([*ResourceTable.BINDINGS, *FilterBar.BINDINGS]))]
    groups += [KeyGroup(panel_group_title(panel), _rows(panel.load().BINDINGS)) for panel in PANEL_ENTRIES]
    for screen in SCREEN_ENTRIES:
        bindings = [binding for source in screen.binding_sources() for binding in getattr(source, "BINDINGS", ())]
        groups.append(KeyGroup(screen_group_title(screen), _rows(bindings)))
    return groups


def panel_group_title(panel: PanelEntry) -> str:
    return f"{panel.title} ({panel.key})"


def screen_group_title(screen: ScreenEntry) -> str:
    return f"{screen.title} ({screen.key})" if screen.key else screen.title


def current_group_title(screen: object, panel: str) -> str | None:
    """The help group of what the user is looking at: `screen` (if the registry lists its
    class), else the shown panel `panel`."""
    from tui.panel_registry import PANEL_ENTRIES, SCREEN_ENTRIES

    for entry in SCREEN_ENTRIES:
        if type(screen) is entry.binding_sources()[0]:
            return screen_group_title(entry)
    return next((panel_group_title(entry) for entry in PANEL_ENTRIES if entry.name == panel), None)


def render_markdown() -> str:
    lines = [
        "# triton-deck keys",
        "",
        "Generated from the bindings by `python -m tui.keys > KEYS.md`; do not edit by hand.",
    ]
    for group in key_groups():
        lines += ["", f"## {group.title}", "", "| key | action |", "|---|---|"]
        lines += [f"| `{row.keys}` | {row.description} |" for row in group.rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
