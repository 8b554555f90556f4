"""Streaming multi-scale features for one connection at a time.

For each finished connection (:class:`ConnRecord`) the extractor emits one
fixed-length vector: the connection's own fields (sizes, ratios, state,
history flags, protocol/service, port class, locality) plus context from the
traffic before it, at several time scales (default 10 s, 2 min, 30 min) and
for three keys:

``src``  the originator (scans, floods, infected hosts talking a lot),
``dst``  the responder (a host being scanned or brute-forced),
``pair`` originator -> responder (beacons, repeated C&C check-ins).

Why this shape: short scales catch floods and fast scans, long scales slow
scans and beacons; the same code runs in training, replay and live scoring,
and it only ever looks at *event time* (``ts + duration``, the moment Zeek
logs the connection), never the wall clock, so a pcap replay behaves exactly
like live traffic.

Cost and memory: O(#keys x #scales) = O(1) work per connection. Counters are
exponentially decayed with time constant = scale, distinct peers/ports use a
128-bit linear-counting sketch over two tumbling buckets, and each key table
keeps at most ``max_keys`` entries, evicting the least recently seen, so
memory stays flat on any input.

Locality comes from the deployment's configured networks
(:attr:`FeatureConfig.local_networks`), never from the log's own
``local_orig``/``local_resp`` columns: in labelled datasets those columns are
an artefact of how the capture was recorded.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import zlib
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .errors import ConfigError
from .records import ConnRecord

#: Networks treated as local when the configuration says nothing else.
DEFAULT_LOCAL_NETWORKS: tuple[str, ...] = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "127.0.0.0/8",
    "fc00::/7",
    "fe80::/10",
    "::1/128",
)

CONN_STATES: tuple[str, ...] = (
    "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH",
)  # fmt: skip
#: States Zeek uses for failed, rejected or half-open attempts.
FAILED_STATES: frozenset[str] = frozenset({"S0", "REJ", "RSTOS0", "RSTRH", "SH", "SHR"})
HISTORY_FLAGS: tuple[str, ...] = ("S", "H", "A", "D", "F", "R", "T", "W")
SERVICES: tuple[str, ...] = ("dns", "http", "ssl", "ssh", "dhcp", "ntp", "irc", "smtp", "ftp")
KEY_KINDS: tuple[str, ...] = ("src", "dst", "pair")

_SKETCH_BITS = 128
_SATURATED = _SKETCH_BITS * math.log(_SKETCH_BITS)
# Sketch words per key and scale: peers (cur lo/hi, prev lo/hi), ports (same).
_SK = 8
# Per-scale slots of a key's decayed state (the `v` array).
_CNT, _FAIL, _LB, _LB2, _LD, _IN, _IS, _IS2, _BUCKET = range(9)
_NV = 9

#: (name suffix, meaning) of the context statistics, same for every key and scale.
_CONTEXT_STATS: tuple[tuple[str, str], ...] = (
    ("log_count", "log1p of the decayed number of connections"),
    ("fail_share", "share of failed/rejected/half-open connections (S0, REJ, SH, ...)"),
    (
        "log_distinct_peers",
        "log1p of the distinct peers (src: responders, dst: originators, "
        "pair: originator ports), 128-bit linear-counting sketch over the last one to two windows",
    ),
    ("log_distinct_ports", "log1p of the distinct responder ports (same sketch)"),
    ("mean_log_bytes", "mean of log1p(orig_bytes + resp_bytes)"),
    ("std_log_bytes", "standard deviation of log1p(orig_bytes + resp_bytes)"),
    ("mean_log_duration", "mean of log1p(duration)"),
    ("mean_log_iat", "mean log inter-arrival time (s) between this key's connections"),
    ("std_log_iat", "std of the log inter-arrival time: near 0 for a regular beacon"),
)


def _own_feature_specs() -> list[tuple[str, str]]:
    specs = [
        ("log_duration", "log1p(duration in s); 0 when unset"),
        ("log_orig_bytes", "log1p(orig_bytes), payload bytes sent by the originator"),
        ("log_resp_bytes", "log1p(resp_bytes)"),
        ("log_orig_pkts", "log1p(orig_pkts)"),
        ("log_resp_pkts", "log1p(resp_pkts)"),
        ("log_orig_ip_bytes", "log1p(orig_ip_bytes), IP-level bytes from the originator"),
        ("log_resp_ip_bytes", "log1p(resp_ip_bytes)"),
        ("log_missed_bytes", "log1p(missed_bytes), content gaps"),
        ("duration_unset", "1 if Zeek logged no duration"),
        ("bytes_unset", "1 if Zeek logged no byte counts"),
        ("log_bytes_ratio", "log((orig_bytes+1)/(resp_bytes+1)): uploads > 0, downloads < 0"),
        ("log_pkts_ratio", "log((orig_pkts+1)/(resp_pkts+1))"),
        ("log_orig_bytes_per_pkt", "log1p(orig_ip_bytes / orig_pkts)"),
        ("log_resp_bytes_per_pkt", "log1p(resp_ip_bytes / resp_pkts)"),
        ("proto_tcp", "transport is TCP"),
        ("proto_udp", "transport is UDP"),
        ("proto_icmp", "transport is ICMP"),
    ]
    specs += [(f"state_{s}", f"conn_state is {s}") for s in CONN_STATES]
    specs.append(("state_other", "conn_state unset or unknown"))
    for flag in HISTORY_FLAGS:
        specs.append((f"hist_orig_{flag}", f"history has {flag!r} (from the originator)"))
        specs.append((f"hist_resp_{flag}", f"history has {flag.lower()!r} (from the responder)"))
    specs += [
        ("hist_flipped", "history has '^': Zeek flipped the direction"),
        ("log_history_len", "log1p(len(history))"),
    ]
    specs += [(f"service_{s}", f"Zeek identified the service as {s}") for s in SERVICES]
    specs += [
        ("service_other", "a service Zeek identified that is not listed above"),
        ("service_none", "no service identified"),
        ("resp_port_wellknown", "responder port < 1024"),
        ("resp_port_registered", "1024 <= responder port < 49152"),
        ("orig_port_wellknown", "originator port < 1024 (unusual for clients)"),
        ("orig_local", "originator is inside the configured local networks"),
        ("resp_local", "responder is inside the configured local networks"),
        ("resp_multicast", "responder is a multicast or broadcast address"),
    ]
    return specs


@dataclass(frozen=True)
class FeatureConfig:
    """Settings that change the feature vector; stored with every model.

    Parameters
    ----------
    scales : tuple of float, default=(10.0, 120.0, 1800.0)
        Window lengths in seconds, shortest first.
    max_keys : int, default=100_000
        Cap on tracked keys per key kind (src, dst, pair); least recently seen are evicted.
    local_networks : tuple of str
        CIDR blocks of the deployment; decides ``orig_local``/``resp_local``.
    """

    scales: tuple[float, ...] = (10.0, 120.0, 1800.0)
    max_keys: int = 100_000
    local_networks: tuple[str, ...] = DEFAULT_LOCAL_NETWORKS

    def __post_init__(self) -> None:
        if not self.scales or any(not (s > 0 and math.isfinite(s)) for s in self.scales):
            raise ConfigError(f"feature scales must be positive seconds, got {self.scales!r}")
        if list(self.scales) != sorted(self.scales):
            raise ConfigError(f"feature scales must be in increasing order, got {self.scales!r}")
        if self.max_keys < 1:
            raise ConfigError(f"max_keys must be >= 1, got {self.max_keys!r}")
        for net in self.local_networks:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError as exc:
                raise ConfigError(f"local_networks: {net!r} is not a CIDR block ({exc})") from exc

    def schema_config(self) -> dict[str, Any]:
        """The parts that change the meaning of the vector.

        Not ``max_keys`` (a memory bound) and not ``local_networks``: "inside
        the configured networks" means the same on every deployment, and each
        deployment sets its own networks.
        """
        return {"scales": list(self.scales)}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["scales"] = list(self.scales)
        d["local_networks"] = list(self.local_networks)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureConfig:
        return cls(
            scales=tuple(float(s) for s in d.get("scales", cls.scales)),
            max_keys=int(d.get("max_keys", cls.max_keys)),
            local_networks=tuple(d.get("local_networks", DEFAULT_LOCAL_NETWORKS)),
        )


def _scale_label(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


def feature_specs(config: FeatureConfig) -> list[tuple[str, str]]:
    """Names and meanings of every feature, in vector order."""
    specs = _own_feature_specs()
    for kind in KEY_KINDS:
        for scale in config.scales:
            lab = _scale_label(scale)
            for stat, meaning in _CONTEXT_STATS:
                specs.append((f"{kind}_{lab}_{stat}", f"{kind} key, {lab} scale: {meaning}"))
    return specs


def feature_names(config: FeatureConfig) -> list[str]:
    """Feature names in vector order."""
    return [n for n, _ in feature_specs(config)]


def schema_hash(config: FeatureConfig) -> str:
    """Fingerprint of names + meaning-changing settings; models store and check it."""
    payload = "\n".join(feature_names(config)) + repr(config.schema_config())
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


class _Networks:
    """Fast membership test for a handful of CIDR blocks, with a small cache."""

    def __init__(self, cidrs: Sequence[str]) -> None:
        nets = [ipaddress.ip_network(c, strict=False) for c in cidrs]
        self._v4 = [(int(n.network_address), int(n.netmask)) for n in nets if n.version == 4]
        self._v6 = [(int(n.network_address), int(n.netmask)) for n in nets if n.version == 6]
        self._cache: dict[str, tuple[bool, bool]] = {}

    def classify(self, addr: str) -> tuple[bool, bool]:
        """Return (is_local, is_multicast_or_broadcast)."""
        hit = self._cache.get(addr)
        if hit is not None:
            return hit
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            res = (False, False)
        else:
            value = int(ip)
            nets = self._v4 if ip.version == 4 else self._v6
            local = any((value & mask) == net for net, mask in nets)
            multi = ip.is_multicast or addr == "255.255.255.255" or addr.endswith(".255")
            res = (local, multi)
        if len(self._cache) > 65536:
            self._cache.clear()
        self._cache[addr] = res
        return res


class _KeyTable:
    """LRU-bounded table: key -> (last event time, decayed stats, sketches)."""

    __slots__ = ("cap", "n_scales", "entries", "evicted")

    def __init__(self, cap: int, n_scales: int) -> None:
        self.cap = cap
        self.n_scales = n_scales
        self.entries: OrderedDict[Any, list[Any]] = OrderedDict()
        self.evicted = 0

    def get(self, key: Any) -> tuple[list[Any], bool]:
        entry = self.entries.get(key)
        if entry is not None:
            self.entries.move_to_end(key)
            return entry, False
        if len(self.entries) >= self.cap:
            self.entries.popitem(last=False)
            self.evicted += 1
        # [last_time, v (decayed stats per scale), sketch words (_SK per scale)]
        entry = [
            0.0,
            array("d", bytes(8 * _NV * self.n_scales)),
            array("Q", bytes(8 * _SK * self.n_scales)),
        ]
        self.entries[key] = entry
        return entry, True


def _distinct(lo: int, hi: int) -> float:
    """Linear-counting estimate of the distinct items in a 128-bit sketch."""
    zeros = _SKETCH_BITS - lo.bit_count() - hi.bit_count()
    if zeros == 0:
        return _SATURATED
    return -_SKETCH_BITS * math.log(zeros / _SKETCH_BITS)


def _mix32(h: int) -> int:
    """MurmurHash3's 32-bit finaliser: linear counting needs slots that look random."""
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    return h ^ (h >> 16)


