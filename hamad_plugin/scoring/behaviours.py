"""Behaviour evidence: what a sequence of connections gives away that no single one does.

Why it exists: the ensemble judges one connection with its recent context, and
the behaviours below look ordinary one connection at a time. A password guess
is a short, small, successful-looking SSH session; a slow scan is one failed
connection every few seconds; a C&C heartbeat is one small HTTP request a
minute; a DNS tunnel is a DNS query. The trees never saw enough of them to
learn them (measured before this module, simulator seeds 0/7/11/23: 0-3 % of
SSH and Telnet guesses, 0-2 % of DNS tunnelling, 0-1 % of heartbeats after
learning; docs/detection.md). Each detector here keeps bounded state per key,
reads only the connection fields Zeek sends (never labels), and marks the
connections that carry its behaviour. The pipeline flags them whatever the
score, never learns them, and names the behaviour in the verdict.

The same code runs for ``hamad replay`` and ``hamad serve`` (both drive
:class:`~hamad_plugin.scoring.pipeline.Pipeline`); it is evidence beside the
model, not a model input, because a model can only learn a behaviour from
labelled examples of it and the training captures have almost none.

Detectors, in the order a verdict names them when several agree:

* :class:`PasswordGuessing`: many short, small, similar connections from one
  client to one login service (SSH, Telnet, FTP, RDP, VNC, mail and database
  logins) within minutes;
* :class:`SlowScan`: one client's connections that carry no payload to many
  distinct hosts on one port (horizontal) or many ports of one host
  (vertical), remembered for hours;
* :class:`DnsTunnel`: one client's DNS queries that are long and many (the
  names themselves where Zeek sends its DNS part, else bytes per query);
* :class:`Beacon`: a new pair (client, responder, port) whose connections come
  at regular intervals with regular sizes, scored like RITA (dispersion and
  skew of the intervals and sizes) to a responder no other local host uses;
* :class:`LargeTransfer` (``download``, ``exfiltration``): a large one-way
  transfer on a service the client has not used in a day, with an outside
  responder no other local host uses.

Memory: every table keeps at most ``max_keys`` keys (the least recently used
go first) and every key a fixed number of recent items, so the state is
bounded on any input (``hamad bench`` prints the figure).
"""

from __future__ import annotations

import math
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.features import FAILED_STATES
from ..core.networks import DEFAULT_LOCAL_NETWORKS, Networks
from ..core.records import DUR, OB, OPK, RB, ConnColumns

#: Keys each table keeps at most (least recently used dropped first).
MAX_KEYS = 50_000


class _Lru(OrderedDict[Any, Any]):
    """A dict that forgets its least recently used keys beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def touch(self, key: Any, make: Any) -> Any:
        v = self.get(key)
        if v is None:
            v = make()
            self[key] = v
            if len(self) > self.limit:
                self.popitem(last=False)
        else:
            self.move_to_end(key)
        return v


def _floats(values: Sequence[float] | np.ndarray) -> list[float]:
    return values.tolist() if isinstance(values, np.ndarray) else [float(x) for x in values]


def _quantile(v: list[float], q: float) -> float:
    """numpy's default ("linear") quantile of the sorted list ``v``, to the bit.

    Pure Python because the detectors ask for quantiles of a few dozen numbers per
    connection, where numpy's per-call overhead is most of the cost (the beacon
    score went from about 80 to 6 µs)."""
    pos = (len(v) - 1) * q
    lo = int(pos)
    if lo + 1 >= len(v):
        return v[-1]
    t = pos - lo
    a, b = v[lo], v[lo + 1]
    d = b - a
    return b - d * (1.0 - t) if t >= 0.5 else a + d * t


def _median(v: list[float]) -> float:
    """np.median of the sorted list ``v``."""
    n = len(v)
    m = n // 2
    return v[m] if n % 2 else (v[m - 1] + v[m]) / 2


def robust_dispersion(values: Sequence[float] | np.ndarray) -> float:
    """Median absolute deviation over the median (0 = identical values)."""
    a = sorted(_floats(values))
    med = _median(a)
    if med <= 0:
        return math.inf
    return _median(sorted(abs(x - med) for x in a)) / med


def bowley_skew(values: Sequence[float] | np.ndarray) -> float:
    """Bowley's quartile skewness in [-1, 1] (0 for a symmetric spread, as RITA scores it)."""
    v = sorted(_floats(values))
    q1, q2, q3 = _quantile(v, 0.25), _quantile(v, 0.5), _quantile(v, 0.75)
    if q3 - q1 <= 1e-9:
        return 0.0
    return (q3 + q1 - 2 * q2) / (q3 - q1)


