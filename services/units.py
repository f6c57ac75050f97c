"""Human-readable sizes and durations, formatted the way ovhai and docker print them."""

from __future__ import annotations

from datetime import datetime, timedelta

_BINARY_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(size: int) -> str:
    """`387 B`, `31.2 MiB`: bytes below 1 KiB, else one decimal in binary units."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in _BINARY_UNITS:
        value /= 1024
        if value < 1024 or unit == _BINARY_UNITS[-1]:
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def human_age(since: datetime, now: datetime) -> str:
    """k9s-style age: `45s`, `12m`, `3h`, `2d`."""
    seconds = max(0, int((now - since) / timedelta(seconds=1)))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """Seconds from `90`, `30s`, `15m`, `1h` or `7d`, as `ovhai job run --timeout` takes them."""
    from services.errors import UserError

    value = text.strip().lower()
    unit = value[-1:] if value[-1:] in _DURATION_UNITS else "s"
    number = value[:-1] if value[-1:] in _DURATION_UNITS else value
    if not number.isdigit() or int(number) <= 0:
        raise UserError(f"duration '{text}' is not valid: write it as 30s, 15m, 1h or 7d")
    return int(number) * _DURATION_UNITS[unit]
