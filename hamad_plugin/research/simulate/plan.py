"""The network plan: everything fixed from the seed before the first row is drawn.

Why it exists: hosts and their kinds, periodic routines, scenario sizes and the time
windows are decided once (one RNG stream) so that every window can then be drawn on
its own, in constant memory, with exact row counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ...errors import ConfigError
from .addresses import _ip, _unit
from .config import SimConfig
from .devices import _KIND_INDEX, _LAN_DST, DEVICE_KINDS, DIURNAL, ROSTER, Routine
from .rows import _choose
from .scenarios import SCENARIOS, Scenario
from .services import BENIGN_SERVICES
from .zeek import _US

#: Connections per time window (one numpy batch, one write).
CHUNK_ROWS = 65_536
#: Periodic streams (device routines) kept at most, so memory does not grow with --hosts.
MAX_STREAMS = 200_000
#: At most this share of the benign connections comes from periodic routines.
MAX_PERIODIC_SHARE = 0.5
#: Every enabled scenario writes at least this many connections (when time allows).
MIN_SCENARIO_ROWS = 5
#: Attack rows may not exceed this share of --connections.
MAX_ATTACK_SHARE = 0.5


@dataclass
class _Streams:
    """Periodic routines, sorted by service: device, period, phase, jitter, destination draw."""

    host: np.ndarray
    service: np.ndarray
    period: np.ndarray
    phase: np.ndarray
    jitter: np.ndarray
    u: np.ndarray

    def events(self, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
        """(stream index, nominal time) of every routine connection due in [a, b)."""
        lo = np.ceil((a - self.phase) / self.period)
        cnt = np.maximum(np.ceil((b - self.phase) / self.period) - lo, 0).astype(np.int64)
        idx = np.repeat(np.arange(len(cnt)), cnt)
        first = np.repeat(np.cumsum(cnt) - cnt, cnt)
        k = lo[idx] + (np.arange(len(idx)) - first)
        return idx, self.phase[idx] + k * self.period[idx]


@dataclass
class _ScenarioRun:
    """An enabled scenario with its size and schedule fixed for this capture."""

    index: int
    spec: Scenario
    offset: float
    count: int
    actor: int
    salt: int

    def nominal(self, i: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.offset + i * self.spec.interval
        return out

    def due(self, a: float, b: float, last: bool) -> np.ndarray:
        """Indices of this scenario's connections nominally in [a, b)."""
        iv = self.spec.interval
        lo = max(0, math.ceil((a - self.offset) / iv))
        hi = self.count if last else min(self.count, math.ceil((b - self.offset) / iv))
        return np.arange(lo, max(lo, hi), dtype=np.int64)


@dataclass
class Plan:
    """Everything fixed before the first row: hosts, routines, scenario sizes, windows."""

    cfg: SimConfig
    lan: str
    gateway: int
    first_host: int
    kinds: np.ndarray
    by_kind: list[np.ndarray]
    cum_activity: list[np.ndarray]
    habits: list[tuple[np.ndarray, np.ndarray]]
    streams: _Streams
    scenarios: list[_ScenarioRun]
    n_human: int
    n_iot: int
    n_periodic: int
    windows: np.ndarray
    grid: np.ndarray
    human_cdf: np.ndarray
    class_weights: tuple[np.ndarray, np.ndarray]
    pools: dict[str, int] = field(default_factory=dict)

    @property
    def start_us(self) -> int:
        return round(self.cfg.start * _US)

    def host_ip(self, idx: np.ndarray) -> np.ndarray:
        out: np.ndarray = (self.first_host + idx).astype(np.uint32)
        return out


_SERVICE_LIST = tuple(BENIGN_SERVICES)
_SERVICE_INDEX = {s: i for i, s in enumerate(_SERVICE_LIST)}


def _pool_sizes(hosts: int) -> dict[str, int]:
    """External servers grow with the network: more devices reach more distinct servers."""
    return {
        "cdn": min(4_000_000, 300 + 4 * hosts),
        "cloud": min(2_000_000, 150 + 2 * hosts),
        "update": 40 + hosts // 16,
        "media": 60 + hosts // 8,
        "ntp": 20 + hosts // 64,
        "conncheck": 3,
    }


