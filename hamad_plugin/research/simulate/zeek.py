"""Zeek's conn.log vocabulary: protocols, conn_state values, services, column types.

Why it exists: the row generator, the writers and :func:`~.run.iter_records` must agree on
the codes stored in a row (``proto``, ``svc``, ``state``); this module is that shared
table, in the words Zeek 8 uses, with no behaviour of its own.
"""

from __future__ import annotations

import numpy as np

from ...core.records import CONN_FIELDS

#: Microseconds per second: row times and durations are integer microseconds.
_US = 1_000_000

PROTOS = ("tcp", "udp", "icmp")
TCP, UDP, ICMP = 0, 1, 2
_IP_PROTO = ("6", "17", "1")
#: Zeek's conn_state values (Conn::Info docs).
STATES = (
    "S0",
    "S1",
    "SF",
    "REJ",
    "S2",
    "S3",
    "RSTO",
    "RSTR",
    "RSTOS0",
    "RSTRH",
    "SH",
    "SHR",
    "OTH",
)
ZEEK_SERVICES = ("-", "dns", "ssl", "http", "ntp", "quic,ssl", "dhcp", "smb", "ssh")
#: Zeek 8.2 conn.log #types, in CONN_FIELDS order, plus the two label columns.
ZEEK_TYPES: dict[str, str] = {
    "ts": "time",
    "uid": "string",
    "id.orig_h": "addr",
    "id.orig_p": "port",
    "id.resp_h": "addr",
    "id.resp_p": "port",
    "proto": "enum",
    "service": "string",
    "duration": "interval",
    "orig_bytes": "count",
    "resp_bytes": "count",
    "conn_state": "string",
    "local_orig": "bool",
    "local_resp": "bool",
    "missed_bytes": "count",
    "history": "string",
    "orig_pkts": "count",
    "orig_ip_bytes": "count",
    "resp_pkts": "count",
    "resp_ip_bytes": "count",
    "tunnel_parents": "set[string]",
    "ip_proto": "count",
    "label": "string",
    "detailed-label": "string",
}
LOG_FIELDS: tuple[str, ...] = (*CONN_FIELDS, "label", "detailed-label")
_UID_ALPHABET = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8
)
