"""Translate between Zeek's wire values and HAMAD's Python objects.

Two encodings reach the worker:

* Zeek's WebSocket API (``/v1/messages/json``) sends every value as
  ``{"@data-type": ..., "data": ...}`` and records as positional vectors.
* Broker's Python bindings hand over native objects (``tuple`` for records,
  ``broker.Count``, ``broker.Port``, ``datetime``, ...).

Both are first turned into *plain* Python values (``None``, ``bool``, ``int``,
``float``, ``str``, ``list``, :class:`PortValue`), and a single function turns
plain values into a :class:`~hamad_plugin.core.records.ConnRecord`, so the two
transports cannot drift apart.

Timestamps: the WebSocket API truncates ``time`` values to milliseconds, so
``HAMAD::ConnSummary$ts`` and ``HAMAD::Verdict$ts`` are ``double`` (Zeek's
``time_to_double``), which keeps Zeek's microseconds on both transports.

Outgoing values are described once as :data:`Wire` trees (type + value) and
rendered per transport, because Zeek needs explicit types (a ``count`` is not
an ``int``, a ``port`` is not a ``string``).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from ...core.records import DNS_FIELDS, ZEEK_FIELDS, ConnRecord, DnsSummary
from ...core.verdict import Verdict
from ...errors import InputFormatError
from .base import EVENT_CONFIG_CHANGED, EVENT_CONN_SUMMARIES, ConfigChange, SummaryBatch, Unscored

#: Fields of ``HAMAD::ConnSummary`` (main.zeek), in record order: the connection's
#: Zeek fields (:data:`~hamad_plugin.core.records.ZEEK_FIELDS`), the interim flag and
#: the optional DNS part (``HAMAD::DnsSummary``, :data:`~hamad_plugin.core.records.DNS_FIELDS`).
SUMMARY_FIELDS: tuple[str, ...] = (*ZEEK_FIELDS, "interim", "dns")

#: Fields of ``HAMAD::Verdict`` (main.zeek), in record order.
VERDICT_FIELDS: tuple[str, ...] = (
    "uid",
    "ts",
    "orig_h",
    "orig_p",
    "resp_h",
    "resp_p",
    "score",
    "threshold",
    "anomalous",
    "top_features",
    "top_model",
    "model_version",
    "interim",
    "learning",
    "familiar",
    "behaviour",
    "incident",
    "incident_count",
    "incident_peers",
    "incident_first",
    "incident_score",
    "incident_uids",
)

#: Fields of ``HAMAD::Unscored`` (main.zeek), in record order.
UNSCORED_FIELDS: tuple[str, ...] = (
    "uid", "ts", "orig_h", "orig_p", "resp_h", "resp_p", "interim",
)  # fmt: skip

#: How many top features a verdict carries to Zeek (keeps notices short).
MAX_TOP_FEATURES = 5
#: How many example uids of its incident a verdict carries to Zeek.
MAX_INCIDENT_UIDS = 3

# Positions in Zeek's own ``Conn::Info`` (accepted as well, see summary_from_values).
_CONN_INFO_MIN_LEN = 17
_CONN_INFO_IP_PROTO = 18


class WireFormatError(InputFormatError):
    """A message from Zeek does not have the shape HAMAD's scripts send."""


@dataclass(frozen=True, slots=True)
class PortValue:
    """A Zeek ``port``: number plus transport protocol ("tcp", "udp", "icmp", "unknown")."""

    number: int
    proto: str

    def __str__(self) -> str:
        return f"{self.number}/{self.proto}"


#: A value headed for Zeek with its Zeek type: ``(kind, value)``, ``kind`` a WebSocket
#: ``@data-type`` name (``string``, ``real``, ``count``, ``boolean``, ``address``, ``port``
#: or ``vector``, whose value is a list of Wire). A plain tuple: a verdict is 26 of them,
#: and building objects (a frozen dataclass, then a named tuple) cost as much as the rest
#: of the verdict's encoding (docs/bench.md).
Wire = tuple[str, Any]


# ---------------------------------------------------------------------------
# Incoming: WebSocket JSON -> plain values

