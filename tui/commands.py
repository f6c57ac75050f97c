"""The command palette's one provider: the app's commands in the order it gives them (the
shown panel's actions first; Textual's own provider sorts them by name, which puts another
panel's "Back" on top), and k9s-style aliases: `:jobs`, `:job` or `:j` goes to Jobs.
"""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.panel_registry import PANEL_ENTRIES

if TYPE_CHECKING:
    from tui.app import TritonDeck

EXTRA_ALIASES = {"images": ("img", "image"), "inference": ("infer", "inf", "models"), "buckets": ("bucket", "b", "s3")}


def aliases() -> dict[str, str]:
    """alias → panel name (or "deploy"): each panel's name, singular and first letter, and a few more."""
    table: dict[str, str] = {"deploy": "deploy", "0": "deploy"}
    for panel in PANEL_ENTRIES:
        for alias in (panel.name, panel.name.rstrip("s"), panel.name[0], panel.key, *EXTRA_ALIASES.get(panel.name, ())):
            table.setdefault(alias, panel.name)
    return table


class DeckCommands(Provider):
    @property
    def deck(self) -> TritonDeck:
        return cast("TritonDeck", self.app)

    async def discover(self) -> Hits:
        for command in self.deck.get_system_commands(self.screen):
            if command.discover:
                yield DiscoveryHit(command.title, command.callback, help=command.help)

    async def search(self, query: str) -> Hits:
        word = query.strip().lstrip(":").strip().lower()
        top = math.inf  # above any fuzzy score (Textual's are not capped at 1): an exact alias comes first
        target = aliases().get(word)
        if target == "deploy":
            yield Hit(top, f":{word}  Deploy", self.deck.action_deploy, help="The whole tutorial as one flow (key 0)")
        elif target is not None:
            title = next(panel.title for panel in PANEL_ENTRIES if panel.name == target)
            yield Hit(top, f":{word}  {title}", partial(self.deck.action_show_panel, target), help=f"Go to {title}")
        matcher = self.matcher(query)
        for command in self.deck.get_system_commands(self.screen):
            if (match := matcher.match(command.title)) > 0:
                yield Hit(match, matcher.highlight(command.title), command.callback, help=command.help)
