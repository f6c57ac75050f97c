"""Every key binding of the app, grouped by where it applies: one source for the help
screen and KEYS.md (the lazydocker cheatsheet idea: generated, never hand-edited).

`python -m tui.keys > KEYS.md` regenerates the file; a test fails when it is stale.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType

KEY_NAMES = {
    "escape": "esc",
    "slash": "/",
    "colon": ":",
    "question_mark": "?",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "backspace": "backspace",
}


@dataclass(frozen=True)
class KeyRow:
    keys: str
    description: str


@dataclass(frozen=True)
class KeyGroup:
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
    # Imported here: the panels import screens that import this module's users.
    from tui.app import TritonDeck
    from tui.panels.buckets import BucketsPanel
    from tui.panels.images import ImagesPanel
    from tui.panels.inference import InferencePanel
    from tui.panels.jobs import JobsPanel
    from tui.screens.confirm import ConfirmScreen
    from tui.screens.help import HelpScreen
    from tui.screens.job_detail import JobDetailScreen
    from tui.screens.job_logs import JobLogScreen
    from tui.screens.profiles import ProfileScreen
    from tui.screens.prompt import PromptScreen
    from tui.screens.upload import UploadScreen
    from widgets.filter_bar import FilterBar
    from widgets.log_pane import LogPane
    from widgets.resource_table import ResourceTable

    lists = [*ResourceTable.BINDINGS, *FilterBar.BINDINGS]
    return [
        KeyGroup("Everywhere", _rows(TritonDeck.BINDINGS)),
        KeyGroup("Lists", _rows(lists)),
        KeyGroup("Buckets (1)", _rows(BucketsPanel.BINDINGS)),
        KeyGroup("Images (2)", _rows(ImagesPanel.BINDINGS)),
        KeyGroup("Jobs (3)", _rows(JobsPanel.BINDINGS)),
        KeyGroup("Job logs", _rows([*LogPane.BINDINGS, *JobLogScreen.BINDINGS])),
        KeyGroup("Job detail", _rows(JobDetailScreen.BINDINGS)),
        KeyGroup("Inference (4)", _rows(InferencePanel.BINDINGS)),
        KeyGroup("Upload dialog", _rows(UploadScreen.BINDINGS)),
        KeyGroup("Prompt", _rows(PromptScreen.BINDINGS)),
        KeyGroup("Profile picker", _rows(ProfileScreen.BINDINGS)),
        KeyGroup("Confirmation", _rows(ConfirmScreen.BINDINGS)),
        KeyGroup("Help", _rows(HelpScreen.BINDINGS)),
    ]


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