def alike_share(values: Sequence[float], ratio: float) -> float:
    """The largest share of ``values`` within a factor ``ratio`` of each other (one size
    cluster: a tool's repeated exchange, however many probes and resets lie beside it)."""
    v = sorted(values)
    best, lo = 0, 0
    for hi, x in enumerate(v):
        while v[lo] * ratio < x:
            lo += 1
        best = max(best, hi - lo + 1)
    return best / len(v) if v else 0.0


def regularity(values: Sequence[float] | np.ndarray) -> float:
    """RITA-style regularity in [0, 1]: the mean of 1-|skew| and 1-dispersion."""
    return 0.5 * ((1.0 - abs(bowley_skew(values))) + max(0.0, 1.0 - robust_dispersion(values)))


@dataclass
class _Row:
    """The fields of one connection the detectors read."""

    t: float
    orig_h: str
    resp_h: str
    resp_p: int
    proto: str
    state: str
    history: str
    service: str
    duration: float
    orig_bytes: float
    resp_bytes: float
    orig_pkts: float
    #: Zeek's DNS analyzer's view (``HAMAD::DnsSummary``): queries, longest name,
    #: its entropy; queries is 0 when the summary carried none (every conn.log).
    dns_queries: float = 0.0
    dns_longest: float = 0.0
    dns_entropy: float = 0.0


def began(r: _Row) -> bool:
    """Whether the client opened this connection with a SYN (Zeek's history starts "S";
    an unknown history counts). Zeek also logs fragments of connections it saw
    mid-way, and splits idle long ones at its inactivity timeout into records
    without a SYN ("F", "A", OTH): those are neither probes nor polls."""
    return r.proto != "tcp" or not r.history or r.history[0] == "S"


