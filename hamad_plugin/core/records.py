"""The typed connection record every HAMAD component works on.

A :class:`ConnRecord` carries the fields of one Zeek ``conn.log`` line
(``Conn::Info``). The conn.log reader, the Zeek transports and the feature
extractor all meet here, so a field renamed in one place fails everywhere.
Field names are Zeek's, with ``id.`` dropped (``id.orig_h`` -> ``orig_h``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any

import numpy as np

#: The conn.log columns the reader insists on; everything else may be absent.
REQUIRED_FIELDS: frozenset[str] = frozenset(
    {"ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto"}
)


@dataclass(frozen=True, slots=True)
class DnsSummary:
    """What Zeek's DNS analyzer saw of one connection's queries (``HAMAD::DnsSummary``).

    The optional part of the script-worker contract (``HAMAD::send_dns``):
    conn.log does not carry it, so replayed logs have none, and the DNS
    evidence falls back to bytes per query packet without it.
    """

    #: Queries the analyzer parsed.
    queries: int
    #: Characters of the longest query name.
    longest: int
    #: Shannon entropy of the longest name without its dots, bits per character.
    entropy: float
    #: Query type of the longest query (1 = A, 16 = TXT, 10 = NULL, ...).
    qtype: int


#: Fields of :class:`DnsSummary` (and ``HAMAD::DnsSummary``), in record order.
DNS_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(DnsSummary))


@dataclass(slots=True)
class ConnRecord:
    """One finished connection, as Zeek logs it to conn.log.

    Unset Zeek values (``-`` in TSV, omitted in JSON, ``none`` on the wire)
    are ``None``. ``label``/``detailed_label`` are only set for labelled
    datasets (IoT-23, Stratosphere); Zeek itself never sends them.
    """

    ts: float
    uid: str
    orig_h: str
    orig_p: int
    resp_h: str
    resp_p: int
    proto: str
    service: str | None = None
    duration: float | None = None
    orig_bytes: int | None = None
    resp_bytes: int | None = None
    conn_state: str | None = None
    local_orig: bool | None = None
    local_resp: bool | None = None
    missed_bytes: int | None = None
    history: str | None = None
    orig_pkts: int | None = None
    orig_ip_bytes: int | None = None
    resp_pkts: int | None = None
    resp_ip_bytes: int | None = None
    ip_proto: int | None = None
    label: str | None = None
    detailed_label: str | None = None
    dns: DnsSummary | None = None

    @property
    def end_ts(self) -> float:
        """Event time of the connection's end, the clock the features run on."""
        return self.ts + (self.duration or 0.0)

    @property
    def is_malicious(self) -> bool | None:
        """``True``/``False`` for Malicious/Benign labels, ``None`` when unknown.

        Stratosphere's ``Background`` label means "not labelled", so it maps to
        ``None`` and is left out of training and metrics.
        """
        if self.label is None:
            return None
        low = self.label.strip().lower()
        if low.startswith("malicious"):
            return True
        if low.startswith("benign") or low == "normal":
            return False
        return None


#: Fields of :class:`ConnRecord` that are dataset labels, never sent by Zeek.
LABEL_FIELDS: tuple[str, ...] = ("label", "detailed_label")
#: The fields Zeek knows (``Conn::Info`` less ``id.`` and ``tunnel_parents``), in record
#: order: the one list behind the conn.log columns and ``HAMAD::ConnSummary``.
ZEEK_FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(ConnRecord) if f.name not in (*LABEL_FIELDS, "dns")
)
_ID_FIELDS = frozenset({"orig_h", "orig_p", "resp_h", "resp_p"})
#: ``Conn::Info`` column names in Zeek 8's conn.log order (``id`` flattened).
#: ``ip_proto`` is new in Zeek 8; older logs omit it.
CONN_FIELDS: tuple[str, ...] = (
    *(f"id.{n}" if n in _ID_FIELDS else n for n in ZEEK_FIELDS if n != "ip_proto"),
    "tunnel_parents",
    "ip_proto",
)


#: The numeric columns of :attr:`ConnColumns.num`, in order (ports included).
NUMERIC: tuple[str, ...] = (
    "ts", "duration", "orig_bytes", "resp_bytes", "orig_pkts", "resp_pkts",
    "orig_ip_bytes", "resp_ip_bytes", "missed_bytes", "orig_p", "resp_p",
)  # fmt: skip
TS, DUR, OB, RB, OPK, RPK, OIB, RIB, MISSED, OP, RP = range(len(NUMERIC))
#: The text columns of :class:`ConnColumns`, in order.
TEXT: tuple[str, ...] = (
    "uid", "proto", "conn_state", "history", "service", "orig_h", "resp_h", "label",
    "detailed_label",
)  # fmt: skip
_get_numeric = attrgetter(*NUMERIC)
_get_text = attrgetter(*TEXT)


