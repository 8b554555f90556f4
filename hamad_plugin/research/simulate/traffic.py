"""One time window of traffic: the benign connections and the attack connections in it.

Why it exists: given a :class:`~.plan.Plan`, each window is drawn from its own seeded
RNG (benign first, then each scenario), so windows are independent and reproducible.
"""

from __future__ import annotations

import numpy as np

from .addresses import _MDNS, _PUBLIC_DNS, _SSDP, _ip, _mix, _public_ip, _zipf_index
from .devices import _KIND_INDEX, _LAN_DST
from .plan import _SERVICE_LIST, Plan, _ScenarioRun
from .rows import ROW, _choose, _outcome_codes, build_rows
from .services import _OUTCOME_NAMES, BENIGN_SERVICES, Service
from .zeek import _US


def _responders(plan: Plan, svc: Service, host: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Responder address per connection for a benign service's destination class."""
    n = len(host)
    dst, seed = svc.dst, plan.cfg.seed
    if dst == "gateway":
        return np.full(n, plan.gateway, np.uint32)
    if dst in ("mdns", "ssdp"):
        return np.full(n, _ip(_MDNS if dst == "mdns" else _SSDP), np.uint32)
    if dst == "public-dns":  # each device sticks to one resolver
        dns = np.array([_ip(a) for a in _PUBLIC_DNS], np.uint32)
        out: np.ndarray = dns[(_mix(host, seed + 3) % np.uint64(len(dns))).astype(np.intp)]
        return out
    if dst in _LAN_DST:  # a NAS / printer / TV of the network, fixed per device
        peers = plan.by_kind[_KIND_INDEX[_LAN_DST[dst]]]
        pick = (_mix(host, seed + 5) % np.uint64(len(peers))).astype(np.intp)
        return plan.host_ip(peers[pick])
    if dst == "iot-cloud":  # three vendors per kind of device, two servers each
        vendor = plan.kinds[host].astype(np.int64) * 3 + (
            _mix(host, seed + 9) % np.uint64(3)
        ).astype(np.int64)
        return _public_ip(vendor * 2 + (u * 2).astype(np.int64), seed * 31 + 17)
    size = plan.pools[dst]
    return _public_ip(_zipf_index(u, size), seed * 31 + sorted(plan.pools).index(dst))


def _service_rows(
    plan: Plan,
    rng: np.random.Generator,
    svc: Service,
    t: np.ndarray,
    host: np.ndarray,
    u: np.ndarray,
    floor_us: int,
) -> np.ndarray:
    """Benign connections of one service from ``host`` at times ``t`` (seconds)."""
    ts = np.maximum(plan.start_us + np.rint(t * _US).astype(np.int64), floor_us)
    rp = np.asarray(svc.ports, np.int64)[rng.integers(0, len(svc.ports), len(t))]
    outcome = _outcome_codes(rng, svc, len(t))
    return build_rows(
        rng, svc, ts, plan.host_ip(host), _responders(plan, svc, host, u), rp, outcome, 0
    )


def _random_hosts(
    plan: Plan, rng: np.random.Generator, n: int, cls: int
) -> tuple[np.ndarray, np.ndarray]:
    """(host, service index) of ``n`` on-demand connections of one activity class."""
    kind = _choose(rng, plan.class_weights[cls], n)
    host = np.empty(n, np.int64)
    svc = np.empty(n, np.int64)
    for k in np.unique(kind):
        m = kind == k
        cum = plan.cum_activity[k]
        pick = np.searchsorted(cum, rng.random(int(m.sum())) * cum[-1], side="right")
        host[m] = plan.by_kind[k][np.minimum(pick, len(cum) - 1)]
        ids, cdf = plan.habits[k]
        svc[m] = ids[
            np.minimum(np.searchsorted(cdf, rng.random(int(m.sum())), side="right"), len(ids) - 1)
        ]
    return host, svc


def _benign_window(plan: Plan, rng: np.random.Generator, a: float, b: float) -> list[np.ndarray]:
    cfg = plan.cfg
    floor_us = plan.start_us + round(a * _US)
    f_a, f_b = np.interp([a, b], plan.grid, plan.human_cdf)
    n_h = round(plan.n_human * f_b) - round(plan.n_human * f_a)
    n_i = round(plan.n_iot * b / cfg.duration) - round(plan.n_iot * a / cfg.duration)
    t_h = np.interp(rng.uniform(f_a, f_b, n_h), plan.human_cdf, plan.grid)
    t_i = rng.uniform(a, b, n_i)
    h_h, s_h = _random_hosts(plan, rng, n_h, 0)
    h_i, s_i = _random_hosts(plan, rng, n_i, 1)
    st = plan.streams
    idx, t_p = st.events(a, b)
    t_p = t_p + st.jitter[idx] * st.period[idx] * rng.uniform(-1.0, 1.0, len(idx))
    t = np.concatenate([t_h, t_i, t_p])
    host = np.concatenate([h_h, h_i, st.host[idx]])
    svc = np.concatenate([s_h, s_i, st.service[idx]])
    u = np.concatenate([rng.random(n_h + n_i), st.u[idx]])
    parts = []
    for s in np.unique(svc):
        m = svc == s
        parts.append(
            _service_rows(
                plan, rng, BENIGN_SERVICES[_SERVICE_LIST[s]], t[m], host[m], u[m], floor_us
            )
        )
    return parts


def _scenario_window(
    plan: Plan, rng: np.random.Generator, run: _ScenarioRun, a: float, b: float, last: bool
) -> np.ndarray:
    spec, svc = run.spec, run.spec.service
    i = run.due(a, b, last)
    n = len(i)
    t = np.maximum(
        run.nominal(i) + spec.jitter * spec.interval * rng.uniform(-1.0, 1.0, n), run.offset
    )
    ts = np.maximum(
        plan.start_us + np.rint(t * _US).astype(np.int64), plan.start_us + round(a * _US)
    )
    if spec.target == "fresh":
        rh = _public_ip(i, run.salt)
    elif spec.target == "victims":
        rh = _public_ip(i % 4, run.salt)
    elif spec.target == "one":
        rh = _public_ip(np.zeros(n, np.int64), run.salt)
    elif spec.target == "nas":
        rh = np.full(n, plan.host_ip(plan.by_kind[_KIND_INDEX["nas"]][:1])[0], np.uint32)
    else:
        rh = np.full(n, plan.gateway, np.uint32)
    if spec.ports == "sweep":  # a permutation of 1..65535 (7919 is prime to 65535)
        rp = 1 + (i * 7919 + run.salt) % 65535
    elif spec.ports == "random":
        rp = rng.integers(1, 65536, n)
    else:
        rp = np.asarray(svc.ports, np.int64)[rng.integers(0, len(svc.ports), n)]
    outcome = _outcome_codes(rng, svc, n)
    if spec.open_ports:
        outcome = np.where(
            np.isin(rp, spec.open_ports), _OUTCOME_NAMES.index(spec.open_outcome), outcome
        )
    oh = plan.host_ip(np.full(n, run.actor, np.int64))
    return build_rows(rng, svc, ts, oh, rh, rp, outcome, run.index + 1)


def window_rows(plan: Plan, k: int) -> np.ndarray:
    """All connections that start in window ``k`` (unsorted)."""
    a, b = float(plan.windows[k]), float(plan.windows[k + 1])
    last = k == len(plan.windows) - 2
    rng = np.random.default_rng([plan.cfg.seed, k, 1])
    parts = _benign_window(plan, rng, a, b)
    for run in plan.scenarios:
        srng = np.random.default_rng([plan.cfg.seed, k, 3, run.index])
        parts.append(_scenario_window(plan, srng, run, a, b, last))
    return np.concatenate(parts) if parts else np.zeros(0, ROW)
