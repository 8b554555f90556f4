"""Durations as people write them: ``90s``, ``10m``, ``30min``, ``6h``, ``1d``, ``2w``.

One parser for every place that takes a duration (the learning period in the
settings and from Zeek, ``hamad simulate --duration`` and scenario offsets), so
a value one command accepts is never refused by another.
"""

from __future__ import annotations

import math
import re

from ..errors import ConfigError

_UNITS = {"": 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hr": 3600.0,
          "d": 86400.0, "day": 86400.0, "days": 86400.0, "w": 604800.0}  # fmt: skip
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-z]*)\s*$")


def parse_duration(text: str | float, what: str = "") -> float:
    """Seconds >= 0 in ``"90s"``, ``"30min"``, ``"6h"``, ``"1d"``, ``"2w"`` or a plain number.

    ``what`` names the setting in the error (``--duration``), so the message
    says which value was refused.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        m = _DURATION.match(str(text).lower())
        if m is None or m.group(2) not in _UNITS:
            where = f"{what}: " if what else ""
            raise ConfigError(f"{where}{text!r} is not a duration; use e.g. 90s, 10m, 6h, 1d or 2w")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigError(f"{what + ': ' if what else ''}{text!r} is not a duration >= 0")
    return seconds


def format_duration(seconds: float) -> str:
    """Short human form: ``1d``, ``6h``, ``30min``, ``90s``."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
