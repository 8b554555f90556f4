"""Incidents: the anomalous connections of one originator and one behaviour, folded.

Why: an operator reads incidents, not connections. One flood is thousands of
anomalous connections and one password-guessing run hundreds; notice.log
should say once "this host floods that address since 17:04", with counts,
peers, examples and the score, and keep every connection in ``hamad.log``.

What "one behaviour" means: a behaviour only evidence names (password
guessing, DNS tunnelling, a beacon, a download, exfiltration) is a diagnosis
and keeps incidents of its own; what the model and the guards say of a host
(:data:`HOST_LEVEL`: anomalous, flooding, scanning) is one incident per
originator, named by the name most of its named connections carry
(``anomalous`` while none has one). Evidence that explains a host's young
incident (begun at most :data:`JOIN_WINDOW` before it: the model flagged a
guessing run's first attempts) joins it instead of opening a second one. Why: a flood is
first a few model-flagged connections, then a fan-out over random ports the
guards call a scan, then a flood; three incidents for one attack is what an
operator should not have to reassemble (``make run``: 12 incidents for 9
scenarios before, 7 after; docs/detection.md).

Folding happens where every verdict passes (the pipeline, so replay and serve
fold alike, and in a Zeek cluster the incident does not depend on which Zeek
node logged which connection): an anomalous connection joins the open
incident of its originator and behaviour, or opens one; an incident closes
after :data:`GAP` seconds without a connection. Connections scored while the
site is being learned fold into incidents of their own (Zeek logs them
without notices by default), so an incident's count is what the operator is
told about: a host flagged all through learning does not raise a notice with
hundreds of connections at its first one afterwards. Its id
(``orig_h/behaviour/first``) is stable, so Zeek's notice suppression
(``$identifier``) raises one ``HAMAD::Incident`` per incident and cluster.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

#: What the model and the guards call a host's connections: one incident per originator
#: (named by the name most of its named connections carry), not one per name.
HOST_LEVEL = frozenset({"anomalous", "scan", "flood"})
#: Evidence joins its host's incident if that began at most this long before (seconds).
JOIN_WINDOW = 600.0
#: Seconds without an anomalous connection after which an incident is over.
GAP = 3600.0
#: Example uids an incident keeps (the first ones).
EXAMPLES = 3
#: Anomalous connections at which Zeek raises ``HAMAD::Incident`` on its defaults
#: (``HAMAD::incident_min_connections`` in zeek_scripts/main.zeek).
NOTICE_MIN_CONNECTIONS = 3
#: Distinct peers an incident counts exactly (beyond it: "at least").
MAX_PEERS = 1024
#: Open incidents kept at most (the least recently active are closed first).
MAX_OPEN = 10_000
#: Closed incidents remembered for the replay summary.
MAX_CLOSED = 1000


@dataclass
class Incident:
    """One originator doing one anomalous thing."""

    id: str
    orig_h: str
    behaviour: str
    first: float
    last: float
    count: int = 0
    #: Distinct responders (up to :data:`MAX_PEERS`).
    peers: set[str] = field(default_factory=set)
    #: Distinct responder ports/protocols, e.g. "22/tcp" (up to 16).
    services: list[str] = field(default_factory=list)
    uids: list[str] = field(default_factory=list)
    score: float = 0.0
    #: Connections scored while the site was being learned.
    learning: int = 0
    #: A host-level incident's named connections per name (flood, scan).
    names: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id, "orig_h": self.orig_h, "behaviour": self.behaviour,
            "first": self.first, "last": self.last, "connections": self.count,
            "peers": len(self.peers), "services": list(self.services),
            "examples": list(self.uids), "score": round(self.score, 6),
            "while_learning": self.learning,
        }  # fmt: skip


@dataclass
class IncidentColumns:
    """Per row of a batch: its incident's id and state after the row ("" = none)."""

    incident: list[str]
    count: np.ndarray
    peers: np.ndarray
    first: np.ndarray
    score: np.ndarray
    uids: list[list[str]]


