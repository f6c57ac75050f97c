"""One cold start, measured from outside by `startup.py`: build the app, exit on its first frame.

`python bench/startup_probe.py deck` starts triton-deck on the local profile;
`python bench/startup_probe.py bare` starts a bare Textual app with one Static;
`python bench/startup_probe.py panel` starts triton-deck and exits once its first panel is
mounted and focused (it follows the first frame: see `TritonDeck._show_first_panel`).
Both run headless so the terminal does not weigh on either, at one fixed size (80x24): left
to itself the headless driver says 80x24 while Rich's console, with no terminal to ask, says
80x25, and an app whose first layout comes before the driver's resize lays out twice.
"""

from __future__ import annotations

import sys

from textual.app import App, ComposeResult
from textual.widgets import Static


class BareApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("bare")

    def on_ready(self) -> None:
        self.exit()


def run_deck(until_panel: bool) -> None:
    from tui.app import TritonDeck, make_app

    class FirstFrameDeck(TritonDeck):
        def on_ready(self) -> None:
            if not until_panel:
                self.exit()

        async def _show_first_panel(self) -> None:
            await super()._show_first_panel()
            self.exit()

    make_app("local", app_class=FirstFrameDeck).run(headless=True, size=(80, 24))


if __name__ == "__main__":
    if sys.argv[1:] == ["bare"]:
        BareApp().run(headless=True, size=(80, 24))
    elif sys.argv[1:] in (["deck"], ["panel"]):
        run_deck(until_panel=sys.argv[1] == "panel")
    else:
        sys.exit("usage: startup_probe.py bare|deck|panel")
