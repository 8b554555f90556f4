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

Relative as well as absolute. How many connections a key made in 2 or 30
minutes also describes how busy the network is: on a network the model never
saw, a desktop's resolver traffic after an idle night looked like a flood
target (``dst_30m_log_count`` was the top feature of nearly every false
alarm). So beside each key's count stands its *share* of the site's
connections in the same window (``*_log_share``), and two site-wide tables
say how ordinary a responder and a service are *here*: the share of the
site's originators that talk to this responder (``dst_*_host_share``: a
resolver every host uses is near 1) and that use this service, and the
service's share of the traffic (``svc_*``). The counts stay because the
leave-one-capture-out ablation says they carry detection to unseen captures:
without them two captures' C&C was no longer caught at all
(docs/ablation.md).

Cost and memory: O(#keys x #scales) = O(1) work per connection. Counters are
exponentially decayed with time constant = scale, distinct peers/ports use a
128-bit linear-counting sketch over two tumbling buckets. State lives in flat
numpy arrays indexed by a per-key slot; a compiled kernel (numba, see
:mod:`hamad_plugin.core.jit`) walks a batch one connection after the other, so a
batch gives exactly what feeding the same connections one at a time gives
(about 1 us per connection for all keys and scales). Each key table keeps at most ``max_keys``
slots and evicts the least recently seen when full, so memory stays flat on
any input.

Locality comes from the deployment's configured networks
(:attr:`FeatureConfig.local_networks`), never from the log's own
``local_orig``/``local_resp`` columns: in labelled datasets those columns are
an artefact of how the capture was recorded.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError
from .kernels import PORT_SLOTS, SlotTable, context_kernel, str_slot
from .networks import DEFAULT_LOCAL_NETWORKS, Networks
from .records import DUR as _DUR
from .records import MISSED as _MISSED
from .records import OB as _OB
from .records import OIB as _OIB
from .records import OP as _OP
from .records import OPK as _OPK
from .records import RB as _RB
from .records import RIB as _RIB
from .records import RP as _RP
from .records import RPK as _RPK
from .records import TS as _TS
from .records import ConnColumns, ConnRecord

CONN_STATES: tuple[str, ...] = (
    "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH",
)  # fmt: skip
#: States Zeek uses for failed, rejected or half-open attempts.
FAILED_STATES: frozenset[str] = frozenset({"S0", "REJ", "RSTOS0", "RSTRH", "SH", "SHR"})
HISTORY_FLAGS: tuple[str, ...] = ("S", "H", "A", "D", "F", "R", "T", "W")
SERVICES: tuple[str, ...] = ("dns", "http", "ssl", "ssh", "dhcp", "ntp", "irc", "smtp", "ftp")
KEY_KINDS: tuple[str, ...] = ("src", "dst", "pair")
#: Site-wide keys whose windows only feed the relative features, never a column of their own:
#: ``svc`` a service (transport and responder port), ``site`` every connection at once.
SITE_KINDS: tuple[str, ...] = ("svc", "site")
_PROTOS = {"tcp": 0, "udp": 1, "icmp": 2}

#: A connection ending more than this many seconds after the event clock is a time jump.
#: Twice the longest default scale: beyond it every window has decayed anyway.
MAX_TIME_JUMP = 3600.0
#: A jump is believed (a real gap in the traffic) once this many connections in a row
#: lie beyond it; until then each is scored at the current clock and counted.
JUMP_CONFIRMATIONS = 3

#: (name suffix, meaning) of the context statistics, same for every key and scale.
#: The absolute count stays beside the share: without it the C&C of two held-out captures
#: was no longer caught at all (docs/ablation.md, "counts and shares").
_CONTEXT_STATS: tuple[tuple[str, str], ...] = (
    ("log_count", "log1p of the decayed number of connections"),
    (
        "log_share",
        "log of this key's share of all the site's connections in the window "
        "(decayed counts; 0 = all of them)",
    ),
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
#: Floor of the share features (log 1e-4): a key with almost none of the traffic.
_SHARE_FLOOR = math.log(1e-4)
#: (name, meaning) of the site-relative features, one set per scale, after the key blocks.
_SITE_STATS: tuple[tuple[str, str], ...] = (
    (
        "dst_{lab}_host_share",
        "share of the site's originators in the window that talked to this responder "
        "(a resolver every host uses is near 1)",
    ),
    (
        "svc_{lab}_log_share",
        "log of this service's (transport, responder port) share of the "
        "site's connections in the window",
    ),
    (
        "svc_{lab}_host_share",
        "share of the site's originators in the window that used this service",
    ),
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
    for scale in config.scales:
        lab = _scale_label(scale)
        for name, meaning in _SITE_STATS:
            specs.append((name.format(lab=lab), f"{lab} scale: {meaning}"))
    return specs


def feature_names(config: FeatureConfig) -> list[str]:
    """Feature names in vector order."""
    return [n for n, _ in feature_specs(config)]


def schema_hash(config: FeatureConfig) -> str:
    """Fingerprint of names + meaning-changing settings; models store and check it."""
    payload = "\n".join(feature_names(config)) + repr(config.schema_config())
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


class FeatureExtractor:
    """Turn connections, in connection-end order, into feature vectors.

    Stateful: each call to :meth:`transform`/:meth:`transform_one` also
    updates the windows, so feed every connection exactly once, in the order
    Zeek finishes them. Batches are computed with numpy and give exactly the
    result of feeding the same connections one at a time. Use one extractor
    per independent traffic source (one per capture in training) and
    :meth:`reset` between sources.

    Parameters
    ----------
    config : FeatureConfig, optional
        Scales, key cap and local networks.
    """

    #: Largest batch computed in one go (longer inputs are split).
    chunk_size = 4096

    def __init__(self, config: FeatureConfig | None = None) -> None:
        self.config = config or FeatureConfig()
        self.feature_names: list[str] = feature_names(self.config)
        self.n_features: int = len(self.feature_names)
        self.n_own: int = len(_own_feature_specs())
        self._nets = Networks(self.config.local_networks)
        self._state_index = {s: i for i, s in enumerate(CONN_STATES)}
        self._service_index = {s: i for i, s in enumerate(SERVICES)}
        self._hist_cache: dict[str, list[float]] = {}
        self._service_cache: dict[str | None, int] = {}
        self._slot_cache: dict[str, int] = {}
        self._scales = np.asarray(self.config.scales, dtype=np.float64)
        self.reset()

    def reset(self) -> None:
        """Forget all traffic context (start of a new, unrelated capture)."""
        n = len(self.config.scales)
        self.tables: dict[str, SlotTable] = {
            kind: SlotTable(self.config.max_keys, n) for kind in KEY_KINDS
        }
        #: Windows of the services and of the whole site (see :data:`SITE_KINDS`).
        self.site_tables: dict[str, SlotTable] = {
            "svc": SlotTable(self.config.max_keys, n),
            "site": SlotTable(1, n),
        }
        self._clock = -math.inf
        #: Connections whose end lay more than MAX_TIME_JUMP past the clock and were
        #: scored at the clock instead (one bad timestamp must not freeze the clock).
        self.time_jumps_clamped = 0
        #: Jumps believed after JUMP_CONFIRMATIONS connections in a row (gaps in traffic).
        self.time_jumps_accepted = 0
        self._jump_run = 0
        self.last_times = np.zeros(0)

    @property
    def tracked_keys(self) -> dict[str, int]:
        """Current number of keys per kind (bounded by ``max_keys``)."""
        return {k: len(t) for k, t in self.tables.items()}

    @property
    def evicted_keys(self) -> dict[str, int]:
        """Keys evicted so far per kind (0 unless the cap was reached)."""
        return {k: t.evicted for k, t in self.tables.items()}

    def transform_one(self, rec: ConnRecord) -> list[float]:
        """Features of one connection, updating the windows."""
        return [float(v) for v in self.transform([rec])[0]]

    def transform(self, records: Iterable[ConnRecord], update: bool = True) -> np.ndarray:
        """Feature matrix (float32, one row per record), updating the windows.

        With ``update=False`` the records are scored as if they came next but
        leave no trace (Zeek's interim summaries of still-open connections:
        the final summary will be counted later).
        """
        recs = records if isinstance(records, list) else list(records)
        return self.transform_columns(ConnColumns.from_records(recs), update)

    def transform_columns(self, cols: ConnColumns, update: bool = True) -> np.ndarray:
        """:meth:`transform` of a columnar batch (what the conn.log reader yields)."""
        n = len(cols)
        out = np.zeros((n, self.n_features), dtype=np.float32)
        if n == 0:
            self.last_times = np.zeros(0)
            return out
        t = cols.num[:, _TS] + np.nan_to_num(cols.num[:, _DUR])
        t[~np.isfinite(t)] = -np.inf
        t = self._guard_jumps(t, update)
        # Connections finish slightly out of order; never let time run backwards.
        t = np.maximum.accumulate(np.concatenate([[self._clock], t]))[1:]
        t[~np.isfinite(t)] = 0.0
        #: Event time of each row of the last batch (monotone, jump-guarded): the clock
        #: the site learner measures its learning period on.
        self.last_times = t
        out[:, : self.n_own] = self._own(cols)
        if not update:
            self._context(cols, t, out[:, self.n_own :], update=False)
            return out
        self._clock = float(t[-1])
        limit = max(1, min(self.chunk_size, self.config.max_keys // 2 or 1))
        for start in range(0, n, limit):
            end = min(start + limit, n)
            self._context(cols.part(start, end), t[start:end], out[start:end, self.n_own :])
        return out

    def _guard_jumps(self, t: np.ndarray, update: bool) -> np.ndarray:
        """End times with unconfirmed jumps ahead of the clock pulled back to it.

        A single connection stamped a year ahead would otherwise move the clock
        there, and every later connection would be scored as if all traffic
        had stopped for a year. A real gap (a quiet night, a capture resumed)
        is believed once :data:`JUMP_CONFIRMATIONS` connections in a row lie
        beyond :data:`MAX_TIME_JUMP`. The common case (no jump) costs one
        vectorised comparison.
        """
        ref = np.maximum.accumulate(np.concatenate([[self._clock], t]))[:-1]
        if not np.any(t > ref + MAX_TIME_JUMP) and self._jump_run == 0:
            return t
        t = t.copy()
        clock, run = self._clock, self._jump_run
        clamped = accepted = 0
        for i, ti in enumerate(t):
            if math.isfinite(clock) and ti > clock + MAX_TIME_JUMP:
                run += 1
                if run < JUMP_CONFIRMATIONS:
                    t[i] = clock
                    clamped += 1
                    continue
                accepted += 1
            run = 0
            clock = max(clock, float(ti))
        if update:
            self._jump_run = run
            self.time_jumps_clamped += clamped
            self.time_jumps_accepted += accepted
        return t

    def _slots(self, addrs: list[str]) -> np.ndarray:
        cache = self._slot_cache
        if len(cache) > 1 << 18:
            cache.clear()
        get = cache.get
        out = [get(a, -1) for a in addrs]
        if -1 in out:
            for i, s in enumerate(out):
                if s < 0:
                    out[i] = cache[addrs[i]] = str_slot(addrs[i])
        return np.array(out, dtype=np.int64).reshape(-1)

    def _context(
        self, cols: ConnColumns, t: np.ndarray, out: np.ndarray, update: bool = True
    ) -> None:
        """Context columns of a batch: the key blocks, short counts, then the site block.

        Five key kinds run through the same kernel (src, dst, pair and the
        site-wide svc and site); what is written is relative to the site
        wherever the absolute figure would describe the capture's size.
        """
        num = cols.num
        num0 = np.nan_to_num(num)  # one call for every column (numpy calls cost per call)
        total = num0[:, _OB] + num0[:, _RB]
        failed = np.array([s in FAILED_STATES for s in cols.conn_state], np.float64).reshape(-1)
        lb = np.log1p(np.maximum(total, 0.0))
        ld = np.log1p(np.maximum(num0[:, _DUR], 0.0))
        port_slot = PORT_SLOTS[num[:, _RP].astype(np.int64) & 0xFFFF]
        n_stats = len(_CONTEXT_STATS) - 1  # the kernel's; the share is derived from them
        width = len(self.config.scales) * n_stats
        orig, resp = cols.orig_h, cols.resp_h
        orig_slot = self._slots(orig)
        resp_p = cols.ports[1]
        plan: list[tuple[SlotTable, list[Any], np.ndarray]] = [
            (self.tables["src"], orig, self._slots(resp)),
            (self.tables["dst"], resp, orig_slot),
            (
                self.tables["pair"],
                list(zip(orig, resp, strict=True)),
                PORT_SLOTS[num[:, _OP].astype(np.int64) & 0xFFFF],
            ),
            (
                self.site_tables["svc"],
                [f"{p}/{q}" for p, q in zip(cols.proto, resp_p, strict=True)],
                orig_slot,
            ),
            (self.site_tables["site"], ["*"] * len(orig), orig_slot),
        ]
        raw = np.zeros((len(orig), len(plan) * width))
        for j, (table, keys, peer_slot) in enumerate(plan):
            slots, fresh = table.assign(keys, allocate=update)
            # A key without state starts fresh at its first connection of the batch.
            uniq, first, inverse = np.unique(slots, return_index=True, return_inverse=True)
            new = np.zeros(len(slots), dtype=bool)
            new[first] = fresh[first]
            if update:
                rows, stats, last, sketch = slots, table.stats, table.last, table.sketch
            else:  # score on a scratch copy of the rows involved; the tables stay as they are
                src = np.minimum(uniq, table.cap - 1)
                rows, stats = inverse.reshape(-1), table.stats[src]
                last, sketch = table.last[src], table.sketch[src]
            context_kernel(rows, new, t, failed, lb, ld, peer_slot, port_slot, self._scales,
                            stats, last, sketch, raw[:, j * width : (j + 1) * width])  # fmt: skip
        self._relative(raw, out, width, n_stats)

    def _relative(self, raw: np.ndarray, out: np.ndarray, width: int, n_stats: int) -> None:
        """Write the feature columns from the kernel's raw per-kind statistics."""
        n_scales = len(self.config.scales)
        blocks = raw.reshape(len(raw), 5, n_scales, n_stats)
        # log of the decayed counts (each >= 1: the connection itself is counted)
        log_cnt = np.log(np.maximum(np.expm1(blocks[:, :, :, 0]), 1.0))
        site_cnt = log_cnt[:, 4:5, :]
        keys = np.empty((len(raw), 3, n_scales, n_stats + 1))
        keys[..., 0] = blocks[:, :3, :, 0]
        keys[..., 1] = np.clip(log_cnt[:, :3] - site_cnt, _SHARE_FLOOR, 0.0)
        keys[..., 2:] = blocks[:, :3, :, 1:]
        n_key = keys[0].size
        out[:, :n_key] = keys.reshape(len(raw), n_key)
        site_hosts = np.maximum(np.expm1(blocks[:, 4, :, 2]), 1.0)
        extra = np.empty((len(raw), n_scales, len(_SITE_STATS)))
        extra[:, :, 0] = np.clip(np.expm1(blocks[:, 1, :, 2]) / site_hosts, 0.0, 1.0)
        extra[:, :, 1] = np.clip(log_cnt[:, 3] - log_cnt[:, 4], _SHARE_FLOOR, 0.0)
        extra[:, :, 2] = np.clip(np.expm1(blocks[:, 3, :, 2]) / site_hosts, 0.0, 1.0)
        out[:, n_key:] = extra.reshape(len(raw), -1)

    def _own(self, cols: ConnColumns) -> np.ndarray:
        num = cols.num
        n = len(num)
        dur = num[:, _DUR]
        ob, rb = num[:, _OB], num[:, _RB]
        num0 = np.nan_to_num(num)
        op, rp = num0[:, _OPK], num0[:, _RPK]
        oib, rib = num0[:, _OIB], num0[:, _RIB]
        ob0, rb0 = num0[:, _OB], num0[:, _RB]
        with np.errstate(divide="ignore", invalid="ignore"):
            obpp = np.where(op > 0, np.log1p(oib / op), 0.0)
            rbpp = np.where(rp > 0, np.log1p(rib / rp), 0.0)
        protos = cols.proto
        own = [
            np.where(np.isfinite(dur) & (dur > 0), np.log1p(num0[:, _DUR]), 0.0),
            np.log1p(ob0),
            np.log1p(rb0),
            np.log1p(op),
            np.log1p(rp),
            np.log1p(oib),
            np.log1p(rib),
            np.log1p(num0[:, _MISSED]),
            np.isnan(dur),
            np.isnan(ob) & np.isnan(rb),
            np.log((ob0 + 1) / (rb0 + 1)),
            np.log((op + 1) / (rp + 1)),
            obpp,
            rbpp,
        ]
        get_proto = _PROTOS.get
        proto = np.array([get_proto(x, 3) for x in protos], dtype=np.int8).reshape(-1)
        own += [proto == 0, proto == 1, proto == 2]
        states = np.zeros((n, len(CONN_STATES) + 1))
        sidx = [self._state_index.get(s or "", len(CONN_STATES)) for s in cols.conn_state]
        states[np.arange(n), sidx] = 1.0
        hist = np.array([self._history(h or "") for h in cols.history], dtype=np.float64)
        services = np.zeros((n, len(SERVICES) + 2))
        services[np.arange(n), self._services(cols.service)] = 1.0
        rp_, op_ = num[:, _RP], num[:, _OP]
        not_icmp = proto != 2
        resp = np.array(self._nets.classify_all(cols.resp_h), dtype=bool).reshape(n, 2)
        orig = np.array(self._nets.classify_all(cols.orig_h), dtype=bool).reshape(n, 2)
        tail = [
            (rp_ < 1024) & not_icmp,
            (rp_ >= 1024) & (rp_ < 49152) & not_icmp,
            (op_ < 1024) & not_icmp,
            orig[:, 0],
            resp[:, 0],
            resp[:, 1],
        ]
        return np.hstack(
            [
                np.column_stack(own).astype(np.float64),
                states,
                hist,
                services,
                np.column_stack(tail).astype(np.float64),
            ]
        )

    def _history(self, hist: str) -> list[float]:
        row = self._hist_cache.get(hist)
        if row is None:
            row = []
            for flag in HISTORY_FLAGS:
                row.append(1.0 if flag in hist else 0.0)
                row.append(1.0 if flag.lower() in hist else 0.0)
            row.append(1.0 if "^" in hist else 0.0)
            row.append(math.log1p(len(hist)))
            if len(self._hist_cache) < 65536:
                self._hist_cache[hist] = row
        return row

    def _services(self, services: list[str | None]) -> list[int]:
        cache = self._service_cache
        out = [cache.get(s, -1) for s in services]
        if -1 in out:
            for i, v in enumerate(out):
                if v < 0:
                    out[i] = cache[services[i]] = self._service(services[i])
            if len(cache) > 65536:
                cache.clear()
        return out

    def _service(self, svc: str | None) -> int:
        if not svc:
            return len(SERVICES) + 1
        first = svc.split(",", 1)[0].lower().lstrip("-")
        return self._service_index.get(first, len(SERVICES))


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
