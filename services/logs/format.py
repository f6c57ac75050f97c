"""The shape of a job log line as `ovhai job logs` prints it: `<UTC time>Z [source] text`.

Lines without that prefix (progress bars redrawn with `\\r`, wrapped output) belong to
no source and have no time; filters keep them only when showing every source.
"""

from __future__ import annotations

import re

JOB_SOURCE = "job"
_PREFIX = re.compile(r"(\d{4}-\d\d-\d\dT[\d:.]+Z) \[([\w.-]+)\] ")


def source_of(line: str) -> str | None:
    match = _PREFIX.match(line)
    return match.group(2) if match else None


def without_time(line: str) -> str:
    """The line minus its timestamp, keeping the `[source]` tag."""
    match = _PREFIX.match(line)
    return line[match.start(2) - 1 :] if match else line


def last_frame(line: str) -> str:
    """What a terminal shows for a line redrawn with `\\r`: the text after the last one."""
    if "\r" not in line:
        return line
    frames = [frame for frame in line.split("\r") if frame]
    if not frames:
        return ""
    match = _PREFIX.match(line)
    final = frames[-1]
    # A progress bar redraws after the prefix: keep the prefix of the line for the last frame.
    return line[: match.end()] + final if match and not _PREFIX.match(final) and final is not frames[0] else final
