"""Resources by what a person types: the app and `demo` show 8-character ids, any unique prefix
works, and so does a name (`job get my-server`), as kubectl takes names."""

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
    """The item whose id is `typed` or starts with it, else the one named `typed`; one line
    naming the candidates when several match, or saying none does (`noun` names the kind
    and its list command). An id prefix wins over a name: ids are what scripts pass."""
    typed = typed.strip()
    if not typed:
        raise UserError(f"no {noun} id given: `triton-deck {noun} list` shows them")
    if len(typed) == FULL_ID_LENGTH:
        return get(typed)
    items = list(listing())
    matches = [item for item in items if item.id.startswith(typed)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        named = [item for item in items if item.name == typed]
        if len(named) == 1:
            return named[0]
        if named:
            ids = ", ".join(item.id[:8] for item in named[:8])
            raise UserError(f"{len(named)} {noun}s are named '{typed}' ({ids}): give the id")
        raise UserError(f"no {noun} id starts with '{typed}' and none is named so: `triton-deck {noun} list` shows them")
    names = ", ".join(f"{item.id[: len(typed) + 4]}… ({item.name})" for item in matches[:8])
    raise UserError(f"'{typed}' matches {len(matches)} {noun}s: {names}; type more of the id")
