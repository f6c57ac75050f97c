"""A string type for secrets that cannot leak by accident.

`Secret` hides its value from `str`, `repr`, f-strings and dataclass reprs; code that
really needs the value (an HTTP header, a boto3 client) calls `reveal()`. Every secret
value ever wrapped is remembered so `redact()` can scrub it from any text headed for a
screen, a log line or an exception message, even text produced by a third-party library.
"""

from __future__ import annotations

import threading

MASK = "****"
_MIN_REDACTED_LENGTH = 4

_known_lock = threading.Lock()
_known_values: set[str] = set()


class Secret:
    """A secret value whose every string form is masked."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        if len(value) >= _MIN_REDACTED_LENGTH:
            with _known_lock:
                _known_values.add(value)

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __str__(self) -> str:
        return MASK if self._value else ""

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def redact(text: str) -> str:
    """Replace every known secret value in `text` with the mask."""
    with _known_lock:
        values = sorted(_known_values, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text