# Zeek writes the port of a connection that is neither TCP, UDP nor ICMP (IGMP, say)
# as "0/?"; Broker reads anything after the slash that is not tcp/udp/icmp as unknown.
_PORT_RE = re.compile(r"^(\d+)/(tcp|udp|icmp|unknown|\?)$")
_SPAN_RE = re.compile(r"^(-?\d+(?:\.\d+)?)(ns|us|ms|s|min|h|d)$")
# Divide for sub-second units: 178813 / 1e9 is exact where 178813 * 1e-9 is not.
_SPAN_DIV = {
    "ns": 1e9,
    "us": 1e6,
    "ms": 1e3,
    "s": 1.0,
    "min": 1 / 60,
    "h": 1 / 3600,
    "d": 1 / 86400,
}


def parse_port(text: str) -> PortValue:
    """``"36679/tcp"`` -> :class:`PortValue`; Zeek's port notation on both transports."""
    m = _PORT_RE.match(text)
    if not m or int(m.group(1)) > 65535:
        raise WireFormatError(f"expected a port like '80/tcp' or '0/?', got {text!r}")
    proto = m.group(2)
    return PortValue(int(m.group(1)), "unknown" if proto == "?" else proto)


def _parse_timespan(text: str) -> float:
    m = _SPAN_RE.match(text)
    if not m:
        raise WireFormatError(f"expected a timespan like '178813ns', got {text!r}")
    return float(m.group(1)) / _SPAN_DIV[m.group(2)]


