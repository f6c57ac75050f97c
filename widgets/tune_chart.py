"""The Tune screen's chart and diff (pure rendering, from plain figures).

Throughput against p99: each measured candidate is its rank's mark placed on a character
grid, up for more throughput and left for less latency, so the front (no candidate both
faster and quicker) is the upper-left edge; its marks are bright, the others dim, and the
config in force is `●`. Beside it, the winner's config.pbtxt diff, coloured as `git diff`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.text import Text

from services.text import visible

MARKS = "123456789abcdefghijklmnopqrstuvwxyz"
CURRENT = "●"


@dataclass(frozen=True)
class TunePoint:
    rank: int  # 1 is the best; 0 is the config in force
    throughput: float
    p99_us: float
    front: bool = False


def mark(rank: int) -> str:
    """The character a rank is drawn with (ranks past 35 share `+`)."""
    if rank == 0:
        return CURRENT
    return MARKS[rank - 1] if rank <= len(MARKS) else "+"


def _scale(value: float, low: float, high: float, cells: int) -> int:
    if high <= low:
        return cells // 2
    return min(cells - 1, max(0, round((value - low) / (high - low) * (cells - 1))))


def tune_chart(points: Sequence[TunePoint], width: int, height: int = 8) -> RenderableType:
    """Throughput (rows, up is more) against p99 (columns, left is less), one mark a candidate."""
    if not points:
        return Text("no candidate measured yet", style="dim")
    plot = max(10, width - 14)
    low_t, high_t = min(p.throughput for p in points), max(p.throughput for p in points)
    low_l, high_l = min(p.p99_us for p in points), max(p.p99_us for p in points)
    grid: list[list[tuple[str, str]]] = [[(" ", "")] * plot for _ in range(height)]
    for point in sorted(points, key=lambda p: (p.front, p.rank == 0, -p.rank)):  # the front and the current config drawn last: on top
        row = height - 1 - _scale(point.throughput, low_t, high_t, height)
        column = _scale(point.p99_us, low_l, high_l, plot)
        style = "bold yellow" if point.rank == 0 else "bold green" if point.front else "dim"
        grid[row][column] = (mark(point.rank), style)
    lines: list[RenderableType] = [Text.assemble(("infer/s", "bold"), "  ", (f"{CURRENT} now", "bold yellow"), "  ", ("front", "bold green"), "  ", ("others", "dim"))]
    for index, cells in enumerate(grid):
        axis = f"{high_t:>9.1f} ┤" if index == 0 else f"{low_t:>9.1f} ┤" if index == height - 1 else f"{'':>9} │"
        lines.append(Text.assemble(axis, *[(char, style) for char, style in cells]))
    low, high = f"{low_l / 1000:.2f} ms", f"{high_l / 1000:.2f} ms p99"
    lines.append(Text(f"{'':>9} └" + "─" * plot))
    lines.append(Text(f"{'':>11}{low}{high:>{max(1, plot - len(low))}}", style="dim"))
    return Group(*lines)


def diff_text(lines: Sequence[str]) -> RenderableType:
    """A unified diff, `+` lines green, `-` red, headers bold; the text itself made inert."""
    if not lines:
        return Text("no winner: the current config stays", style="dim")
    shown = []
    for line in lines:
        style = "bold" if line.startswith(("+++", "---", "@@")) else "green" if line.startswith("+") else "red" if line.startswith("-") else ""
        shown.append(Text(visible(line), style=style))
    return Group(*shown)
