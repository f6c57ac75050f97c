from datetime import timedelta

import pytest

from services.fake_set import FROZEN_NOW
from services.units import human_age, human_size


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (387, "387 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (32_715_571, "31.2 MiB"), (5 * 1024**3, "5.0 GiB")],
)
def test_human_size_as_ovhai_prints_it(size: int, text: str) -> None:
    assert human_size(size) == text


@pytest.mark.parametrize(("seconds", "text"), [(5, "5s"), (59, "59s"), (60, "1m"), (3 * 3600 + 5, "3h"), (2 * 86400, "2d"), (-3, "0s")])
def test_human_age(seconds: int, text: str) -> None:
    assert human_age(FROZEN_NOW, FROZEN_NOW + timedelta(seconds=seconds)) == text


def test_json_documents_use_the_apis_camel_case_and_plans_load_in_either_spelling() -> None:
    from services.json_keys import camel, camel_keys, snake
    from services.pipeline.plan import DeployPlan

    assert [camel(name) for name in ("last_modified", "s3 endpoint", "p99_us", "latencyMs")] == ["lastModified", "s3Endpoint", "p99Us", "latencyMs"]
    assert snake("serverImage") == "server_image" and snake("top_k") == "top_k"
    assert camel_keys({"a_b": [{"c_d": 1}]}) == {"aB": [{"cD": 1}]}
    plan = DeployPlan(repository="/r", bucket="b@LOCAL", top_k=5)
    written = plan.to_json()
    assert "topK" in written and "serverImage" in written and not any("_" in key for key in written)
    assert DeployPlan.from_json(written) == plan
    older = {key if key not in ("topK", "serverImage") else snake(key) for key in written}
    assert DeployPlan.from_json({snake(key) if key in older else key: value for key, value in written.items()}) == plan, "a snake_case plan still loads"
