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