def _parse_timestamp(text: str) -> float:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise WireFormatError(
            f"expected an ISO-8601 timestamp like '2026-03-22T22:47:16.918', got {text!r}"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def ws_to_plain(obj: Any) -> Any:
    """Decode one WebSocket ``{"@data-type", "data"}`` value into a plain value.

    Raises :class:`WireFormatError` naming the offending type or value. Exact type
    tests (``type(x) is int``) rather than ``isinstance``: JSON gives exact types,
    ``bool`` is thereby not a count, and a summary is some 25 values, each once.
    """
    if type(obj) is dict or isinstance(obj, Mapping):
        kind = obj.get("@data-type", _MISSING)
        data = obj.get("data", _MISSING)
    else:
        kind = data = _MISSING
    if kind is _MISSING or data is _MISSING:
        raise WireFormatError(
            f"expected a Zeek value {{'@data-type': ..., 'data': ...}}, got {_short(obj)}"
        )
    t = type(data)
    try:
        if t is str:
            if kind == "string" or kind == "enum-value" or kind == "subnet":
                return data
            if kind == "address":
                return _address(data)
            if kind == "port":
                return parse_port(data)
            if kind == "timestamp":
                return _parse_timestamp(data)
            if kind == "timespan":
                return _parse_timespan(data)
        elif t is int:
            if kind == "count" or kind == "integer":
                return data
            if kind == "real":
                return float(data)
        elif t is list:
            if kind == "vector" or kind == "set":
                return [ws_to_plain(x) for x in data]
            if kind == "table":
                return [
                    (ws_to_plain(kv.get("key")), ws_to_plain(kv.get("value")))
                    for kv in data
                    if isinstance(kv, Mapping)
                ]
        elif t is float:
            if kind == "real":
                return data
        elif t is bool:
            if kind == "boolean":
                return data
        if kind == "none":
            return None
    except WireFormatError:
        raise  # from a nested value: already names it
    except ValueError as exc:  # ipaddress
        raise WireFormatError(f"bad {kind} value {_short(data)}: {exc}") from None
    raise WireFormatError(f"value {_short(data)} does not match its @data-type {_short(kind)}")


_MISSING = object()


def ws_unwrap_event(msg: Any) -> tuple[str, str, list[Any]]:
    """Split a WebSocket ``data-message`` into ``(topic, event name, raw args)``.

    Zeek encodes an event as ``vector(count 1, count 1, vector(name, vector(args...)))``
    (format version, message type, content); Zeek 8 may append metadata.
    """
    if not isinstance(msg, Mapping) or msg.get("type") != "data-message":
        raise WireFormatError(f"expected a data-message, got {_short(msg)}")
    topic = msg.get("topic")
    if not isinstance(topic, str):
        raise WireFormatError("data-message without a string 'topic'")
    if msg.get("@data-type") != "vector" or not isinstance(msg.get("data"), list):
        raise WireFormatError("data-message is not a vector; not a Zeek event")
    outer = msg["data"]
    if len(outer) < 3:
        raise WireFormatError(f"Zeek event vector has {len(outer)} elements, expected >= 3")
    content = outer[2]
    if not isinstance(content, Mapping) or content.get("@data-type") != "vector":
        raise WireFormatError("Zeek event content is not a vector")
    parts = content.get("data")
    if not isinstance(parts, list) or len(parts) < 2:
        raise WireFormatError("Zeek event content must hold a name and an argument vector")
    name = ws_to_plain(parts[0])
    args = parts[1]
    if not isinstance(name, str):
        raise WireFormatError("Zeek event name is not a string")
    if not isinstance(args, Mapping) or args.get("@data-type") != "vector":
        raise WireFormatError(f"arguments of {name} are not a vector")
    raw_args = args.get("data")
    if not isinstance(raw_args, list):
        raise WireFormatError(f"arguments of {name} are not a list")
    return topic, name, raw_args


# ---------------------------------------------------------------------------
# Incoming: Broker Python values -> plain values


def broker_to_plain(x: Any) -> Any:
    """Convert a value from Broker's Python bindings into a plain value.

    Works by duck typing so it does not import ``broker``: ``Count`` has
    ``.value``, ``Enum`` has ``.name``, ``Port`` prints as ``"80/tcp"``.
    """
    if x is None or isinstance(x, (bool, str, float)):
        return x
    if isinstance(x, int):
        return x
    if isinstance(x, datetime):
        if x.tzinfo is None:
            x = x.replace(tzinfo=timezone.utc)
        return x.timestamp()
    if isinstance(x, timedelta):
        return x.total_seconds()
    if isinstance(x, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(x)
    if isinstance(x, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return str(x)
    if isinstance(x, (tuple, list)):
        return [broker_to_plain(v) for v in x]
    if isinstance(x, (set, frozenset)):
        return [broker_to_plain(v) for v in sorted(x, key=str)]
    if isinstance(x, dict):
        return [(broker_to_plain(k), broker_to_plain(v)) for k, v in x.items()]
    cls = type(x).__name__
    if cls == "Count":
        return int(x.value)
    if cls == "Enum":
        return str(x.name)
    if cls == "Port":
        return parse_port(str(x))
    if cls in ("Timespan", "Timestamp"):  # only without the Python wrappers
        raise WireFormatError(f"unconverted Broker {cls}; use broker.Data.to_py first")
    raise WireFormatError(f"unexpected Broker value of type {cls}: {_short(x)}")


# ---------------------------------------------------------------------------
# Plain values -> ConnRecord


def _want(value: Any, kinds: tuple[type, ...], field: str, zeek_type: str, optional: bool) -> Any:
    if value is None:
        if optional:
            return None
        raise WireFormatError(f"field {field!r} is unset but required ({zeek_type})")
    if isinstance(value, bool) and bool not in kinds:
        raise WireFormatError(f"field {field!r}: expected {zeek_type}, got bool {value!r}")
    if not isinstance(value, kinds):
        raise WireFormatError(
            f"field {field!r}: expected {zeek_type}, got {type(value).__name__} {_short(value)}"
        )
    return value


def _count(v: Any, field: str) -> int | None:
    r: int | None = _want(v, (int,), field, "count", True)
    if r is not None and r < 0:
        raise WireFormatError(f"field {field!r}: expected count >= 0, got {r}")
    return r


def _port(v: Any, field: str) -> PortValue:
    if isinstance(v, str):
        return parse_port(v)
    p: PortValue = _want(v, (PortValue,), field, "port", False)
    return p


def _float(v: Any, field: str, optional: bool) -> float | None:
    r = _want(v, (int, float), field, "double", optional)
    if r is None:
        return None
    f = float(r)
    if not math.isfinite(f):
        raise WireFormatError(f"field {field!r}: expected a finite number, got {f}")
    return f


def _str(v: Any, field: str, optional: bool) -> str | None:
    r: str | None = _want(v, (str,), field, "string", optional)
    return r


def _bool(v: Any, field: str) -> bool | None:
    r: bool | None = _want(v, (bool,), field, "bool", True)
    return r


def summary_from_values(values: Any) -> tuple[ConnRecord, bool]:
    """Build a :class:`ConnRecord` (and the interim flag) from one decoded record.

    Accepts the flat ``HAMAD::ConnSummary`` layout of :data:`SUMMARY_FIELDS`
    and, so users can publish it unchanged, Zeek's own ``Conn::Info`` layout
    (``id`` as a nested vector; Zeek 7's 4-field or Zeek 8's 6-field ``conn_id``).
    """
    if not isinstance(values, list):
        raise WireFormatError(f"a connection summary must be a record, got {_short(values)}")
    if len(values) > 2 and isinstance(values[2], list):
        return _from_conn_info(values), False
    if len(values) == len(SUMMARY_FIELDS) - 1:
        values = [*values, None]  # scripts from before the DNS part (HAMAD 0.4)
    if len(values) != len(SUMMARY_FIELDS):
        raise WireFormatError(
            f"HAMAD::ConnSummary has {len(SUMMARY_FIELDS)} fields, got a record with "
            f"{len(values)}; are the Zeek scripts and the worker from the same HAMAD version?"
        )
    d = dict(zip(SUMMARY_FIELDS, values, strict=True))
    rec = _build(d)
    rec.dns = _dns(d["dns"])
    return rec, bool(_bool(d["interim"], "interim"))


def _dns(v: Any) -> DnsSummary | None:
    """The optional ``HAMAD::DnsSummary`` of a summary (``None`` when Zeek sent none)."""
    if v is None:
        return None
    if not isinstance(v, list) or len(v) != len(DNS_FIELDS):
        raise WireFormatError(
            f"field 'dns': HAMAD::DnsSummary has {len(DNS_FIELDS)} fields, got {_short(v)}"
        )
    queries, longest, entropy, qtype = (
        _count(v[0], "dns.queries"), _count(v[1], "dns.longest"),
        _float(v[2], "dns.entropy", True), _count(v[3], "dns.qtype"),
    )  # fmt: skip
    return DnsSummary(queries or 0, longest or 0, entropy or 0.0, qtype or 0)


def _from_conn_info(values: list[Any]) -> ConnRecord:
    if len(values) < _CONN_INFO_MIN_LEN:
        raise WireFormatError(
            f"Conn::Info has at least {_CONN_INFO_MIN_LEN} fields, got {len(values)}"
        )
    cid = values[2]
    if len(cid) < 4:
        raise WireFormatError(f"conn_id has at least 4 fields, got {len(cid)}")
    ip_proto = values[_CONN_INFO_IP_PROTO] if len(values) > _CONN_INFO_IP_PROTO else None
    if not isinstance(ip_proto, int) or isinstance(ip_proto, bool):
        ip_proto = None  # Zeek 7, or a field another script appended
    names = (
        "ts", "uid", "proto", "service", "duration", "orig_bytes", "resp_bytes",
        "conn_state", "local_orig", "local_resp", "missed_bytes", "history",
        "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes",
    )  # fmt: skip
    d = dict(zip(names, [values[0], values[1], *values[3:17]], strict=True))
    d.update(orig_h=cid[0], orig_p=cid[1], resp_h=cid[2], resp_p=cid[3], ip_proto=ip_proto)
    return _build(d)


def _build(d: dict[str, Any]) -> ConnRecord:
    service = _want(d["service"], (str, list), "service", "string", True)
    if isinstance(service, list):  # a set of strings
        if not all(isinstance(s, str) for s in service):
            raise WireFormatError(f"field 'service': expected strings, got {_short(service)}")
        service = ",".join(sorted(service)) or None
    orig_p = _port(d["orig_p"], "orig_p")
    resp_p = _port(d["resp_p"], "resp_p")
    ts = _float(d["ts"], "ts", False)
    assert ts is not None
    return ConnRecord(
        ts=ts,
        uid=str(_str(d["uid"], "uid", False)),
        orig_h=str(_str(d["orig_h"], "orig_h", False)),
        orig_p=orig_p.number,
        resp_h=str(_str(d["resp_h"], "resp_h", False)),
        resp_p=resp_p.number,
        proto=str(_str(d["proto"], "proto", False)),
        service=service,
        duration=_float(d["duration"], "duration", True),
        orig_bytes=_count(d["orig_bytes"], "orig_bytes"),
        resp_bytes=_count(d["resp_bytes"], "resp_bytes"),
        conn_state=_str(d["conn_state"], "conn_state", True),
        local_orig=_bool(d["local_orig"], "local_orig"),
        local_resp=_bool(d["local_resp"], "local_resp"),
        missed_bytes=_count(d["missed_bytes"], "missed_bytes"),
        history=_str(d["history"], "history", True),
        orig_pkts=_count(d["orig_pkts"], "orig_pkts"),
        orig_ip_bytes=_count(d["orig_ip_bytes"], "orig_ip_bytes"),
        resp_pkts=_count(d["resp_pkts"], "resp_pkts"),
        resp_ip_bytes=_count(d["resp_ip_bytes"], "resp_ip_bytes"),
        ip_proto=_count(d["ip_proto"], "ip_proto"),
    )


#: Longest reason kept for a rejected record (the record itself may be huge).
MAX_REASON = 300


def _raw_items(x: Any, what: str) -> list[Any]:
    """Elements of a vector as a transport delivered it: WebSocket JSON, Broker tuple or list."""
    if (
        isinstance(x, Mapping)
        and x.get("@data-type") == "vector"
        and isinstance(x.get("data"), list)
    ):
        return list(x["data"])
    if isinstance(x, (list, tuple)):
        return list(x)
    raise WireFormatError(f"{what} must be a vector, got {_short(x)}")


def _raw_uid(raw: Any) -> str:
    """The uid of a record that failed to decode, if its second field still is a string."""
    try:
        uid = _raw_items(raw, "record")[1]
    except (WireFormatError, IndexError):
        return ""
    if isinstance(uid, Mapping):
        uid = uid.get("data")
    return uid[:64] if isinstance(uid, str) else ""


_INTERIM = SUMMARY_FIELDS.index("interim")


def _raw_ident(raw: Any, to_plain: Callable[[Any], Any]) -> Unscored:
    """The endpoints of a record that will not be decoded (shed): only the seven fields Zeek
    needs to log it are converted, a fraction of decoding it. A record whose endpoints do not
    read (or Zeek's own ``Conn::Info`` layout) is named by its uid alone."""
    try:
        items = _raw_items(raw, "record")
        if len(items) != len(SUMMARY_FIELDS):
            raise WireFormatError("not a HAMAD::ConnSummary")
        ts, uid, orig_h, orig_p, resp_h, resp_p = (to_plain(x) for x in items[:6])
        op, rp = _port(orig_p, "orig_p"), _port(resp_p, "resp_p")
        return Unscored(
            uid=str(_str(uid, "uid", False))[:64],
            ts=float(_float(ts, "ts", False) or 0.0),
            orig_h=str(_str(orig_h, "orig_h", False)),
            orig_p=op.number,
            resp_h=str(_str(resp_h, "resp_h", False)),
            resp_p=rp.number,
            proto=op.proto,
            interim=bool(_bool(to_plain(items[_INTERIM]), "interim")),
        )
    except (ValueError, RecursionError):
        return Unscored(_raw_uid(raw))


def _plain(x: Any) -> Any:
    return x


def decode_event(
    name: str, raw_args: Sequence[Any], to_plain: Callable[[Any], Any] = _plain
) -> SummaryBatch | ConfigChange:
    """Turn one event into what the serve loop consumes.

    ``to_plain`` converts a value as the transport delivered it (``ws_to_plain``,
    ``broker_to_plain``; the default takes plain values). Summaries come back
    undecoded (:meth:`SummaryBatch.decode` converts them one record at a time),
    so a bad value (an address like ``999.1.1.1``, a port out of range, a value
    without a type, absurd nesting) rejects only its own record, and records
    the worker has no room for are never decoded. A bad event as a whole raises
    :class:`WireFormatError`.
    """
    if name == EVENT_CONN_SUMMARIES:
        if len(raw_args) != 1:
            raise WireFormatError(
                f"{name} takes one argument (vector of HAMAD::ConnSummary), got {len(raw_args)}"
            )

        def decoder(raw: Any) -> tuple[ConnRecord, bool]:
            try:
                return summary_from_values(to_plain(raw))
            except WireFormatError as exc:
                raise WireFormatError(str(exc)[:MAX_REASON]) from None

        raw = _raw_items(raw_args[0], f"the argument of {name}")
        return SummaryBatch(
            raw=raw, decoder=decoder, uid_of=_raw_uid, ident_of=lambda r: _raw_ident(r, to_plain)
        )
    args = [to_plain(a) for a in raw_args]
    if name == EVENT_CONFIG_CHANGED:
        if len(args) != 2 or not all(isinstance(a, str) for a in args):
            raise WireFormatError(f"{name} takes (name: string, value: string), got {args!r}")
        return ConfigChange(args[0], args[1])
    raise WireFormatError(
        f"unknown event {name!r}; this worker understands "
        f"{EVENT_CONN_SUMMARIES} and {EVENT_CONFIG_CHANGED}"
    )


# ---------------------------------------------------------------------------
# Outgoing: Wire trees


def _port_wire(number: int, proto: str) -> Wire:
    p = proto.lower() if proto.lower() in ("tcp", "udp", "icmp") else "?"  # Zeek's spelling
    return ("port", f"{int(number)}/{p}")


@lru_cache(maxsize=1 << 16)
def _address(text: str) -> str:
    """An address as Zeek spells it (validated; IPv6 compressed). Cached: a gateway's
    verdicts name the same few thousand hosts again and again."""
    return str(ipaddress.ip_address(text))


def _endpoints_wire(uid: str, ts: float, orig_h: str, orig_p: int, resp_h: str, resp_p: int,
                    proto: str) -> list[Wire]:  # fmt: skip
    """The first six fields of ``HAMAD::Verdict`` and ``HAMAD::Unscored``: which connection."""
    return [
        ("string", uid),
        ("real", float(ts)),
        ("address", _address(orig_h)),
        _port_wire(orig_p, proto),
        ("address", _address(resp_h)),
        _port_wire(resp_p, proto),
    ]


def verdict_wire(v: Verdict) -> Wire:
    """One ``HAMAD::Verdict`` record, fields in :data:`VERDICT_FIELDS` order."""
    top = v.top_features[:MAX_TOP_FEATURES]
    fields = [
        *_endpoints_wire(v.uid, v.ts, v.orig_h, v.orig_p, v.resp_h, v.resp_p, v.proto),
        ("real", _finite(v.score)),
        ("real", _finite(v.threshold)),
        ("boolean", bool(v.anomalous)),
        ("vector", [("string", str(n)) for n, _ in top]),
        ("string", v.top_model),
        ("string", v.model_version),
        ("boolean", bool(v.interim)),
        ("boolean", bool(v.learning)),
        ("boolean", bool(v.familiar)),
        ("string", v.behaviour),
        ("string", v.incident),
        ("count", int(v.incident_count)),
        ("count", int(v.incident_peers)),
        ("real", _finite(v.incident_first)),
        ("real", _finite(v.incident_score)),
        ("vector", [("string", str(u)) for u in v.incident_uids[:MAX_INCIDENT_UIDS]]),
    ]
    assert len(fields) == len(VERDICT_FIELDS)
    return ("vector", fields)


def verdicts_args(verdicts: Sequence[Verdict], withheld: int = 0) -> list[Wire]:
    """Arguments of ``HAMAD::verdicts``: a vector of records and the withheld count."""
    return [("vector", [verdict_wire(v) for v in verdicts]), ("count", int(withheld))]


def hello_args(worker: str, version: str, model_version: str) -> list[Wire]:
    """Arguments of ``HAMAD::hello``."""
    return [("string", worker), ("string", version), ("string", model_version)]


def heartbeat_args(worker: str, seq: int, received: int, scored: int, shed: int) -> list[Wire]:
    """Arguments of ``HAMAD::heartbeat``."""
    return [("string", worker), *(("count", int(n)) for n in (seq, received, scored, shed))]


def worker_error_args(uids: Sequence[str], msg: str) -> list[Wire]:
    """Arguments of ``HAMAD::worker_error``: the uids and why they get no verdict."""
    return [("vector", [("string", u) for u in uids]), ("string", msg)]


def unscored_wire(u: Unscored) -> Wire:
    """One ``HAMAD::Unscored`` record, fields in :data:`UNSCORED_FIELDS` order."""
    assert u.orig_h is not None, "a summary known by uid alone goes in HAMAD::worker_error"
    ident = _endpoints_wire(u.uid, u.ts, u.orig_h, u.orig_p, u.resp_h, u.resp_p, u.proto)
    return ("vector", [*ident, ("boolean", bool(u.interim))])


def unscored_args(items: Sequence[Unscored], reason: str) -> list[Wire]:
    """Arguments of ``HAMAD::unscored``: the summaries and why they get no verdict."""
    return [("vector", [unscored_wire(u) for u in items]), ("string", reason)]


def _finite(x: float) -> float:
    f = float(x)
    return f if math.isfinite(f) else 0.0


def wire_to_ws(w: Wire) -> dict[str, Any]:
    """Render a :data:`Wire` value as WebSocket JSON.

    Leaves are rendered in the comprehension, only vectors recurse: a verdict is
    four vectors and two dozen leaves, and a call per leaf was most of its cost."""
    kind, value = w
    if kind != "vector":
        return {"@data-type": kind, "data": value}
    return {
        "@data-type": "vector",
        "data": [
            wire_to_ws(x) if x[0] == "vector" else {"@data-type": x[0], "data": x[1]} for x in value
        ],
    }


def ws_event(topic: str, name: str, args: Sequence[Wire]) -> dict[str, Any]:
    """A complete WebSocket ``data-message`` carrying one Zeek event."""
    return ws_frame(topic, name, [wire_to_ws(a) for a in args])


def ws_frame(topic: str, name: str, args: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """:func:`ws_event` for arguments already in WebSocket JSON (``{"@data-type": ...}``)."""
    return {
        "type": "data-message",
        "topic": topic,
        "@data-type": "vector",
        "data": [
            {"@data-type": "count", "data": 1},
            {"@data-type": "count", "data": 1},
            {
                "@data-type": "vector",
                "data": [
                    {"@data-type": "string", "data": name},
                    {"@data-type": "vector", "data": list(args)},
                ],
            },
        ],
    }


def wire_to_broker(w: Wire, broker: Any) -> Any:
    """Render a :data:`Wire` value as an object Broker's Python bindings convert right."""
    kind, value = w
    if kind == "vector":
        return tuple(wire_to_broker(x, broker) for x in value)
    if kind == "count":
        return broker.Count(int(value))
    if kind == "address":
        return ipaddress.ip_address(value)
    if kind == "port":
        p = parse_port(value)
        protos = {
            "tcp": broker.Port.TCP,
            "udp": broker.Port.UDP,
            "icmp": broker.Port.ICMP,
            "unknown": broker.Port.Unknown,
        }
        return broker.Port(p.number, protos[p.proto])
    if kind in ("string", "real", "boolean"):
        return value
    raise ValueError(f"no Broker rendering for Wire kind {kind!r}")


def _short(x: Any, limit: int = 80) -> str:
    s = repr(x)
    return s if len(s) <= limit else s[: limit - 3] + "..."
