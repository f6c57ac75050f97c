"""A model's statistics over the last minutes, for the server and for each app replica.

Triton's counters are cumulative, so a sample is what happened between two readings of one
source (the server as its URL reaches it, or one replica by its own address). Each source
keeps its last reading and a bounded run of samples; a replica that is gone is forgotten,
and a reading that goes backwards (a replica restarted) starts its source over instead of
charting a negative rate.
"""

from __future__ import annotations

from collections import deque

from services.inference.stats import ModelStats
from services.perf.stats import StatsSample, stats_sample

SERVER = ""  # the source name of the server as a whole


class StatsHistory:
    def __init__(self, size: int) -> None:
        self._size = size
        self._last: dict[str, tuple[ModelStats, float]] = {}
        self._samples: dict[str, deque[StatsSample]] = {}

    def add(self, source: str, stats: ModelStats, at: float) -> None:
        """A reading of `source` at monotonic second `at`."""
        previous = self._last.get(source)
        self._last[source] = (stats, at)
        if previous is None or at <= previous[1]:
            return
        if stats.phase("success").count < previous[0].phase("success").count:  # restarted: counters from zero
            self._samples.pop(source, None)
            return
        self._samples.setdefault(source, deque(maxlen=self._size)).append(stats_sample(previous[0], stats, at - previous[1]))

    def keep_only(self, sources: set[str]) -> None:
        """Forget the replicas that are gone (the server's own source always stays)."""
        for source in [name for name in self._last if name != SERVER and name not in sources]:
            self._last.pop(source, None)
            self._samples.pop(source, None)

    def samples(self, source: str = SERVER) -> list[StatsSample]:
        return list(self._samples.get(source, ()))

    def last(self, source: str = SERVER) -> ModelStats | None:
        reading = self._last.get(source)
        return reading[0] if reading else None

    @property
    def replicas(self) -> list[str]:
        """The replicas with at least one sample, by name."""
        return sorted(name for name in self._samples if name != SERVER)
