"""The app a screen belongs to, typed: mixed into each screen that reads the profile's
services or the config, instead of a `cast("TritonDeck", self.app)` at every use."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from services.backends import ServiceSet
    from tui.app import TritonDeck


class DeckAccess:
    @property
    def deck(self) -> TritonDeck:
        return cast("TritonDeck", self.app)  # type: ignore[attr-defined]

    @property
    def services(self) -> ServiceSet:
        return self.deck.services
