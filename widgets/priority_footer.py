"""A footer that keeps what matters when the terminal is narrow.

Textual's footer shows every key and lets the row run off the edge: at 80 columns a panel
loses its last keys, at 60 `? Help` and `q Quit` go too. This one always keeps help and
quit, then takes the other keys in their binding order (each screen binds its most useful
first) while they fit; what does not fit is still bound and listed by `?`. It recomposes
when the width changes, not only when the bindings do.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey  # the footer's own key widget, so keys look the same

ALWAYS = ("help", "quit")  # actions kept at every width: how to find the rest, how to leave


def key_cost(key_display: str, description: str) -> int:
    """Cells a key takes in the footer: ` k Description ` and no gap."""
    return len(key_display) + len(description) + 3


class PriorityFooter(Footer):
    def __init__(self) -> None:
        super().__init__(show_command_palette=False)
        self._width = 0

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._width:
            self._width = event.size.width
            self.call_after_refresh(self.recompose)

    def chosen(self, width: int) -> list[tuple[Binding, bool, str]]:
        """The shown bindings that fit in `width`, in their order, help and quit always among them."""
        seen: set[str] = set()
        shown: list[tuple[Binding, bool, str]] = []
        for _node, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in seen:  # one key per action, as Textual's footer
                seen.add(binding.action)
                shown.append((binding, enabled, tooltip))

        def cost(binding: Binding) -> int:
            return key_cost(self.app.get_key_display(binding), binding.description)

        kept = {binding.action for binding, _enabled, _tooltip in shown if binding.action in ALWAYS}
        budget = width - sum(cost(binding) for binding, _enabled, _tooltip in shown if binding.action in kept)
        for binding, _enabled, _tooltip in shown:
            if binding.action in kept:
                continue
            if cost(binding) > budget:
                break  # strictly by priority: a later, shorter key does not jump the queue
            kept.add(binding.action)
            budget -= cost(binding)
        return [entry for entry in shown if entry[0].action in kept]

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        chosen = self.chosen(self._width or self.app.size.width)
        self.styles.grid_size_columns = len(chosen)
        for binding, enabled, tooltip in chosen:
            yield FooterKey(
                binding.key, self.app.get_key_display(binding), binding.description, binding.action, disabled=not enabled, tooltip=tooltip
            ).data_bind(compact=Footer.compact)
