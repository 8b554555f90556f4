"""What a LOCO fold's false alarms are: groups of benign-labelled connections flagged after
learning, described by their shape (``hamad loco``'s learning section lists them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class FalseAlarmGroup:
    """Benign-labelled connections flagged after learning that share protocol, responder port,
    connection state and behaviour name: what an operator would be asked to look at.

    The shape of the group (how many originators, responders and source ports, how long it
    lasted) is what tells a burst of crafted packets that the labels call benign from an
    ordinary service the model does not know, so the report can say which is which with
    numbers instead of the capture's name.
    """

    proto: str
    resp_p: int
    conn_state: str
    behaviour: str
    connections: int
    originators: int
    responders: int
    #: Distinct originator ports (TCP and UDP), and how many connections came from port 0,
    #: which no TCP/IP stack sends from (a packet-crafting flood tool does).
    orig_ports: int
    port_zero: int
    #: Most packets the originator sent in one of the group's connections.
    max_orig_pkts: int
    #: Seconds from the group's first connection to its last.
    span: float

    def describe(self) -> str:
        name = f" ({self.behaviour})" if self.behaviour else ""
        text = (
            f"{self.connections} × {self.proto}/{self.resp_p} {self.conn_state}{name}: "
            f"{self.originators} originator(s) → {self.responders} responder(s) within "
            f"{_span(self.span)}"
        )
        if self.proto in ("tcp", "udp"):
            text += f", {self.orig_ports} source port(s)"
            if self.port_zero:
                text += f", {self.port_zero} connection(s) from source port 0"
        return text + f", up to {self.max_orig_pkts} packet(s) in one connection"


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def false_alarm_groups(
    records: Sequence[Any], verdicts: Sequence[Any], mask: np.ndarray, top: int = 5
) -> list[FalseAlarmGroup]:
    """Group the flagged rows in ``mask`` (false alarms) by protocol, port, state and
    behaviour; the ``top`` largest groups, largest first."""
    groups: dict[tuple[str, int, str, str], list[int]] = {}
    for i in np.flatnonzero(mask).tolist():
        r, v = records[i], verdicts[i]
        key = (r.proto or "-", int(r.resp_p), r.conn_state or "-", v.behaviour or "")
        groups.setdefault(key, []).append(i)
    out = []
    for (proto, port, state, behaviour), rows in groups.items():
        ports = [records[i].orig_p for i in rows]
        ts = [records[i].ts for i in rows]
        pkts = [records[i].orig_pkts or 0 for i in rows]
        out.append(
            FalseAlarmGroup(
                proto,
                port,
                state,
                behaviour,
                len(rows),
                len({records[i].orig_h for i in rows}),
                len({records[i].resp_h for i in rows}),
                len(set(ports)),
                ports.count(0),
                max(pkts),
                float(max(ts) - min(ts)),
            )
        )
    out.sort(key=lambda g: (-g.connections, g.proto, g.resp_p, g.conn_state))
    return out[:top]
