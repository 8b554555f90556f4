"""Connection rows: the numpy record layout and how one service's connections are drawn.

Why it exists: :func:`build_rows` turns who/when/how-it-ended into what Zeek would log
(packets, bytes, durations, history) for benign and attack traffic alike; the random
helpers here fix the order of RNG draws, which is what keeps output bytes stable.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .addresses import is_local
from .services import _OUTCOME_NAMES, HISTORIES, OUTCOMES, Service
from .zeek import _US, ICMP, STATES, TCP, ZEEK_SERVICES

ROW = np.dtype(
    [
        ("ts", "<i8"),  # microseconds since the epoch
        ("dur", "<i8"),  # microseconds, -1 unset
        ("oh", "<u4"),
        ("op", "<u2"),
        ("rh", "<u4"),
        ("rp", "<u2"),
        ("proto", "u1"),
        ("svc", "u1"),
        ("state", "u1"),
        ("hist", "u1"),
        ("lab", "u1"),  # 0 benign, else 1 + index of the scenario
        ("ob", "<i8"),  # -1 unset
        ("rb", "<i8"),
        ("opk", "<i8"),
        ("oip", "<i8"),
        ("rpk", "<i8"),
        ("rip", "<i8"),
    ]
)


def _lognormal(rng: np.random.Generator, spec: tuple[float, float], n: int) -> np.ndarray:
    median, sigma = spec
    if sigma <= 0:
        return np.full(n, float(median))
    out: np.ndarray = median * np.exp(sigma * rng.standard_normal(n))
    return out


def _choose(rng: np.random.Generator, weights: Sequence[float] | np.ndarray, n: int) -> np.ndarray:
    """``n`` indices drawn with the given (unnormalised) weights."""
    cum = np.cumsum(np.asarray(weights, dtype=np.float64))
    idx = np.searchsorted(cum, rng.random(n) * cum[-1], side="right")
    out: np.ndarray = np.minimum(idx, len(cum) - 1)
    return out


_STATE_CODE = {s: i for i, s in enumerate(STATES)}
_HIST_CODE = {h: i for i, h in enumerate(HISTORIES)}
_SVC_CODE = {s: i for i, s in enumerate(ZEEK_SERVICES)}


def _outcome_codes(rng: np.random.Generator, svc: Service, n: int) -> np.ndarray:
    names = [_OUTCOME_NAMES.index(o) for o, _ in svc.outcomes]
    out: np.ndarray = np.asarray(names, np.int64)[_choose(rng, [w for _, w in svc.outcomes], n)]
    return out


def _payload(
    rng: np.random.Generator, svc: Service, flow: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Bytes each way: proportional to duration for streams, lognormal otherwise."""
    n = len(flow)
    if svc.rate > 0:
        ob = flow * svc.rate * np.exp(0.3 * rng.standard_normal(n))
        rb = flow * svc.rate * np.exp(0.3 * rng.standard_normal(n))
    else:
        ob = _lognormal(rng, svc.orig_bytes, n)
        rb = _lognormal(rng, svc.resp_bytes, n)
    ob_i = np.where(ob > 0, np.maximum(np.rint(ob), 1), 0).astype(np.int64)
    rb_i = np.where(rb > 0, np.maximum(np.rint(rb), 1), 0).astype(np.int64)
    if svc.proto == ICMP:  # echo: whole pings, the reply mirrors the request
        ob_i = np.maximum(-(-ob_i // svc.seg), 1) * svc.seg
        rb_i = ob_i.copy()
    return ob_i, rb_i


def _orig_ports(rng: np.random.Generator, svc: Service, n: int) -> np.ndarray:
    if svc.orig_port > 0:
        return np.full(n, svc.orig_port, np.int64)
    if svc.orig_port < 0:
        return rng.integers(1024, 65536, n)
    return rng.integers(32768, 65536, n)


def build_rows(
    rng: np.random.Generator,
    svc: Service,
    ts_us: np.ndarray,
    oh: np.ndarray,
    rh: np.ndarray,
    rp: np.ndarray,
    outcome: np.ndarray,
    label: int,
) -> np.ndarray:
    """Connections of one service as Zeek would log them, given who, when and how it ended.

    Packets: TCP carries ``seg``-byte segments plus a few request/response turns, each side
    ACKs every second segment of the other, plus the outcome's control packets; UDP and
    ICMP carry ``seg``-byte datagrams. A connection of one packet has duration and byte
    counts unset, as Zeek logs it.
    """
    n = len(ts_us)
    rows = np.zeros(n, ROW)
    rows["ts"], rows["oh"], rows["rh"], rows["rp"] = ts_us, oh, rh, rp
    rows["op"] = _orig_ports(rng, svc, n)
    rows["proto"], rows["lab"] = svc.proto, label
    rtt = np.where(is_local(rh), _lognormal(rng, (6e-4, 0.5), n), _lognormal(rng, (0.03, 0.6), n))
    flow = np.minimum(_lognormal(rng, svc.duration, n), svc.max_duration)
    ob, rb = _payload(rng, svc, flow)
    if svc.proto == ICMP:  # ping sends one echo request a second
        flow = (ob // svc.seg - 1).astype(np.float64)
    elif svc.rate <= 0:
        flow = flow + (ob + rb) / svc.throughput
    dur = np.zeros(n)
    opk = np.zeros(n, np.int64)
    rpk = np.zeros(n, np.int64)
    for code in np.unique(outcome):
        o = OUTCOMES[_OUTCOME_NAMES[int(code)]]
        m = outcome == code
        k = int(m.sum())
        rows["state"][m] = _STATE_CODE[o.state]
        hist = [_HIST_CODE[h] for h, _ in o.histories]
        rows["hist"][m] = np.asarray(hist)[_choose(rng, [w for _, w in o.histories], k)]
        ob[m] *= o.payload[0]
        rb[m] *= o.payload[1]
        od, rd = -(-ob[m] // svc.seg), -(-rb[m] // svc.seg)
        if svc.proto == TCP:
            od = od + rng.poisson(svc.turns, k) * (od > 0)
            rd = rd + rng.poisson(svc.turns, k) * (rd > 0)
            opk[m] = o.control[0] + od + rd // 2
            rpk[m] = o.control[1] + rd + od // 2
        else:
            opk[m], rpk[m] = od, rd
        if o.timing == "flow":
            dur[m] = flow[m] + rtt[m]
        elif o.timing == "rtt":
            dur[m] = rtt[m] * o.rtts
        elif o.timing == "retry":
            r = rng.integers(0, svc.syn_retries + 1, k)
            opk[m] += r
            dur[m] = (2.0**r - 1.0) * (1.0 + 0.02 * rng.random(k))
    if svc.proto == TCP:
        hdr = 40 if svc.raw else 52
        rows["oip"] = opk * hdr + ob + (0 if svc.raw else 8)
        rows["rip"] = rpk * hdr + rb
    else:
        rows["oip"] = opk * 28 + ob
        rows["rip"] = rpk * 28 + rb
    rows["svc"] = np.where((ob > 0) | (rb > 0), _SVC_CODE[svc.zeek_service], 0)
    single = opk + rpk <= 1
    rows["dur"] = np.where(single, -1, np.rint(dur * _US).astype(np.int64))
    rows["ob"] = np.where(single, -1, ob)
    rows["rb"] = np.where(single, -1, rb)
    rows["opk"], rows["rpk"] = opk, rpk
    return rows
