"""How the CLI writes untrusted text: inert on a terminal, byte for byte into pipes and files.

Keys, job output and server messages may carry escape sequences; on a terminal they are
shown (`^[`), never obeyed. Redirected (`job logs ID > file`, `| grep`), the bytes are
what the job printed. A table cell is one line wherever it goes: `row_cell` shows a
newline or tab inside a key even in a pipe, so no key can forge a row (`-o json` keeps
keys exact).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from services.text import encodable, visible


def on_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def shown(text: str, stream: TextIO) -> str:
    return visible(text, keep="\n\t") if on_terminal(stream) else encodable(text)


def row_cell(text: str) -> str:
    return text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def warn(text: str) -> None:
    """A line for the user on stderr (errors, per-file failures, notes)."""
    print(shown(text, sys.stderr), file=sys.stderr)


def aligned(header: Sequence[str], rows: Sequence[Sequence[str]], right: frozenset[int] = frozenset()) -> list[str]:
    """A table whose columns are as wide as their widest cell, as kubectl prints one: a long
    image name or job name widens its column instead of pushing the rest out of line.
    `right` holds the indexes of numeric columns; the last column is never padded."""
    cells = [list(header), *[[row_cell(cell) for cell in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    last = len(header) - 1
    return [
        " ".join(cell if i == last else cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in cells
    ]