class PasswordGuessing:
    """Many short, small, similar connections from one client to one login service.

    Evidence, per (client, responder port, protocol) over the last
    :data:`WINDOW` seconds: at least :data:`MIN_ATTEMPTS` connections, at least
    :data:`SHAPED_SHARE` of them *attempt-shaped* (shorter than
    :data:`MAX_DURATION`, fewer than :data:`MAX_ORIG_BYTES` sent and
    :data:`MAX_RESP_BYTES` received: a login exchange and its rejection, not a
    session or a transfer), at least :data:`ANSWERED_SHARE` answered (a
    sweep of SYNs to port 23 is a scan, :class:`SlowScan`'s), and the answered
    ones' sent bytes alike (robust dispersion <= :data:`MAX_DISPERSION`, or
    at least :data:`CLUSTER_SHARE` of them within a factor
    :data:`CLUSTER_RATIO` of each other: a guessing tool repeats the same
    exchange, and nmap's banner probes and resets beside it are a second
    cluster that throws the median off). Guesses spread over several
    servers count together, like Zeek's own ``detect-bruteforcing.zeek``.

    A port counts as a login service for a client once Zeek named a login
    service on it for that client (SSH on 902: its resets and banner probes,
    which Zeek cannot name, count as attempts too).

    Cannot see: guesses slower than :data:`MIN_ATTEMPTS` per window; HTTP
    logins (port 80/443 traffic is mostly short and alike, the failure is in
    the status code, which conn.log does not carry); a guess that reuses one
    connection for many passwords (one connection, one attempt here).
    """

    name = "password-guessing"
    #: Ports of login services (also any connection Zeek's analyzers call one of
    #: :data:`SERVICES`).
    PORTS = frozenset({21, 22, 23, 110, 143, 993, 995, 1433, 2222, 2323, 3306, 3389, 5432,
                       5900, 5901})  # fmt: skip
    SERVICES = frozenset({"ssh", "ftp", "telnet", "rdp", "vnc", "pop3", "imap", "mysql"})
    WINDOW = 600.0
    MIN_ATTEMPTS = 10
    SHAPED_SHARE = 0.8
    ANSWERED_SHARE = 0.5
    MAX_DURATION = 30.0
    MAX_ORIG_BYTES = 8192
    MAX_RESP_BYTES = 16384
    MAX_DISPERSION = 0.5
    CLUSTER_SHARE = 0.5
    CLUSTER_RATIO = 1.25
    #: Attempts a key remembers.
    DEPTH = 32

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self.keys: _Lru = _Lru(max_keys)

    def candidate(self, r: _Row) -> bool:
        """A login port or service, or a port this client already used as one (the resets
        and probes of a guessing run that Zeek's analyzer could not name)."""
        return r.proto == "tcp" and (
            r.resp_p in self.PORTS
            or r.service in self.SERVICES
            or (r.orig_h, r.resp_p, r.proto) in self.keys
        )

    def observe(self, r: _Row, update: bool) -> bool:
        key = (r.orig_h, r.resp_p, r.proto)
        seen: list[tuple[float, bool, float]] = self.keys.touch(key, list) if update else (
            self.keys.get(key) or [])  # fmt: skip
        shaped = (
            r.duration < self.MAX_DURATION
            and r.orig_bytes < self.MAX_ORIG_BYTES
            and r.resp_bytes < self.MAX_RESP_BYTES
        )
        items = [x for x in seen if r.t - x[0] <= self.WINDOW]
        items.append((r.t, shaped, r.orig_bytes if r.state not in FAILED_STATES else -1.0))
        if update:
            seen[:] = items[-self.DEPTH :]
        if len(items) < self.MIN_ATTEMPTS:
            return False
        if sum(1 for x in items if x[1]) < self.SHAPED_SHARE * len(items):
            return False
        sizes = [x[2] for x in items if x[2] >= 0]
        if len(sizes) < self.ANSWERED_SHARE * len(items):
            return False
        sent = [x for x in sizes if x > 0]
        return (
            len(sent) < 3
            or robust_dispersion(sent) <= self.MAX_DISPERSION
            or alike_share(sent, self.CLUSTER_RATIO) >= self.CLUSTER_SHARE
        )


class SlowScan:
    """Connections without payload from one client to many hosts on a port, or many
    ports of a host, remembered for :data:`HORIZON` (6 h) in bounded memory.

    A *probe* is a TCP connection the client sent nothing on (S0, REJ, a
    handshake closed at once). Evidence, per (client, port) for horizontal and
    (client, responder) for vertical scans: at least :data:`MIN_DISTINCT`
    distinct probed hosts (ports) within the horizon, and probes at least
    :data:`PROBE_SHARE` of the key's connections (a client whose connections
    to 443 mostly work is not scanning 443 when a few fail).

    Memory: each key keeps only its :data:`DEPTH` most recent distinct probed
    items, exact, and each table :data:`MAX_KEYS` keys. Only "at least
    MIN_DISTINCT" matters, so a bounded exact set answers it where a
    cardinality sketch (HyperLogLog) would estimate numbers nobody reads.

    Cannot see: scans slower than MIN_DISTINCT probes in 6 h; UDP scans (an
    unanswered UDP datagram is ordinary: mDNS, SSDP, games); scans whose
    probes carry payload (an application-level sweep that logs in: that is
    :class:`PasswordGuessing`'s or the model's).
    """

    name = "scan"
    HORIZON = 6 * 3600.0
    MIN_DISTINCT = 10
    PROBE_SHARE = 0.5
    DEPTH = 32
    #: Decay of the connection and probe counts (the horizon).
    TAU = HORIZON

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self.horizontal: _Lru = _Lru(max_keys)
        self.vertical: _Lru = _Lru(max_keys)

    @staticmethod
    def candidate(r: _Row) -> bool:
        return r.proto == "tcp" and began(r)

    def observe(self, r: _Row, update: bool) -> bool:
        probe = r.state in FAILED_STATES or not r.orig_bytes > 0
        hit = False
        for table, key, item in (
            (self.horizontal, (r.orig_h, r.resp_p), r.resp_h),
            (self.vertical, (r.orig_h, r.resp_h), r.resp_p),
        ):
            state = table.get(key)
            if state is None:
                if not probe:
                    continue  # keys start with a probe: ordinary traffic costs no memory
                if update:
                    state = table.touch(key, lambda: [r.t, 0.0, 0.0, {}])
                else:
                    state = [r.t, 0.0, 0.0, {}]
            elif update:
                table.move_to_end(key)
            hit = self._step(state, r, probe, item, update) or hit
        return hit

    def _step(self, s: list[Any], r: _Row, probe: bool, item: Any, update: bool) -> bool:
        """s = [last time, decayed connections, decayed probes, {item: last probe time}]."""
        decay = math.exp(-max(r.t - s[0], 0.0) / self.TAU)
        conns, probes = s[1] * decay + 1.0, s[2] * decay + (1.0 if probe else 0.0)
        items: dict[Any, float] = s[3] if update else dict(s[3])
        if probe:
            items.pop(item, None)
            items[item] = r.t
            while len(items) > self.DEPTH:
                del items[next(iter(items))]
        if update:
            s[0], s[1], s[2] = r.t, conns, probes
        recent = sum(1 for t in items.values() if r.t - t <= self.HORIZON)
        return probe and recent >= self.MIN_DISTINCT and probes >= self.PROBE_SHARE * conns