class IncidentTracker:
    """Folds anomalous verdicts into incidents (see the module docstring)."""

    def __init__(self, gap: float = GAP) -> None:
        self.gap = gap
        self.reset()

    def reset(self) -> None:
        self.open: OrderedDict[tuple[str, str, bool], Incident] = OrderedDict()
        self.closed: list[Incident] = []
        self.total = 0
        #: (orig_h, behaviour, learning) -> id of the host incident its evidence joined.
        self.joined: dict[tuple[str, str, bool], str] = {}

    def fold(
        self,
        uid: list[str],
        times: np.ndarray,
        orig_h: list[str],
        resp_h: list[str],
        resp_p: list[int],
        proto: list[str],
        behaviour: list[str],
        score: np.ndarray,
        anomalous: np.ndarray,
        learning: np.ndarray,
        update: bool = True,
    ) -> IncidentColumns:
        """Fold one batch in stream order; ``update=False`` (interim verdicts) only looks up."""
        n = len(uid)
        out = IncidentColumns(
            [""] * n, np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n),
            np.zeros(n), [[] for _ in range(n)],
        )  # fmt: skip
        tl, sl, ll = np.asarray(times).tolist(), np.asarray(score).tolist(), learning.tolist()
        for i in np.flatnonzero(anomalous).tolist():
            name = behaviour[i] or "anomalous"
            key = (orig_h[i], "anomalous" if name in HOST_LEVEL else name, bool(ll[i]))
            t = tl[i]
            if key[1] != "anomalous" and key not in self.open:
                key = self._explained(key, t, update)
            inc = self.open.get(key)
            if inc is not None and t - inc.last > self.gap:
                if update:
                    self._close(key)
                inc = None
            if inc is None:
                if not update:
                    continue
                inc = Incident(f"{key[0]}/{name}/{int(t)}", key[0], name, t, t)
                self.open[key] = inc
                self.total += 1
                if len(self.open) > MAX_OPEN:
                    self._close(next(iter(self.open)))
            elif update:
                self.open.move_to_end(key)
            if update:
                if key[1] == "anomalous" and name != "anomalous":
                    inc.names[name] = inc.names.get(name, 0) + 1
                    inc.behaviour = max(inc.names, key=inc.names.__getitem__)
                inc.count += 1
                inc.last = max(inc.last, t)
                inc.learning += 1 if ll[i] else 0
                if len(inc.peers) < MAX_PEERS:
                    inc.peers.add(resp_h[i])
                svc = f"{resp_p[i]}/{proto[i]}"
                if len(inc.services) < 16 and svc not in inc.services:
                    inc.services.append(svc)
                if len(inc.uids) < EXAMPLES:
                    inc.uids.append(uid[i])
                inc.score = max(inc.score, sl[i])
            out.incident[i] = inc.id
            out.count[i] = inc.count
            out.peers[i] = len(inc.peers)
            out.first[i] = inc.first
            out.score[i] = inc.score
            out.uids[i] = list(inc.uids)
        return out

    def _explained(
        self, key: tuple[str, str, bool], t: float, update: bool
    ) -> tuple[str, str, bool]:
        """Where evidence of a behaviour with no incident of its own goes: into its host's
        incident if the evidence explains it (the host's incident began at most
        :data:`JOIN_WINDOW` before, or the behaviour joined it already), else its own.

        Why: the model often flags a guessing run's first attempts before the evidence
        has ten of them; they open the host's incident, and Zeek raises it at the third.
        Without this the evidence opened a second incident for the same run (both
        brute-force pcaps through Zeek 8.2.2, docs/detection.md)."""
        host = (key[0], "anomalous", key[2])
        inc = self.open.get(host)
        if inc is None or t - inc.last > self.gap:
            return key
        if self.joined.get(key) == inc.id or t - inc.first <= JOIN_WINDOW:
            if update:
                self.joined[key] = inc.id
                if len(self.joined) > MAX_OPEN:
                    self.joined.pop(next(iter(self.joined)))
            return host
        return key

    def _close(self, key: tuple[str, str, bool]) -> None:
        inc = self.open.pop(key)
        if len(self.closed) < MAX_CLOSED:
            self.closed.append(inc)

    def incidents(self) -> list[Incident]:
        """Every incident remembered, closed and open, in order of their first connection."""
        return sorted([*self.closed, *self.open.values()], key=lambda x: x.first)
