"""The autoscaler's arithmetic and the metric readers, as AI Deploy documents them (§5)."""

from __future__ import annotations

import pytest

from services.apps.autoscale import Recommender, aggregate, metric_value, prometheus_value, raw_desired
from services.apps.protocol import AutomaticScaling, CustomMetric
from services.errors import UserError

METRICS = """# HELP nv_inference_pending_request_count Instantaneous number of pending requests
# TYPE nv_inference_pending_request_count gauge
nv_inference_pending_request_count{model="densenet",version="1"} 9
nv_inference_pending_request_count{model="simple",version="1"} 3
nv_gpu_utilization{gpu_uuid="GPU-1"} 0.5
"""


def test_prometheus_selectors_match_labels_exactly_and_take_the_first_series() -> None:
    assert prometheus_value(METRICS, 'nv_inference_pending_request_count{model="simple"}') == 3
    assert prometheus_value(METRICS, "nv_inference_pending_request_count") == 9
    assert prometheus_value(METRICS, 'nv_inference_pending_request_count{model="simp"}') is None
    assert prometheus_value(METRICS, "nv_gpu_utilization") == 0.5
    with pytest.raises(UserError, match="selector"):
        prometheus_value(METRICS, "not a selector!")


def test_json_and_xml_paths() -> None:
    assert metric_value('{"queue": {"depth": [1, 7]}}', "JSON", "queue.depth.1") == 7
    assert metric_value("<stats><queue>5</queue></stats>", "XML", "stats.queue") == 5
    assert metric_value('{"queue": "busy"}', "JSON", "queue") is None
    with pytest.raises(UserError, match="PROMETHEUS, JSON or XML"):
        metric_value("a: 1", "YAML", "a")


def test_hpa_formula_with_its_tolerance_and_sum_as_a_total() -> None:
    assert raw_desired(2, 150, 75) == 4  # twice the target: twice the replicas
    assert raw_desired(2, 80, 75) == 2  # within 10 %
    assert raw_desired(4, 10, 75) == 1
    assert raw_desired(1, 9, 4, total=True) == 3  # a SUM over replicas, divided by the target
    assert aggregate([1, 5, 3], "MAX") == 5 and aggregate([1, 5, 3], "AVERAGE") == 3 and aggregate([], "SUM") == 0


def test_stabilization_windows_hold_back_a_spike_and_a_dip() -> None:
    scaling = AutomaticScaling(1, 5, "CPU", 50, scale_up_window_s=10, scale_down_window_s=30)
    recommender = Recommender()
    assert recommender.desired(0, 1, 20, scaling) == 1
    assert recommender.desired(5, 1, 200, scaling) == 1, "a spike inside the up window moves nothing"
    assert recommender.desired(11, 1, 200, scaling) == 4, "sustained over the window: up"
    assert recommender.desired(12, 4, 10, scaling) == 4, "a dip inside the down window moves nothing"
    assert recommender.desired(50, 4, 10, scaling) == 1, "low for the whole window: down to the floor"
    assert recommender.desired(51, 1, 10_000, AutomaticScaling(1, 3, "CPU", 50)) == 3, "clamped to the max"
    assert recommender.desired(52, 2, None, scaling) == 2, "nothing measured: stay"


def test_a_custom_metric_summed_scales_on_the_total() -> None:
    queue = CustomMetric("http://<SELF>:8002/metrics", "nv_inference_pending_request_count", 4.0, aggregation="SUM")
    assert Recommender().desired(0, 1, 12, AutomaticScaling(1, 10, None, None, queue)) == 3