class DnsTunnel:
    """Many long DNS queries from one client: data hidden in query names.

    Evidence, per client over the last :data:`WINDOW` seconds: at least
    :data:`MIN_QUERIES` *long* queries to port 53 (UDP or TCP), of at least
    :data:`MIN_QUERY_BYTES` each (a connection's bytes over its query
    packets). An ordinary query is 30-60 bytes (header, a name of a few
    labels, EDNS); a tunnel packs each name near its 255-byte limit. The
    client's ordinary queries neither hide nor count towards it, and any
    resolver counts, local or public, so switching resolvers does not hide
    it. Only the long queries are marked.

    Where Zeek's DNS analyzer ran and ``HAMAD::send_dns`` is on, the summary
    carries the longest query name's length and entropy: a query is long when
    its name has at least :data:`MIN_NAME_CHARS` characters and
    :data:`MIN_ENTROPY` bits per character, so padded short names (EDNS
    padding) are not mistaken for a tunnel, and the analyzer's query count
    replaces the packet estimate.

    Cannot see: tunnels that keep names short (slow, small exfiltration);
    data carried in answers only (downloads via TXT records with short
    queries). Known look-alikes: antivirus and DNSBL lookups with long hashed
    names (docs/detection.md).
    """

    name = "dns-tunnel"
    WINDOW = 600.0
    MIN_QUERIES = 6
    MIN_QUERY_BYTES = 100.0
    #: With Zeek's DNS fields: the longest name's characters (a 100-byte query packet
    #: holds a name of about 72: header 12, qtype and class 4, EDNS 11) and its
    #: entropy in bits per character (a payload's encoding, not "aaaa...aaa").
    MIN_NAME_CHARS = 72
    MIN_ENTROPY = 3.0
    DEPTH = 64

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self.keys: _Lru = _Lru(max_keys)

    @staticmethod
    def candidate(r: _Row) -> bool:
        return r.resp_p == 53 and r.proto in ("udp", "tcp")

    def observe(self, r: _Row, update: bool) -> bool:
        if r.dns_queries >= 1:  # Zeek parsed the queries: read the names
            queries = r.dns_queries
            if r.dns_longest < self.MIN_NAME_CHARS or r.dns_entropy < self.MIN_ENTROPY:
                return False
        else:
            queries = r.orig_pkts if r.orig_pkts >= 1 else 1.0
            if r.proto == "tcp":  # the handshake and FINs carry no query
                queries = max(1.0, queries - 3.0)
            if not r.orig_bytes / queries >= self.MIN_QUERY_BYTES:
                return False
        seen: list[tuple[float, float]] = self.keys.touch(r.orig_h, list) if update else (
            self.keys.get(r.orig_h) or [])  # fmt: skip
        items = [x for x in seen if r.t - x[0] <= self.WINDOW]
        items.append((r.t, queries))
        if update:
            seen[:] = items[-self.DEPTH :]
        return sum(x[1] for x in items) >= self.MIN_QUERIES


