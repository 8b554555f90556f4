"""What to simulate: :class:`SimConfig`, its validation, and parsing command-line strings.

Why it exists: ``hamad simulate``, ``hamad bench`` and the tests all build a config from
strings (durations, ISO start times, ``NAME@OFFSET`` scenarios); the checks and error
messages live here, before anything is drawn.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from ...core.durations import parse_duration
from ...errors import ConfigError
from .scenarios import SCENARIOS

#: The home roster's first devices: a laptop, a phone, an IoT camera, a NAS and a printer.
MIN_HOSTS = 5
#: Hosts live in 10.0.0.0/8 when they do not fit 192.168.1.0/24.
MAX_HOSTS = (1 << 24) - 3
#: Default --start (a Monday evening, UTC).
DEFAULT_START = "2025-06-02T17:00:00Z"


@dataclass(frozen=True)
class ScenarioChoice:
    """An enabled scenario and when it starts (seconds after the capture starts)."""

    name: str
    offset: float


@dataclass(frozen=True)
class SimConfig:
    """What to simulate. :func:`make_config` builds one from command-line strings."""

    seed: int = 0
    connections: int = 10_000
    hosts: int = 16
    duration: float = 3600.0
    start: float = 0.0
    scenarios: tuple[ScenarioChoice, ...] = ()
    fmt: str = "tsv"

    def __post_init__(self) -> None:
        if self.fmt not in ("tsv", "json"):
            raise ConfigError(f"--format must be tsv or json, got {self.fmt!r}")
        if not MIN_HOSTS <= self.hosts <= MAX_HOSTS:
            raise ConfigError(
                f"--hosts must be between {MIN_HOSTS} (a laptop, a phone, an IoT camera, a NAS "
                f"and a printer) and {MAX_HOSTS:,}, got {self.hosts:,}"
            )
        if self.connections < 1:
            raise ConfigError(f"--connections must be at least 1, got {self.connections}")
        if not 1.0 <= self.duration <= 366 * 86400:
            raise ConfigError(
                f"--duration must be between 1 s and 366 days, got {self.duration:g} s"
            )
        if not 1e9 <= self.start <= 9e9:
            raise ConfigError("--start must be between 2001-09-09 and 2255-03-14 (10-digit epoch)")
        for c in self.scenarios:
            if c.name not in SCENARIOS:
                raise ConfigError(f"unknown scenario {c.name!r}{_did_you_mean(c.name)}")
            if not 0 <= c.offset < self.duration:
                raise ConfigError(
                    f"scenario {c.name!r} starts at {c.offset:g} s, outside the "
                    f"{self.duration:g} s capture"
                )
        if self.seed < 0:
            raise ConfigError(f"--seed must be >= 0, got {self.seed}")


def _did_you_mean(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, SCENARIOS, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} (known: {', '.join(SCENARIOS)})"


def parse_start(text: str) -> float:
    """Epoch seconds from an ISO 8601 time (UTC unless it says otherwise) or a number."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        t = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(
            f"--start: expected an ISO time like 2025-06-02T17:00:00Z or epoch seconds, "
            f"got {text!r}"
        ) from exc
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.timestamp()


def parse_scenario(text: str, duration: float) -> ScenarioChoice:
    """``NAME`` (default start) or ``NAME@OFFSET`` with OFFSET like 10m, 90s or 25%."""
    name, _, at = text.partition("@")
    name = name.strip()
    if name not in SCENARIOS:
        raise ConfigError(f"--scenario: unknown scenario {name!r}{_did_you_mean(name)}")
    if not at:
        return ScenarioChoice(name, SCENARIOS[name].start * duration)
    if at.strip().endswith("%"):
        try:
            frac = float(at.strip()[:-1]) / 100.0
        except ValueError as exc:
            raise ConfigError(f"--scenario {text!r}: bad percentage {at!r}") from exc
        return ScenarioChoice(name, frac * duration)
    return ScenarioChoice(name, parse_duration(at, f"--scenario {text!r}"))


def make_config(
    seed: int = 0,
    connections: int = 10_000,
    hosts: int = 16,
    duration: str = "1h",
    start: str = DEFAULT_START,
    scenarios: Sequence[str] = (),
    no_attacks: bool = False,
    fmt: str = "tsv",
) -> SimConfig:
    """A validated :class:`SimConfig` from command-line strings.

    No ``scenarios`` and not ``no_attacks``: every scenario at its default start (those
    with no room for one connection in a very short capture are left out).
    """
    if no_attacks and scenarios:
        raise ConfigError("--no-attacks and --scenario contradict each other; pass one")
    secs = parse_duration(duration, "--duration")
    if no_attacks:
        chosen: tuple[ScenarioChoice, ...] = ()
    elif scenarios:
        chosen = tuple(parse_scenario(s, secs) for s in scenarios)
        names = [c.name for c in chosen]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"--scenario given twice for {', '.join(dup)}")
    else:  # every scenario that has room for a connection in this capture
        chosen = tuple(
            ScenarioChoice(s.name, s.start * secs)
            for s in SCENARIOS.values()
            if secs * (1.0 - s.start) >= s.interval
        )
    return SimConfig(
        seed=seed,
        connections=connections,
        hosts=hosts,
        duration=secs,
        start=parse_start(start),
        scenarios=chosen,
        fmt=fmt,
    )
