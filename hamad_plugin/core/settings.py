"""Worker configuration: one YAML file, validated, with CLI flags on top.

Precedence: built-in defaults < YAML file (``--config``) < command-line
flags. Unknown keys are errors with a "did you mean" hint, because a typo in
a security tool's config should never silently fall back to a default.

Example (``packaging/hamad.yaml``)::

    model: models/default
    threshold: {mode: adaptive, override: null}
    features: {local_networks: [192.168.0.0/16], max_keys: 200000}
    serve: {transport: auto, host: 127.0.0.1, port: 47761}
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from .durations import parse_duration
from .networks import DEFAULT_LOCAL_NETWORKS
from .threshold import MODES

#: The ways ``hamad serve`` reaches Zeek (``HAMAD::transport``); the one list of their names.
#: ``auto`` asks Zeek which of the other two it listens with.
TRANSPORTS: tuple[str, ...] = ("auto", "broker", "websocket")

#: Zeek's default ``HAMAD::heartbeat_timeout`` (main.zeek): heartbeats must come at
#: least twice within it, or Zeek declares the worker unavailable between two of them.
ZEEK_HEARTBEAT_TIMEOUT = 10.0


@dataclass(frozen=True)
class ThresholdSettings:
    """Run-time threshold knobs (calibration itself lives in the model)."""

    mode: str = "adaptive"
    override: float | None = None


@dataclass(frozen=True)
class FeatureSettings:
    """Deployment-specific feature settings."""

    local_networks: tuple[str, ...] = DEFAULT_LOCAL_NETWORKS
    max_keys: int = 100_000


@dataclass(frozen=True)
class LearningSettings:
    """Learning the deployment (what is learned and why: :mod:`hamad_plugin.scoring.learning`)."""

    #: How long to learn, in network time from the first connection: ``"1d"``, ``"6h"``,
    #: ``"30min"``, ``"90s"`` or seconds; ``"0"`` turns learning off. Zeek's
    #: ``HAMAD::learning_period`` replaces it once Zeek sends it.
    period: str = "1d"
    #: Where ``hamad serve`` keeps the learned state ("" = $XDG_STATE_HOME/hamad,
    #: else ~/.local/state/hamad).
    state_dir: str = ""
    #: Connections that both supervised members (rf, xgb) score at least this high
    #: are kept out of everything learned.
    guard: float = 0.5
    #: Clean connections a service needs during learning before it is familiar.
    min_count: int = 3
    #: Connections per 10 s from one client up to which a familiar service stays
    #: familiar however busy; above it, only up to e x the busiest rate learned.
    rate_floor: float = 50.0
    #: Also never learn or make familiar a *periodic* pair to a rare responder (a beacon's
    #: signature). Off by default: benign keep-alives are periodic too, and on the
    #: simulator it cost 364 instead of 201 false alarms per 10,000 after learning for a
    #: heartbeat the model flags 10 % of anyway (docs/loco.md, "Behaviour guards").
    guard_periodic: bool = False
    #: Services remembered; the least recently seen are forgotten first.
    max_services: int = 100_000
    #: Seconds between saves of the learned state (``hamad serve``).
    save_interval: float = 60.0
    #: Also adapt the threshold to the site's score distribution. Off: once a site
    #: is being learned its familiar services take the false alarms away, and an
    #: adaptive threshold fed by attack-heavy traffic rises and hides the attack
    #: (IoT-23 34-1: recall 12 % adaptive vs 92 % fixed at the same false alarms;
    #: docs/loco.md).
    adapt_threshold: bool = False


@dataclass(frozen=True)
class ServeSettings:
    """``hamad serve``: how it reaches Zeek and how its loop behaves (the one set of defaults)."""

    transport: str = "auto"
    host: str = "127.0.0.1"
    port: int = 47761
    topic_prefix: str = "hamad"
    #: Summaries waiting to be scored; beyond it they are shed (and reported to Zeek).
    queue_size: int = 10_000
    #: Seconds between heartbeats; at most half of Zeek's HAMAD::heartbeat_timeout.
    heartbeat_interval: float = 1.0
    backoff_initial: float = 0.5
    #: Longest wait between reconnect attempts (seconds).
    backoff_max: float = 30.0
    #: Give up after this many failed connects in a row (0 = never).
    max_connect_failures: int = 0
    #: After SIGTERM: how long queued summaries may still be scored and sent (seconds).
    drain_timeout: float = 5.0
    #: Longest wait before shed/rejected summaries are reported to Zeek (seconds).
    report_interval: float = 0.1
    #: Seconds between ``event=stats`` log lines.
    stats_interval: float = 60.0
    #: How long one receive waits before the loop looks around (seconds).
    recv_timeout: float = 0.2
    #: Name sent in HAMAD::hello; empty = ``hamad@<host>:<pid>``.
    worker_name: str = ""
    #: Port of the Prometheus metrics endpoint (``/metrics``); 0 = no endpoint.
    metrics_port: int = 0
    #: Address the metrics endpoint listens on (loopback unless a scraper runs elsewhere).
    metrics_host: str = "127.0.0.1"


@dataclass(frozen=True)
class Settings:
    """Everything the worker can be configured with."""

    model: str | None = None
    top_k: int = 3
    batch_size: int = 1024
    threshold: ThresholdSettings = field(default_factory=ThresholdSettings)
    features: FeatureSettings = field(default_factory=FeatureSettings)
    learning: LearningSettings = field(default_factory=LearningSettings)
    serve: ServeSettings = field(default_factory=ServeSettings)


_SECTIONS: dict[str, type] = {
    "threshold": ThresholdSettings,
    "features": FeatureSettings,
    "learning": LearningSettings,
    "serve": ServeSettings,
}


def _check_keys(where: str, given: dict[str, Any], cls: type) -> None:
    allowed = [f.name for f in dataclasses.fields(cls)]
    for key in given:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else f" Allowed: {', '.join(allowed)}."
            raise ConfigError(f"{where}: unknown key {key!r}.{hint}")


def _coerce(where: str, name: str, value: Any, default: Any) -> Any:
    """Check a value against the type of its default; say what was expected."""
    if value is None:
        return None
    if isinstance(default, bool) or isinstance(value, bool) and not isinstance(default, bool):
        if not isinstance(value, bool) or not isinstance(default, bool):
            raise ConfigError(f"{where}.{name}: expected {type(default).__name__}, got {value!r}")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}.{name}: expected a list of strings, got {value!r}")
        return tuple(value)
    if isinstance(default, int):
        if not isinstance(value, int):
            raise ConfigError(f"{where}.{name}: expected an integer, got {value!r}")
        return value
    if isinstance(default, float) or name == "override":
        if not isinstance(value, (int, float)):
            raise ConfigError(f"{where}.{name}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{where}.{name}: expected a finite number, got {value!r}")
        return float(value)
    if name == "period" and isinstance(value, (int, float)) and math.isfinite(value):
        return str(value)  # a duration in seconds
    if isinstance(default, str) or default is None:
        if not isinstance(value, str):
            raise ConfigError(f"{where}.{name}: expected a string, got {value!r}")
        return value
    return value


def _build(where: str, cls: type, data: dict[str, Any]) -> Any:
    _check_keys(where, data, cls)
    defaults = cls()
    kwargs = {k: _coerce(where, k, v, getattr(defaults, k)) for k, v in data.items()}
    return cls(**kwargs)


def settings_from_dict(data: dict[str, Any], where: str = "config") -> Settings:
    """Validate a parsed YAML mapping into :class:`Settings`."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"{where}: expected a mapping at the top level, got {type(data).__name__}"
        )
    _check_keys(where, data, Settings)
    top: dict[str, Any] = {}
    for key, value in data.items():
        if key in _SECTIONS:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise ConfigError(f"{where}.{key}: expected a mapping, got {value!r}")
            top[key] = _build(f"{where}.{key}", _SECTIONS[key], value)
        else:
            top[key] = _coerce(where, key, value, getattr(Settings(), key))
    settings = Settings(**top)
    validate(settings, where)
    return settings