class ResponderUsers:
    """Which local clients use each outside responder: up to two, which is all the
    detectors ask ("does any other local host use it?").

    Shared by :class:`Beacon` and :class:`LargeTransfer` so that the site's
    popularity of a responder is one table, kept once."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self.table: _Lru = _Lru(max_keys)

    def add(self, r: _Row, update: bool) -> set[str]:
        """The responder's users with this client added (kept only if ``update``)."""
        users: set[str] = self.table.touch(r.resp_h, set) if update else set(
            self.table.get(r.resp_h, ()))  # fmt: skip
        if len(users) < 2:
            users.add(r.orig_h)
        return users

    @staticmethod
    def only(users: set[str], client: str) -> bool:
        """Whether ``client`` is the responder's only local user."""
        return users == {client}


class Beacon:
    """A new, regular pair: a client polling one outside responder at fixed intervals.

    Evidence, per (client, responder, port, protocol), on its last
    :data:`DEPTH` connections within :data:`HORIZON`: at least
    :data:`MIN_INTERVALS` intervals (connections closer than 0.5 s are one
    burst) and a beacon score of at least :data:`MIN_SCORE`: the mean of the
    RITA-style :func:`regularity` of the intervals and of the sent sizes (a
    poll repeats the same request). The responder is outside the local
    networks and no other local host has used it, and the pair began while
    the network was watched: its first connection came at least
    :data:`LEAD_INTERVALS` of its own median interval after this detector
    started observing (or :data:`NEW_AFTER`, whichever is shorter).

    Why "new": a device's keep-alive to its cloud is as regular as a C&C
    heartbeat; what sets the heartbeat apart on a network being watched is
    that it begins while the network is watched. A poll that was running
    before HAMAD started shows up within one of its intervals; one that
    first shows up several intervals later began since. A fixed hour instead
    missed every heartbeat that began in the first hour of a deployment, the
    learning period an attacker would pick (simulator, seed 4101, 64 hosts,
    learning 1 h: 0 of 339-384 heartbeat connections after learning, begun
    at 0, 15 or 45 minutes). Why the mean of both: the
    quartile skew of a few dozen jittered intervals is noisy (one window of
    a heartbeat with +-10 % jitter scores 0.66, the next 0.95); averaging
    intervals and sizes, as RITA averages its time and data scores, halves
    that noise.

    Cannot see: a beacon running before HAMAD started, or begun within its
    first few intervals (learned like the keep-alives; docs/detection.md);
    one with heavy jitter or varying sizes (score below the bound) or fewer
    than MIN_INTERVALS polls in the horizon; beacons to a responder other
    local hosts use (a shared cloud front), and infrastructure protocols
    (:data:`INFRASTRUCTURE`: NTP, DNS, DHCP, multicast discovery), which poll
    by design.
    """

    name = "beacon"
    HORIZON = 6 * 3600.0
    DEPTH = 49
    MIN_INTERVALS = 12
    MIN_SCORE = 0.8
    NEW_AFTER = 3600.0
    #: A pair first seen this many of its median intervals after the start began since.
    LEAD_INTERVALS = 3.0
    INFRASTRUCTURE = frozenset({53, 67, 68, 123, 137, 138, 1900, 5353, 5355})
    #: Pairs tracked at most (each keeps 2 x DEPTH numbers).
    MAX_PAIRS = 20_000

    def __init__(self, networks: Networks, users: ResponderUsers,
                 max_keys: int = MAX_KEYS) -> None:  # fmt: skip
        self.networks = networks
        self.pairs: _Lru = _Lru(min(max_keys, self.MAX_PAIRS))
        self.users = users
        self.started: float | None = None

    def candidate(self, r: _Row) -> bool:
        return (
            r.resp_p not in self.INFRASTRUCTURE
            and began(r)
            and not self.networks.classify(r.resp_h)[0]
        )

    def observe(self, r: _Row, update: bool) -> bool:
        if self.started is None and update:
            self.started = r.t
        users = self.users.add(r, update)
        key = (r.orig_h, r.resp_h, r.resp_p, r.proto)
        p = self.pairs.get(key)
        if p is None:
            p = [r.t, array("d"), array("d")]  # first seen, times, sizes
            if update:
                self.pairs.touch(key, lambda: p)
        elif update:
            self.pairs.move_to_end(key)
        times: array[float] = p[1] if update else array("d", p[1])
        sizes: array[float] = p[2] if update else array("d", p[2])
        if not times or r.t - times[-1] >= 0.5:  # else the same burst
            times.append(r.t)
            sizes.append(r.orig_bytes if r.orig_bytes == r.orig_bytes else 0.0)
            while len(times) > self.DEPTH or r.t - times[0] > self.HORIZON:
                times.pop(0)
                sizes.pop(0)
        if len(times) <= self.MIN_INTERVALS:
            return False
        if self.started is None or not self.users.only(users, r.orig_h):
            return False
        gaps = _gaps(times)
        if not self.began_watched(p[0] - self.started, gaps):
            return False
        return self._score(gaps, sizes) >= self.MIN_SCORE

    def began_watched(self, lead: float, gaps: list[float]) -> bool:
        """Whether a pair first seen ``lead`` seconds after the start, polling at ``gaps``,
        began while the network was watched (the median gap only when under an hour)."""
        return lead >= self.NEW_AFTER or lead >= self.LEAD_INTERVALS * _median(sorted(gaps))

    @staticmethod
    def score(times: Sequence[float], sizes: Sequence[float]) -> float:
        """Beacon score of a pair's connection times and sent sizes, in [0, 1]."""
        return Beacon._score(_gaps(times), sizes)

    @staticmethod
    def _score(gaps: list[float], sizes: Sequence[float]) -> float:
        return 0.5 * (regularity(gaps) + regularity([x + 1.0 for x in sizes]))


