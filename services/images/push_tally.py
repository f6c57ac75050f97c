"""The state of a push or a pull, layer by layer, from its `LayerProgress` events: what bars are drawn from.

Engines report `current` beyond `total` for tiny layers and repeat statuses; the tally
clamps and keeps order of first appearance, so the CLI's bars and the panel's agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.images.protocol import LayerProgress

# Push and pull alike: a layer is done once sent, found, mounted, or pulled and unpacked.
DONE_STATUSES = ("Pushed", "Layer already exists", "Mounted from", "Already exists", "Pull complete")


@dataclass
class LayerState:
    layer_id: str
    status: str
    current: int = 0
    total: int | None = None

    @property
    def done(self) -> bool:
        return self.status.startswith(DONE_STATUSES)

    @property
    def fraction(self) -> float:
        if self.done:
            return 1.0
        if self.total:
            return min(1.0, self.current / self.total)
        return 0.0


class PushTally:
    def __init__(self) -> None:
        self.layers: dict[str, LayerState] = {}

    def apply(self, event: LayerProgress) -> LayerState:
        layer = self.layers.setdefault(event.layer_id, LayerState(event.layer_id, event.status))
        layer.status = event.status
        if event.total:
            layer.total = event.total
        if event.current is not None:
            layer.current = event.current
        return layer

    @property
    def bytes_known(self) -> tuple[int, int]:
        """(done, total) over layers whose size the engine reported."""
        sized = [layer for layer in self.layers.values() if layer.total]
        total = sum(layer.total or 0 for layer in sized)
        return sum(round(layer.fraction * (layer.total or 0)) for layer in sized), total

    @property
    def layers_done(self) -> int:
        return sum(layer.done for layer in self.layers.values())