@dataclass
class ConnColumns:
    """A batch of connections as columns: what the scoring path works on.

    The conn.log reader fills it straight from the split lines (no object per
    connection); :meth:`from_records` builds it from :class:`ConnRecord` objects
    (the Zeek transports). ``num`` holds :data:`NUMERIC` as float64 with NaN
    where Zeek left a field unset; the text columns hold ``None`` there.
    """

    num: np.ndarray
    uid: list[str]
    proto: list[str]
    conn_state: list[str | None]
    history: list[str | None]
    service: list[str | None]
    orig_h: list[str]
    resp_h: list[str]
    label: list[str | None]
    detailed_label: list[str | None]
    #: :data:`DNS_FIELDS` per row (NaN where Zeek sent none), or ``None`` when no row
    #: of the batch has them (every conn.log).
    dns: np.ndarray | None = field(default=None, kw_only=True)

    def __len__(self) -> int:
        return len(self.uid)

    @classmethod
    def from_records(cls, recs: list[ConnRecord]) -> ConnColumns:
        if not recs:
            return cls(np.zeros((0, len(NUMERIC))), *([] for _ in TEXT))
        num = np.array(list(map(_get_numeric, recs)), dtype=np.float64).reshape(len(recs), -1)
        text = [list(c) for c in zip(*map(_get_text, recs), strict=True)]
        dns = None
        if any(r.dns is not None for r in recs):
            dns = np.full((len(recs), len(DNS_FIELDS)), np.nan)
            for i, r in enumerate(recs):
                if r.dns is not None:
                    dns[i] = (r.dns.queries, r.dns.longest, r.dns.entropy, r.dns.qtype)
        return cls(num, *text, dns=dns)

    @classmethod
    def concat(cls, parts: list[ConnColumns]) -> ConnColumns:
        if len(parts) == 1:
            return parts[0]
        num = np.concatenate([p.num for p in parts]) if parts else np.zeros((0, len(NUMERIC)))
        dns = None
        if any(p.dns is not None for p in parts):
            width = len(DNS_FIELDS)
            dns = np.concatenate([p.dns if p.dns is not None else np.full((len(p), width), np.nan)
                                  for p in parts])  # fmt: skip
        text = ([x for p in parts for x in getattr(p, name)] for name in TEXT)
        return cls(num, *text, dns=dns)

    def part(self, start: int, end: int) -> ConnColumns:
        dns = None if self.dns is None else self.dns[start:end]
        text = (getattr(self, n)[start:end] for n in TEXT)
        return ConnColumns(self.num[start:end], *text, dns=dns)

    def take(self, rows: list[int]) -> ConnColumns:
        """The rows ``rows`` of the batch, in that order (a shard's share of it)."""
        idx = np.asarray(rows, dtype=np.int64)
        dns = None if self.dns is None else self.dns[idx]
        text = ([getattr(self, n)[i] for i in rows] for n in TEXT)
        return ConnColumns(self.num[idx], *text, dns=dns)

    def records(self) -> list[ConnRecord]:
        """The connections as :class:`ConnRecord` objects (the fields the columns hold)."""
        num = self.num.tolist()
        out = []
        for i, row in enumerate(num):
            kw: dict[str, Any] = {k: _value(k, v) for k, v in zip(NUMERIC, row, strict=True)}
            kw.update({n: getattr(self, n)[i] for n in TEXT})
            if self.dns is not None and self.dns[i, 0] == self.dns[i, 0]:
                q, longest, entropy, qtype = self.dns[i].tolist()
                kw["dns"] = DnsSummary(int(q), int(longest), entropy, int(qtype))
            out.append(ConnRecord(**kw))
        return out

    @property
    def ports(self) -> tuple[list[int], list[int]]:
        """Originator and responder ports as ints."""
        p = self.num[:, [OP, RP]].astype(np.int64)
        return p[:, 0].tolist(), p[:, 1].tolist()


_INT_FIELDS = frozenset(f.name for f in fields(ConnRecord) if f.type in ("int", "int | None"))


def _value(name: str, v: float) -> float | int | None:
    if v != v:  # NaN: unset
        return None
    return int(v) if name in _INT_FIELDS else v