def _gaps(times: Sequence[float]) -> list[float]:
    """Intervals between consecutive connection times."""
    t = list(times)
    return [b - a for a, b in zip(t, t[1:], strict=False)]


class LargeTransfer:
    """A large one-way transfer on a service the client has not used in a day, with an
    outside responder no other local host uses: a payload fetched by a device over a
    protocol it never speaks, data carried off over a new channel.

    Evidence, per direction (received bytes for ``download``, sent bytes for
    ``exfiltration``): the connection moved at least :data:`MIN_BYTES`, at
    least :data:`ASYMMETRY` times the bytes the other way (not a call or a
    sync), on a responder port this client had no connection on within
    :data:`HORIZON`; the client has been watched for at least :data:`WARMUP`
    (before that every service is new); the responder is outside the local
    networks and used by no other local host (a popular CDN or update server
    is the site's ordinary). Once a pair (client, responder) has such a
    transfer, its later ones of at least MIN_BYTES / :data:`FACTOR` within
    :data:`FOLLOW` seconds belong to it (a dropper fetches one binary per
    architecture).

    Why a new service, and not "larger than the client's record": a laptop's
    HTTPS downloads span four orders of magnitude, so "four times its record
    on 443" fired all day (7-38 benign hits per 34k connections on the
    64-host simulator days), and a voice assistant that makes hundreds of
    small plain-HTTP checks a day fetches its audio over the same port (one
    189 kB download in the IoT-23 honeypot capture 5-1). A camera that
    uploads video over TLS and never used plain HTTP has no history on port
    80: its first 100 kB fetch there is news.

    Cannot see: downloads over a service the client already uses (a laptop
    fetching malware over HTTPS, a device fetching it over its usual HTTP),
    transfers from a responder other local hosts also use (a compromised
    popular site), and a client's first 30 minutes. Known look-alikes: a
    host's first HTTPS download of the day from an address nobody else here
    uses, on a quiet network (docs/detection.md).
    """

    names = ("download", "exfiltration")
    HORIZON = 24 * 3600.0
    MIN_BYTES = 32_768.0
    FACTOR = 16.0
    ASYMMETRY = 4.0
    WARMUP = 1800.0
    FOLLOW = 600.0
    #: Flagged pairs remembered at most.
    MAX_FOLLOW = 1024

    def __init__(self, users: ResponderUsers, networks: Networks,
                 max_keys: int = MAX_KEYS) -> None:  # fmt: skip
        self.users = users
        self.networks = networks
        #: (client, responder port) -> time of the client's last connection on it
        self.services: _Lru = _Lru(max_keys)
        #: client -> first time seen
        self.clients: _Lru = _Lru(max_keys)
        #: (client, responder) -> time of its last evident transfer
        self.follow: _Lru = _Lru(self.MAX_FOLLOW)

    def judge(self, r: _Row, update: bool) -> str:
        """``download``, ``exfiltration`` or "" for one connection (every row passes here:
        each is a use of its service)."""
        first = self.clients.touch(r.orig_h, lambda: r.t) if update else self.clients.get(
            r.orig_h, r.t)  # fmt: skip
        key = (r.orig_h, r.resp_p)  # HTTPS and QUIC on 443 are one service
        used = self.services.get(key)
        if update:
            self.services.touch(key, lambda: r.t)
            self.services[key] = r.t
        down, up = r.resp_bytes, r.orig_bytes
        if down >= self.ASYMMETRY * up:
            name, size = "download", down
        elif up >= self.ASYMMETRY * down:
            name, size = "exfiltration", up
        else:
            return ""  # a call or a sync, not a one-way transfer
        if size * self.FACTOR < self.MIN_BYTES or r.proto not in ("tcp", "udp") or not began(r):
            return ""
        if self.networks.classify(r.resp_h)[0]:
            return ""
        pair = (r.orig_h, r.resp_h)
        last = self.follow.get(pair)
        hit = last is not None and r.t - last <= self.FOLLOW
        if not hit:
            hit = (
                (used is None or r.t - used > self.HORIZON)
                and size >= self.MIN_BYTES
                and r.t - first >= self.WARMUP
                and self.users.only(self.users.add(r, update), r.orig_h)
            )
        if not hit:
            return ""
        if update:
            self.follow.touch(pair, lambda: r.t)
            self.follow[pair] = r.t
        return name


