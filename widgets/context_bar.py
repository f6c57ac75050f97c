"""The k9s-style context header: which profile, region and endpoint every action targets."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static


class ContextBar(Static):
    """One line: app name, profile, region, endpoint and the active panel."""

    profile: reactive[str] = reactive("local")
    region_code: reactive[str] = reactive("LOCAL")
    endpoint: reactive[str] = reactive("")
    panel: reactive[str] = reactive("")
    age: reactive[str] = reactive("")  # how old the panel's rows are: "refreshed 4s ago"

    def render(self) -> Text:
        text = Text.assemble(
            ("triton-deck", "bold"),
            "  profile ",
            (self.profile, "bold"),
            "  region ",
            (self.region_code, "bold"),
        )
        if self.endpoint:
            text.append("  ")
            text.append(self.endpoint, style="dim")
        if self.panel:
            text.append("  │ ")
            text.append(self.panel, style="bold")
        if self.age:
            text.append(f"  {self.age}", style="dim")
        return text
