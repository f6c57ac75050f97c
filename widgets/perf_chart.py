"""The Perf screen's charts, from the levels measured so far (pure rendering).

Latency against load: per level, p50 and p99 as bars on one scale, with the throughput it
reached, so the knee (throughput flat, latency climbing) is where the bars grow. Then the
server's breakdown per level as one stacked bar: queue, compute input, infer, output.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.text import Text

from services.perf.sweep import LevelResult

PARTS = (("queue", "yellow", "▒"), ("input", "blue", "█"), ("infer", "cyan", "█"), ("output", "magenta", "█"))


def _bar(value: float, top: float, width: int, style: str, glyph: str = "█") -> Text:
    cells = 0 if top <= 0 else round(value / top * width)
    return Text(glyph * cells, style=style)


def _ms(value_us: float) -> str:
    return f"{value_us / 1000:.1f} ms" if value_us >= 1000 else f"{value_us:.0f} µs"


def latency_chart(results: Sequence[LevelResult], width: int) -> RenderableType:
    if not results:
        return Text("no level measured yet", style="dim")
    top = max(result.p99_us for result in results)
    bar_width = max(8, width - 42)
    label = "rate" if results[0].mode == "rate" else "conc"
    rows: list[RenderableType] = [Text.assemble((f"{label:>5}  {'infer/s':>9}  ", "bold"), ("p50 ", "bold green"), ("p99", "bold red"))]
    for r in results:
        p50 = _bar(r.p50_us, top, bar_width, "green")
        p99 = _bar(max(0.0, r.p99_us - r.p50_us), top, bar_width, "red", "▒")
        rows.append(Text.assemble(f"{r.level:>5g}  {r.throughput:>9.1f}  ", p50, p99, f"  {_ms(r.p50_us)} / {_ms(r.p99_us)}"))
    return Group(*rows)


def breakdown_chart(results: Sequence[LevelResult], width: int) -> RenderableType:
    measured = [r for r in results if r.server is not None]
    if not measured:
        return Text("the server's statistics are not available", style="dim")
    top = max(r.server.server_us for r in measured if r.server)
    bar_width = max(8, width - 24)
    legend = Text.assemble(("  server per request: ", "bold"), *[(f"{glyph} {name}  ", style) for name, style, glyph in PARTS])
    rows: list[RenderableType] = [legend]
    for r in measured:
        server = r.server
        assert server is not None
        values = (server.queue_us, server.compute_input_us, server.compute_infer_us, server.compute_output_us)
        bars = [_bar(value, top, bar_width, style, glyph) for value, (_name, style, glyph) in zip(values, PARTS, strict=True)]
        rows.append(Text.assemble(f"{r.level:>5g}  ", *bars, f"  {_ms(server.server_us)}"))
    return Group(*rows)