@dataclass
class EvidenceBatch:
    """Per row of a batch: the behaviour its evidence names ("" = none)."""

    behaviour: list[str]

    @property
    def mask(self) -> np.ndarray:
        return np.array([b != "" for b in self.behaviour], dtype=bool)


class BehaviourEvidence:
    """All detectors over a stream of batches (see the module docstring).

    Parameters
    ----------
    local_networks : sequence of str
        The deployment's networks (the beacon detector looks outside them).
    max_keys : int
        Keys each detector table keeps at most.
    """

    def __init__(
        self, local_networks: Sequence[str] = DEFAULT_LOCAL_NETWORKS, max_keys: int = MAX_KEYS
    ) -> None:
        self._networks = Networks(local_networks)
        self._max_keys = max_keys
        #: Off only to measure what the evidence is for.
        self.enabled = True
        self.reset()

    def reset(self) -> None:
        users = ResponderUsers(self._max_keys)
        self.detectors = (
            PasswordGuessing(self._max_keys),
            SlowScan(self._max_keys),
            DnsTunnel(self._max_keys),
            Beacon(self._networks, users, self._max_keys),
        )
        #: Downloads and exfiltration: one pass for both directions (their tables are one).
        self.transfers = LargeTransfer(users, self._networks, self._max_keys)

    def check(self, cols: ConnColumns, times: np.ndarray, update: bool = True) -> EvidenceBatch:
        """The behaviour of each row, in stream order (``update=False``: judged, not kept)."""
        n = len(cols)
        out = [""] * n
        if not self.enabled or n == 0:
            return EvidenceBatch(out)
        num = np.nan_to_num(cols.num[:, [DUR, OB, RB, OPK]], nan=0.0).tolist()
        tl = np.asarray(times, dtype=np.float64).tolist()
        _, resp_p = cols.ports
        dns = None if cols.dns is None else np.nan_to_num(cols.dns[:, :3], nan=0.0).tolist()
        transfers = self.transfers
        for i in range(n):
            dur, ob, rb, opk = num[i]
            r = _Row(tl[i], cols.orig_h[i], cols.resp_h[i], resp_p[i], cols.proto[i],
                     cols.conn_state[i] or "", cols.history[i] or "", cols.service[i] or "",
                     dur, ob, rb, opk, *(dns[i] if dns is not None else ()))  # fmt: skip
            for d in self.detectors:
                if d.candidate(r) and d.observe(r, update) and not out[i]:
                    out[i] = d.name
            moved = transfers.judge(r, update)
            if moved and not out[i]:
                out[i] = moved
        return EvidenceBatch(out)
