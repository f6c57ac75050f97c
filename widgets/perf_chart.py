"""The Perf screen's charts, from the levels measured so far (pure rendering).

Latency against load: per level, p50 and p99 as bars on one scale, with the throughput it
reached, so the knee (throughput flat, latency climbing) is where the bars grow. Then the
server's breakdown per level as one stacked bar: queue, compute input, infer, output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.text import Text


@dataclass(frozen=True)
class LevelBars:
    """What the charts draw of one level: its load, throughput, p50/p99, and the server's
    queue, compute input, infer and output per request in µs (None: no statistics)."""

    level: float
    throughput: float
    p50_us: float
    p99_us: float
    server: tuple[float, float, float, float] | None = None


PARTS = (("queue", "yellow", "▒"), ("input", "blue", "█"), ("infer", "cyan", "█"), ("output", "magenta", "█"))


def _bar(value: float, top: float, width: int, style: str, glyph: str = "█") -> Text:
    cells = 0 if top <= 0 else round(value / top * width)
    return Text(glyph * cells, style=style)


def _ms(value_us: float) -> str:
    return f"{value_us / 1000:.1f} ms" if value_us >= 1000 else f"{value_us:.0f} µs"


def latency_chart(results: Sequence[LevelBars], width: int, label: str) -> RenderableType:
    """`label` names the load: conc (concurrency) or rate."""
    if not results:
        return Text("no level measured yet", style="dim")
    top = max(result.p99_us for result in results)
    bar_width = max(8, width - 42)
    rows: list[RenderableType] = [Text.assemble((f"{label:>5}  {'infer/s':>9}  ", "bold"), ("p50 ", "bold green"), ("p99", "bold red"))]
    for r in results:
        p50 = _bar(r.p50_us, top, bar_width, "green")
        p99 = _bar(max(0.0, r.p99_us - r.p50_us), top, bar_width, "red", "▒")
        rows.append(Text.assemble(f"{r.level:>5g}  {r.throughput:>9.1f}  ", p50, p99, f"  {_ms(r.p50_us)} / {_ms(r.p99_us)}"))
    return Group(*rows)


def breakdown_chart(results: Sequence[LevelBars], width: int) -> RenderableType:
    measured = [r for r in results if r.server is not None]
    if not measured:
        return Text("the server's statistics are not available", style="dim")
    top = max(sum(r.server) for r in measured if r.server)
    bar_width = max(8, width - 24)
    legend = Text.assemble(("  server per request: ", "bold"), *[(f"{glyph} {name}  ", style) for name, style, glyph in PARTS])
    rows: list[RenderableType] = [legend]
    for r in measured:
        values = r.server
        assert values is not None
        bars = [_bar(value, top, bar_width, style, glyph) for value, (_name, style, glyph) in zip(values, PARTS, strict=True)]
        rows.append(Text.assemble(f"{r.level:>5g}  ", *bars, f"  {_ms(sum(values))}"))
    return Group(*rows)