def _assign_kinds(rng: np.random.Generator, hosts: int) -> np.ndarray:
    kinds = np.empty(hosts, np.uint8)
    head = min(hosts, len(ROSTER))
    kinds[:head] = [_KIND_INDEX[k] for k in ROSTER[:head]]
    if hosts > head:
        kinds[head:] = _choose(rng, [k.share for k in DEVICE_KINDS], hosts - head)
    return kinds


def _usable(service: str, by_kind: list[np.ndarray]) -> bool:
    """A service needing a LAN peer (NAS, printer, TV) is only used when one exists."""
    dst = BENIGN_SERVICES[service].dst
    return dst not in _LAN_DST or len(by_kind[_KIND_INDEX[_LAN_DST[dst]]]) > 0


def _build_streams(
    rng: np.random.Generator, cfg: SimConfig, by_kind: list[np.ndarray], budget: int
) -> _Streams:
    """Routines of (a sample of at most MAX_STREAMS) devices, trimmed to ``budget`` connections."""
    blocks: list[tuple[int, Routine]] = [
        (ki, r)
        for ki, kind in enumerate(DEVICE_KINDS)
        for r in kind.routines
        if len(by_kind[ki]) and _usable(r.service, by_kind)
    ]
    sizes = np.array([len(by_kind[ki]) for ki, _ in blocks], np.int64)
    total = int(sizes.sum())
    pick = (
        np.arange(total)
        if total <= MAX_STREAMS
        else np.sort(rng.choice(total, MAX_STREAMS, replace=False))
    )
    block = np.searchsorted(np.cumsum(sizes), pick, side="right")
    starts = np.cumsum(sizes) - sizes
    host = np.empty(len(pick), np.int64)
    lo = np.empty(len(pick))
    hi = np.empty(len(pick))
    jit = np.empty(len(pick))
    svc = np.empty(len(pick), np.int64)
    for b, (ki, r) in enumerate(blocks):
        m = block == b
        host[m] = by_kind[ki][pick[m] - starts[b]]
        lo[m], hi[m], jit[m] = r.period[0], r.period[1], r.jitter
        svc[m] = _SERVICE_INDEX[r.service]
    period = np.exp(np.log(lo) + rng.random(len(pick)) * (np.log(hi) - np.log(lo)))
    phase = rng.random(len(pick)) * period
    count = np.maximum(np.ceil((cfg.duration - phase) / period), 0)
    order = rng.permutation(len(pick))
    keep = order[np.cumsum(count[order]) <= budget]
    keep = keep[np.lexsort((host[keep], svc[keep]))]
    return _Streams(
        host=host[keep],
        service=svc[keep],
        period=period[keep],
        phase=phase[keep],
        jitter=jit[keep],
        u=_unit(host[keep] * 64 + svc[keep], cfg.seed * 7 + 1),
    )