def validate(s: Settings, where: str = "config") -> None:
    """Cross-field checks with messages that say what to change."""
    if s.threshold.mode not in MODES:
        raise ConfigError(
            f"{where}.threshold.mode: must be one of {MODES}, got {s.threshold.mode!r}"
        )
    if s.threshold.override is not None and not 0 < s.threshold.override <= 1:
        raise ConfigError(
            f"{where}.threshold.override: must be in (0, 1], got {s.threshold.override}"
        )
    if s.serve.transport not in TRANSPORTS:
        raise ConfigError(
            f"{where}.serve.transport: must be one of {', '.join(TRANSPORTS)}, "
            f"got {s.serve.transport!r}"
        )
    sv = s.serve
    checks: list[tuple[str, bool, str]] = [
        ("top_k", s.top_k >= 0, ">= 0"),
        ("batch_size", s.batch_size >= 1, ">= 1"),
        ("features.max_keys", s.features.max_keys >= 1, ">= 1"),
        ("serve.port", 0 < sv.port < 65536, "1..65535"),
        ("serve.metrics_port", 0 <= sv.metrics_port < 65536, "0 (off) or 1..65535"),
        ("serve.queue_size", sv.queue_size >= 1, ">= 1"),
        ("serve.heartbeat_interval", 0 < sv.heartbeat_interval <= ZEEK_HEARTBEAT_TIMEOUT / 2,
         f"> 0 and <= {ZEEK_HEARTBEAT_TIMEOUT / 2:g} s: Zeek's HAMAD::heartbeat_timeout is "
         f"{ZEEK_HEARTBEAT_TIMEOUT:g} s by default and wants two heartbeats within it"),
        ("serve.backoff_initial", sv.backoff_initial > 0, "> 0 s"),
        ("serve.backoff_max", sv.backoff_max >= sv.backoff_initial, ">= serve.backoff_initial"),
        ("serve.max_connect_failures", sv.max_connect_failures >= 0, ">= 0"),
        ("serve.drain_timeout", sv.drain_timeout >= 0, ">= 0 s"),
        ("serve.report_interval", sv.report_interval > 0, "> 0 s"),
        ("serve.stats_interval", sv.stats_interval > 0, "> 0 s"),
        ("serve.recv_timeout", sv.recv_timeout > 0, "> 0 s"),
        ("learning.guard", 0 < s.learning.guard <= 1, "in (0, 1]"),
        ("learning.min_count", s.learning.min_count >= 1, ">= 1"),
        ("learning.rate_floor", s.learning.rate_floor >= 0, ">= 0 connections per 10 s"),
        ("learning.max_services", s.learning.max_services >= 1, ">= 1"),
        ("learning.save_interval", s.learning.save_interval > 0, "> 0 s"),
    ]  # fmt: skip
    for name, ok, want in checks:
        if not ok:
            value = eval_path(s, name)
            raise ConfigError(f"{where}.{name}: must be {want}, got {value!r}")
    # Reuse the duration parser and the feature config's own CIDR validation.
    from .features import FeatureConfig

    try:
        parse_duration(s.learning.period)
    except ConfigError as exc:
        raise ConfigError(f"{where}.learning.period: {exc}") from None

    FeatureConfig(local_networks=s.features.local_networks, max_keys=s.features.max_keys)


def eval_path(s: Settings, dotted: str) -> Any:
    """The value of a dotted settings name, e.g. ``serve.port``."""
    obj: Any = s
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def load_settings(path: str | Path | None) -> Settings:
    """Read and validate a YAML config file (None = defaults)."""
    if path is None:
        return Settings()
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{p} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8"
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        loc = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{p} is not valid YAML{loc}: {getattr(exc, 'problem', exc)}") from exc
    if data is None:
        return Settings()
    return settings_from_dict(data, where=str(p))


def with_overrides(s: Settings, **flags: Any) -> Settings:
    """Apply CLI flags (``None`` = not given) on top of file settings.

    Keys are ``section__field`` for nested settings, e.g. ``threshold__mode``.
    """
    top: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in flags.items():
        if value is None or value == ():
            continue
        if "__" in key:
            sec, fld = key.split("__", 1)
            nested.setdefault(sec, {})[fld] = value
        else:
            top[key] = value
    for sec, vals in nested.items():
        top[sec] = dataclasses.replace(getattr(s, sec), **vals)
    out = dataclasses.replace(s, **top)
    validate(out, "command line")
    return out
