"""One step of the deploy flow: status, title, time, a line of detail, and what it is showing.

Plain data in; the screen turns the pipeline's records into `StepData`. The status mark
never animates, so a snapshot of a running step is stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.widgets import Static

from services.text import visible

MARKS = {
    "pending": ("○", "dim"),
    "running": ("▶", "bold yellow"),
    "done": ("✓", "bold green"),
    "failed": ("✗", "bold red"),
    "skipped": ("–", "dim"),
}


@dataclass(frozen=True)
class StepData:
    title: str
    status: str
    detail: str = ""
    seconds: float | None = None
    lines: Sequence[str] = ()
    command: str = ""
    extra: RenderableType | None = None  # e.g. the classification table


class StepView(Static, can_focus=True):
    DEFAULT_CSS = """
    StepView {
        height: auto;
        padding: 0 1;
    }

    StepView:focus {
        background: $boost;
    }
    """

    # On the step itself, so the scrolling container around it does not take the arrows first.
    BINDINGS = [
        Binding("j,down", "app.focus_next", "Next step", show=False),
        Binding("k,up", "app.focus_previous", "Previous step", show=False),
    ]

    def show(self, data: StepData, commands: bool) -> None:
        mark, style = MARKS.get(data.status, ("?", ""))
        left = Text.assemble((f"{mark} ", style), (f"{data.title:<22}", "bold" if data.status == "running" else ""))
        left.append(f"{data.seconds:6.1f}s  " if data.seconds is not None else " " * 9, style="dim")
        head = Table.grid()  # a long detail wraps under itself, not back at the first column
        head.add_column(no_wrap=True, width=left.cell_len)
        head.add_column(overflow="fold")
        head.add_row(left, Text(visible(data.detail), style={"failed": "red", "skipped": "dim"}.get(data.status, "")))
        parts: list[RenderableType] = [head]
        parts += [Text("    " + visible(line), style="dim", no_wrap=True, overflow="ellipsis") for line in data.lines]
        if data.extra is not None:
            parts.append(data.extra)
        if commands and data.command:  # whole, wrapped under itself: a command is there to be copied
            command = Table.grid()
            command.add_column(no_wrap=True, width=6)
            command.add_column(overflow="fold")
            command.add_row(Text("    $ ", style="italic cyan"), Text(data.command, style="italic cyan"))
            parts.append(command)
        self.set_class(data.status == "failed", "-failed")
        self.update(Group(*parts))
