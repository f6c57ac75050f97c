"""Resources by what a person types: the app and `demo` show 8-character ids, any unique prefix works."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

from services.errors import UserError

FULL_ID_LENGTH = 36


class Named(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=Named)


def by_prefix(typed: str, get: Callable[[str], T], listing: Callable[[], Iterable[T]], noun: str) -> T:
    """The item whose id is `typed` or starts with it; one line naming the candidates when
    several do, or saying none does (`noun` names the kind and its list command)."""
    typed = typed.strip()
    if not typed:
        raise UserError(f"no {noun} id given: `triton-deck {noun} list` shows them")
    if len(typed) == FULL_ID_LENGTH:
        return get(typed)
    matches = [item for item in listing() if item.id.startswith(typed)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UserError(f"no {noun} id starts with '{typed}': `triton-deck {noun} list` shows them")
    names = ", ".join(f"{item.id[: len(typed) + 4]}… ({item.name})" for item in matches[:8])
    raise UserError(f"'{typed}' matches {len(matches)} {noun}s: {names}; type more of the id")
