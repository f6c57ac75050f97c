"""How many replicas an automatic app wants: the local platform's autoscaler, as AI Deploy's.

The platform's engine is Kubernetes' (HPA/KEDA, `ovh-ai-deploy.md` §5), so this follows its
rules: desired = ceil(current × observed / target) within a 10 % tolerance, clamped to
[min, max]; a scale-up takes the lowest recommendation of the scale-up window, a
scale-down the highest of the scale-down window, so a short spike or dip moves nothing.
A custom metric is read from each replica (`<SELF>` is the replica) and combined with its
aggregation; with SUM the total is divided by the target instead.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ElementTree
from collections import deque
from collections.abc import Sequence

from services.apps.protocol import AutomaticScaling
from services.errors import UserError

TOLERANCE = 0.1
_SELECTOR = re.compile(r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)(?:\{(?P<labels>.*)\})?$")
_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def _labels(text: str) -> dict[str, str]:
    return {name: value for name, value in _LABEL.findall(text or "")}


def prometheus_value(text: str, selector: str) -> float | None:
    """The first series named as in `selector` whose labels include the selector's, exactly
    (KEDA's rule: no regex matchers, first match wins)."""
    wanted = _SELECTOR.match(selector.strip())
    if wanted is None:
        raise UserError(f"metric selector '{selector}' is not name or name{{label=\"value\"}}")
    name, labels = wanted["name"], _labels(wanted["labels"] or "")
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "{" in line:
            series_name, _, rest = line.partition("{")
            series_labels, _, value_part = rest.rpartition("}")
        else:
            series_name, _, value_part = line.partition(" ")
            series_labels = ""
        fields = value_part.split()
        if series_name != name or not fields or not labels.items() <= _labels(series_labels).items():
            continue
        try:
            return float(fields[0])
        except ValueError:
            return None
    return None


def _path_value(document: object, path: str) -> float | None:
    for part in [p for p in path.split(".") if p]:
        if isinstance(document, list) and part.isdigit() and int(part) < len(document):
            document = document[int(part)]
        elif isinstance(document, dict) and part in document:
            document = document[part]
        else:
            return None
    try:
        return float(document)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def metric_value(body: str, format: str, location: str) -> float | None:
    """The number at `location` in a replica's answer; None when it holds none."""
    kind = format.upper()
    if kind == "PROMETHEUS":
        return prometheus_value(body, location)
    if kind == "JSON":
        try:
            return _path_value(json.loads(body), location)
        except ValueError:
            return None
    if kind == "XML":
        try:
            node: ElementTree.Element | None = ElementTree.fromstring(body)
        except ElementTree.ParseError:
            return None
        for part in [p for p in location.split(".") if p][1:]:  # the first part names the root
            node = node.find(part) if node is not None else None
        return _path_value(node.text if node is not None else None, "")
    raise UserError(f"metric format {format}: the local platform reads PROMETHEUS, JSON or XML")


def aggregate(values: Sequence[float], kind: str) -> float:
    if not values:
        return 0.0
    match kind.upper():
        case "MIN":
            return min(values)
        case "MAX":
            return max(values)
        case "SUM":
            return sum(values)
        case _:
            return sum(values) / len(values)


def raw_desired(current: int, observed: float, target: float, total: bool = False) -> int:
    """HPA's formula (`total`: `observed` is a sum over replicas, as KEDA's AverageValue)."""
    if target <= 0:
        return current
    ratio = observed / target
    if total:
        return math.ceil(ratio)
    if current > 0 and abs(ratio - 1) <= TOLERANCE:
        return current
    return math.ceil(current * ratio)


class Recommender:
    """Recommendations over time, turned into a replica count with the stabilization windows."""

    def __init__(self) -> None:
        self._history: deque[tuple[float, int]] = deque()

    def desired(self, now: float, current: int, observed: float | None, scaling: AutomaticScaling) -> int:
        if observed is None:  # nothing measured (no replica answers): stay as is
            return max(scaling.replicas_min, min(current, scaling.replicas_max))
        target = scaling.target or 0.0
        total = scaling.custom_metric is not None and scaling.custom_metric.aggregation.upper() == "SUM"
        wanted = max(max(scaling.replicas_min, 1), min(raw_desired(max(current, 1), observed, target, total), scaling.replicas_max))
        self._history.append((now, wanted))
        keep = max(scaling.scale_up_window_s, scaling.scale_down_window_s)
        while self._history and self._history[0][0] < now - keep:
            self._history.popleft()
        if wanted > current:
            window = [count for at, count in self._history if at >= now - scaling.scale_up_window_s]
            return max(current, min(window or [wanted]))
        if wanted < current:
            window = [count for at, count in self._history if at >= now - scaling.scale_down_window_s]
            return min(current, max(window or [wanted]))
        return current
