"""The typed connection record every HAMAD component works on.

A :class:`ConnRecord` carries the fields of one Zeek ``conn.log`` line
(``Conn::Info``). The conn.log reader, the Zeek transports and the feature
extractor all meet here, so a field renamed in one place fails everywhere.
Field names are Zeek's, with ``id.`` dropped (``id.orig_h`` -> ``orig_h``).
"""

from __future__ import annotations

from dataclasses import dataclass

#: ``Conn::Info`` field names in Zeek 8's conn.log column order (``id`` flattened).
#: ``ip_proto`` is new in Zeek 8; older logs omit it.
CONN_FIELDS: tuple[str, ...] = (
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "service",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
    "local_orig",
    "local_resp",
    "missed_bytes",
    "history",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
    "tunnel_parents",
    "ip_proto",
)

#: The conn.log columns the reader insists on; everything else may be absent.
REQUIRED_FIELDS: frozenset[str] = frozenset(
    {"ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto"}
)


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