#: Sketch slot (0..127) of every port, precomputed: a table lookup beats hashing per record.
_PORT_SLOTS = bytes(_mix32(p) & 127 for p in range(65536))


def _port_slot(port: int) -> int:
    return _PORT_SLOTS[port & 0xFFFF]


def _str_slot(text: str) -> int:
    """Sketch slot of an address; not hash(): str hashes are salted per process."""
    return _mix32(zlib.crc32(text.encode())) & 127


class FeatureExtractor:
    """Turn connections, in connection-end order, into feature vectors.

    Stateful: each call to :meth:`transform_one`/:meth:`transform` also
    updates the windows, so feed every connection exactly once, in the order
    Zeek finishes them. Use one extractor per independent traffic source
    (one per capture in training) and :meth:`reset` between sources.

    Parameters
    ----------
    config : FeatureConfig, optional
        Scales, key cap and local networks.
    """

    def __init__(self, config: FeatureConfig | None = None) -> None:
        self.config = config or FeatureConfig()
        self.feature_names: list[str] = feature_names(self.config)
        self.n_features: int = len(self.feature_names)
        self.n_own: int = len(_own_feature_specs())
        self._nets = _Networks(self.config.local_networks)
        self._state_index = {s: i for i, s in enumerate(CONN_STATES)}
        self._service_index = {s: i for i, s in enumerate(SERVICES)}
        self.reset()

    def reset(self) -> None:
        """Forget all traffic context (start of a new, unrelated capture)."""
        n = len(self.config.scales)
        self.tables: dict[str, _KeyTable] = {
            kind: _KeyTable(self.config.max_keys, n) for kind in KEY_KINDS
        }
        self._clock = -math.inf

    @property
    def tracked_keys(self) -> dict[str, int]:
        """Current number of keys per kind (bounded by ``max_keys``)."""
        return {k: len(t.entries) for k, t in self.tables.items()}

    @property
    def evicted_keys(self) -> dict[str, int]:
        """Keys evicted so far per kind (0 unless the cap was reached)."""
        return {k: t.evicted for k, t in self.tables.items()}

    def transform(self, records: Iterable[ConnRecord]) -> np.ndarray:
        """Feature matrix (float32, one row per record), updating the windows."""
        rows = [self.transform_one(r) for r in records]
        if not rows:
            return np.zeros((0, self.n_features), dtype=np.float32)
        return np.asarray(rows, dtype=np.float32)

    def transform_one(self, rec: ConnRecord) -> list[float]:
        """Features of one connection (list of floats), updating the windows."""
        out = self._own(rec)
        t = rec.end_ts
        if not math.isfinite(t):
            t = self._clock if math.isfinite(self._clock) else 0.0
        # Connections finish slightly out of order; never let time run backwards.
        if t < self._clock:
            t = self._clock
        self._clock = t
        failed = rec.conn_state in FAILED_STATES
        total_bytes = (rec.orig_bytes or 0) + (rec.resp_bytes or 0)
        lb = math.log1p(total_bytes)
        ld = math.log1p(rec.duration or 0.0)
        port_slot = _port_slot(rec.resp_p)
        keys = (
            ("src", rec.orig_h, _str_slot(rec.resp_h)),
            ("dst", rec.resp_h, _str_slot(rec.orig_h)),
            ("pair", (rec.orig_h, rec.resp_h), _port_slot(rec.orig_p)),
        )
        for kind, key, peer_slot in keys:
            entry, new = self.tables[kind].get(key)
            self._update(entry, new, t, failed, lb, ld, peer_slot, port_slot, out)
        return out

    def _update(
        self,
        entry: list[Any],
        new: bool,
        t: float,
        failed: bool,
        lb: float,
        ld: float,
        peer_slot: int,
        port_slot: int,
        out: list[float],
    ) -> None:
        last: float = entry[0]
        v: array[float] = entry[1]
        sk: array[int] = entry[2]
        gap = t - last
        log_gap = math.log(gap + 1e-3) if not new else 0.0
        log1p = math.log1p
        sqrt = math.sqrt
        # Word offsets (0 = low, 1 = high 64 bits) and bit masks of this record's slots.
        peer_w, peer_bit = peer_slot >> 6, 1 << (peer_slot & 63)
        port_w, port_bit = 4 + (port_slot >> 6), 1 << (port_slot & 63)
        for i, scale in enumerate(self.config.scales):
            o = i * _NV
            decay = math.exp(-gap / scale) if not new else 0.0
            cnt = v[o + _CNT] * decay + 1.0
            fail = v[o + _FAIL] * decay + (1.0 if failed else 0.0)
            slb = v[o + _LB] * decay + lb
            slb2 = v[o + _LB2] * decay + lb * lb
            sld = v[o + _LD] * decay + ld
            if new:
                i_n = i_s = i_s2 = 0.0
            else:
                i_n = v[o + _IN] * decay + 1.0
                i_s = v[o + _IS] * decay + log_gap
                i_s2 = v[o + _IS2] * decay + log_gap * log_gap
            v[o + _CNT] = cnt
            v[o + _FAIL] = fail
            v[o + _LB] = slb
            v[o + _LB2] = slb2
            v[o + _LD] = sld
            v[o + _IN] = i_n
            v[o + _IS] = i_s
            v[o + _IS2] = i_s2
            # Tumbling buckets for the distinct sketches: keep current + previous.
            bucket = float(math.floor(t / scale))
            # Layout per scale: peers cur lo, hi, prev lo, hi; ports cur lo, hi, prev lo, hi.
            s = i * _SK
            if new:
                v[o + _BUCKET] = bucket
            else:
                step = bucket - v[o + _BUCKET]
                if step >= 2:
                    for j in range(s, s + _SK):
                        sk[j] = 0
                    v[o + _BUCKET] = bucket
                elif step >= 1:
                    sk[s + 2], sk[s + 3], sk[s + 6], sk[s + 7] = (
                        sk[s],
                        sk[s + 1],
                        sk[s + 4],
                        sk[s + 5],
                    )
                    sk[s] = sk[s + 1] = sk[s + 4] = sk[s + 5] = 0
                    v[o + _BUCKET] = bucket
            sk[s + peer_w] |= peer_bit
            sk[s + port_w] |= port_bit
            mean_lb = slb / cnt
            var_lb = max(slb2 / cnt - mean_lb * mean_lb, 0.0)
            if i_n > 0.5:
                m_iat = i_s / i_n
                s_iat = sqrt(max(i_s2 / i_n - m_iat * m_iat, 0.0))
            else:
                m_iat = math.log(scale)
                s_iat = 0.0
            out.extend(
                (
                    log1p(cnt),
                    fail / cnt,
                    log1p(_distinct(sk[s] | sk[s + 2], sk[s + 1] | sk[s + 3])),
                    log1p(_distinct(sk[s + 4] | sk[s + 6], sk[s + 5] | sk[s + 7])),
                    mean_lb,
                    sqrt(var_lb),
                    sld / cnt,
                    m_iat,
                    s_iat,
                )
            )
        entry[0] = t

    def _own(self, rec: ConnRecord) -> list[float]:
        log1p = math.log1p
        dur = rec.duration
        ob, rb = rec.orig_bytes, rec.resp_bytes
        op, rp = rec.orig_pkts or 0, rec.resp_pkts or 0
        oib, rib = rec.orig_ip_bytes or 0, rec.resp_ip_bytes or 0
        ob0, rb0 = ob or 0, rb or 0
        out = [
            log1p(dur) if dur is not None and dur > 0 else 0.0,
            log1p(ob0),
            log1p(rb0),
            log1p(op),
            log1p(rp),
            log1p(oib),
            log1p(rib),
            log1p(rec.missed_bytes or 0),
            1.0 if dur is None else 0.0,
            1.0 if ob is None and rb is None else 0.0,
            math.log((ob0 + 1) / (rb0 + 1)),
            math.log((op + 1) / (rp + 1)),
            log1p(oib / op) if op else 0.0,
            log1p(rib / rp) if rp else 0.0,
        ]
        proto = rec.proto
        out += (
            1.0 if proto == "tcp" else 0.0,
            1.0 if proto == "udp" else 0.0,
            1.0 if proto == "icmp" else 0.0,
        )
        states = [0.0] * (len(CONN_STATES) + 1)
        states[self._state_index.get(rec.conn_state or "", len(CONN_STATES))] = 1.0
        out += states
        hist = rec.history or ""
        for flag in HISTORY_FLAGS:
            out.append(1.0 if flag in hist else 0.0)
            out.append(1.0 if flag.lower() in hist else 0.0)
        out.append(1.0 if "^" in hist else 0.0)
        out.append(log1p(len(hist)))
        services = [0.0] * (len(SERVICES) + 2)
        svc = rec.service
        if not svc:
            services[-1] = 1.0
        else:
            first = svc.split(",", 1)[0].lower().lstrip("-")
            services[self._service_index.get(first, len(SERVICES))] = 1.0
        out += services
        rp_ = rec.resp_p
        orig_local, _ = self._nets.classify(rec.orig_h)
        resp_local, resp_multi = self._nets.classify(rec.resp_h)
        out += (
            1.0 if rp_ < 1024 and proto != "icmp" else 0.0,
            1.0 if 1024 <= rp_ < 49152 and proto != "icmp" else 0.0,
            1.0 if rec.orig_p < 1024 and proto != "icmp" else 0.0,
            1.0 if orig_local else 0.0,
            1.0 if resp_local else 0.0,
            1.0 if resp_multi else 0.0,
        )
        return out


@dataclass
class FeatureSchema:
    """What a model stores about the features it was trained on."""

    names: list[str]
    config: dict[str, Any]
    hash: str
    descriptions: list[str] = field(default_factory=list)

    @classmethod
    def from_config(cls, config: FeatureConfig) -> FeatureSchema:
        specs = feature_specs(config)
        return cls(
            names=[n for n, _ in specs],
            config=config.schema_config(),
            hash=schema_hash(config),
            descriptions=[d for _, d in specs],
        )