def _scenario_runs(cfg: SimConfig, by_kind: list[np.ndarray]) -> list[_ScenarioRun]:
    runs = []
    for i, choice in enumerate(cfg.scenarios):
        spec = SCENARIOS[choice.name]
        room = int((cfg.duration - choice.offset) // spec.interval)
        if room < 1:
            raise ConfigError(
                f"scenario {spec.name!r} starts {choice.offset:g} s into a {cfg.duration:g} s "
                f"capture: no room for one connection every {spec.interval:g} s"
            )
        count = min(room, max(MIN_SCENARIO_ROWS, int(spec.share * cfg.connections)))
        if spec.limit:
            count = min(count, spec.limit)
        actor = int(by_kind[_KIND_INDEX[spec.actor]][0])
        runs.append(_ScenarioRun(i, spec, choice.offset, count, actor, cfg.seed * 1000 + 101 + i))
    attacks = sum(r.count for r in runs)
    if attacks > MAX_ATTACK_SHARE * cfg.connections:
        raise ConfigError(
            f"the enabled scenarios need {attacks:,} connections, more than half of "
            f"--connections {cfg.connections:,}; raise --connections or enable fewer scenarios"
        )
    return runs


def _human_cdf(cfg: SimConfig, grid: np.ndarray) -> np.ndarray:
    """Cumulative share of human activity over the capture (piecewise-linear by hour)."""
    hours = ((cfg.start + grid) / 3600.0) % 24.0
    knots = np.asarray(DIURNAL + DIURNAL[:1])
    rate = np.interp(hours, np.arange(25.0), knots)
    cum = np.concatenate([[0.0], np.cumsum((rate[1:] + rate[:-1]) / 2 * np.diff(grid))])
    out: np.ndarray = cum / cum[-1]
    return out


def _windows(
    cfg: SimConfig,
    grid: np.ndarray,
    human_cdf: np.ndarray,
    n_flat: int,
    n_human: int,
    runs: list[_ScenarioRun],
) -> np.ndarray:
    """Window edges such that each window expects about CHUNK_ROWS connections."""
    cum = n_human * human_cdf + n_flat * grid / cfg.duration + 1e-9 * grid
    for r in runs:
        span = max(r.count * r.spec.interval, 1e-6)
        cum = cum + r.count * np.clip((grid - r.offset) / span, 0.0, 1.0)
    k = max(1, math.ceil(cfg.connections / CHUNK_ROWS))
    cuts = np.interp(np.arange(1, k) * cum[-1] / k, cum, grid)
    return np.concatenate([[0.0], cuts, [cfg.duration]])


def make_plan(cfg: SimConfig) -> Plan:
    """Hosts and their kinds, routines, scenario sizes and the time windows, from the seed."""
    rng = np.random.default_rng([cfg.seed, 0x504C414E])
    small = cfg.hosts <= 253
    lan, base = ("192.168.1.0/24", _ip("192.168.1.0")) if small else ("10.0.0.0/8", _ip("10.0.0.0"))
    kinds = _assign_kinds(rng, cfg.hosts)
    by_kind = [np.flatnonzero(kinds == i) for i in range(len(DEVICE_KINDS))]
    mult = np.exp(rng.standard_normal(cfg.hosts) - 0.5)  # busy and quiet devices, mean 1
    cum_activity = [np.cumsum(mult[h]) for h in by_kind]
    habits = []
    for kind in DEVICE_KINDS:
        names = [s for s, _ in kind.habits]
        w = np.array([w if _usable(s, by_kind) else 0.0 for s, w in kind.habits])
        habits.append((np.array([_SERVICE_INDEX[s] for s in names]), np.cumsum(w) / w.sum()))
    runs = _scenario_runs(cfg, by_kind)
    benign = cfg.connections - sum(r.count for r in runs)
    streams = _build_streams(rng, cfg, by_kind, int(MAX_PERIODIC_SHARE * benign))
    n_periodic = int(np.maximum(np.ceil((cfg.duration - streams.phase) / streams.period), 0).sum())
    weight = np.array([len(h) * k.activity for h, k in zip(by_kind, DEVICE_KINDS, strict=True)])
    human = np.array([k.human for k in DEVICE_KINDS])
    share_h = weight[human].sum() / weight.sum()
    n_random = benign - n_periodic
    n_human = int(round(n_random * share_h))
    grid = np.linspace(0.0, cfg.duration, int(min(200_000, max(1000, cfg.duration))) + 1)
    hcdf = _human_cdf(cfg, grid)
    return Plan(
        cfg=cfg,
        lan=lan,
        gateway=base + 1,
        first_host=base + 2,
        kinds=kinds,
        by_kind=by_kind,
        cum_activity=cum_activity,
        habits=habits,
        streams=streams,
        scenarios=runs,
        n_human=n_human,
        n_iot=n_random - n_human,
        n_periodic=n_periodic,
        windows=_windows(cfg, grid, hcdf, n_random - n_human + n_periodic, n_human, runs),
        grid=grid,
        human_cdf=hcdf,
        class_weights=(np.where(human, weight, 0.0), np.where(human, 0.0, weight)),
        pools=_pool_sizes(cfg.hosts),
    )
