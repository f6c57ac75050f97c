"""Sparklines as Rich text: one cell per sample, eight heights, newest on the right.

Hand-drawn rather than a plotting dependency (textual-plotext and the like): a row of block
characters reads at 80×24, survives NO_COLOR (the shape is in the glyphs, not the colour),
takes the theme's colours from styles, and snapshots byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text

BARS = " ▁▂▃▄▅▆▇█"


def cell(value: float, top: float) -> str:
    if top <= 0:
        return BARS[0]
    return BARS[max(0, min(len(BARS) - 1, round(value / top * (len(BARS) - 1))))]


def sparkline(values: Sequence[float | None], width: int, top: float | None = None, style: Callable[[float], str] | str = "cyan") -> Text:
    """The last `width` values; None is a gap (·). `top` is the full-height value (default: the largest)."""
    shown = list(values)[-max(1, width) :]
    measured = [value for value in shown if value is not None]
    ceiling = top if top is not None else max(measured, default=0.0)
    line = Text()
    for value in shown:
        if value is None:
            line.append("·", style="dim")
        else:
            line.append(cell(value, ceiling), style=style(value) if callable(style) else style)
    return line
