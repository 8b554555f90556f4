"""The verdict the worker returns for each scored connection.

The same structure goes into ``hamad replay`` JSON lines, the WebSocket and
Broker transports (``HAMAD::Verdict`` on the Zeek side) and tests, so it lives
in one module with no heavy imports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

#: Order of the ensemble members everywhere (attention weights, base scores).
MEMBERS: tuple[str, ...] = ("rf", "xgb", "novelty")


@dataclass(slots=True)
class Verdict:
    """The worker's judgement of one connection."""

    uid: str
    ts: float
    orig_h: str
    orig_p: int
    resp_h: str
    resp_p: int
    proto: str
    #: Fused anomaly score in [0, 1].
    score: float
    #: Threshold in force when the connection was scored.
    threshold: float
    #: ``score >= threshold``.
    anomalous: bool
    #: Up to a few ``(feature name, contribution)`` pairs that pushed the score up.
    top_features: list[tuple[str, float]] = field(default_factory=list)
    #: Attention weight the gate gave each member (keys from :data:`MEMBERS`).
    weights: dict[str, float] = field(default_factory=dict)
    #: Each member's own score (keys from :data:`MEMBERS`).
    member_scores: dict[str, float] = field(default_factory=dict)
    model_version: str = ""
    #: ``True`` for a verdict on an interim summary of a connection that is still open.
    interim: bool = False
    #: Scored while the site was still being learned (Zeek holds notices back by default).
    learning: bool = False
    #: The score reached the threshold, but the connection belongs to a service this
    #: site uses routinely (learned), so it is not anomalous.
    familiar: bool = False
    #: The behaviour evidence names (``password-guessing``, ``scan``, ``dns-tunnel``,
    #: ``beacon``, ``download``, ``exfiltration``: :mod:`hamad_plugin.scoring.behaviours`),
    #: else for an anomalous row what the guards call it (``flood``, ``scan``); "" when none.
    behaviour: str = ""
    #: Id of the incident an anomalous connection belongs to (originator/behaviour/first
    #: second; "" when not anomalous): :mod:`hamad_plugin.scoring.incidents`.
    incident: str = ""
    #: The incident so far: connections, distinct responders, first connection time,
    #: highest score, the first few uids.
    incident_count: int = 0
    incident_peers: int = 0
    incident_first: float = 0.0
    incident_score: float = 0.0
    incident_uids: list[str] = field(default_factory=list)

    @property
    def top_model(self) -> str:
        """The member the attention gate weighed most."""
        if not self.weights:
            return ""
        return max(self.weights, key=lambda k: self.weights[k])

    def explanation(self, n: int = 3) -> str:
        """One short human sentence-part: top features and the dominant member."""
        feats = ", ".join(name for name, _ in self.top_features[:n]) or "n/a"
        return f"top features: {feats}; model weighed most: {self.top_model or 'n/a'}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (what ``hamad replay --out`` writes per line)."""
        return {
            "uid": self.uid,
            "ts": self.ts,
            "orig_h": self.orig_h,
            "orig_p": self.orig_p,
            "resp_h": self.resp_h,
            "resp_p": self.resp_p,
            "proto": self.proto,
            "score": round(self.score, 6),
            "threshold": round(self.threshold, 6),
            "anomalous": self.anomalous,
            "top_features": [[n, round(v, 4)] for n, v in self.top_features],
            "weights": {k: round(v, 4) for k, v in self.weights.items()},
            "member_scores": {k: round(v, 6) for k, v in self.member_scores.items()},
            "model_version": self.model_version,
            "interim": self.interim,
            "learning": self.learning,
            "familiar": self.familiar,
            "behaviour": self.behaviour,
            "incident": self.incident,
            "incident_count": self.incident_count,
            "incident_peers": self.incident_peers,
            "incident_first": self.incident_first,
            "incident_score": round(self.incident_score, 6),
            "incident_uids": list(self.incident_uids),
        }


@dataclass
class VerdictBatch:
    """The verdicts of one scored batch as columns (no object per connection).

    :meth:`verdicts` gives the :class:`Verdict` objects (the transports send
    those); :meth:`json_lines` writes each one's :meth:`Verdict.to_dict` as
    a JSON line without building them.
    """

    uid: list[str]
    ts: np.ndarray
    orig_h: list[str]
    orig_p: list[int]
    resp_h: list[str]
    resp_p: list[int]
    proto: list[str]
    score: np.ndarray
    threshold: np.ndarray
    anomalous: np.ndarray
    #: Indices into ``feature_names`` and contributions, best first ([n, top_k]).
    top: np.ndarray
    top_val: np.ndarray
    weights: np.ndarray
    members: np.ndarray
    learning: np.ndarray
    familiar: np.ndarray
    behaviour: list[str]
    incident: list[str]
    incident_count: np.ndarray
    incident_peers: np.ndarray
    incident_first: np.ndarray
    incident_score: np.ndarray
    incident_uids: list[list[str]]
    feature_names: list[str]
    member_names: list[str]
    model_version: str

    @classmethod
    def concat(cls, parts: Sequence[VerdictBatch]) -> VerdictBatch:
        """Consecutive batches as one (the pipeline splits a batch at the end of learning)."""
        kw: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            vals = [getattr(p, f.name) for p in parts]
            if f.name in ("feature_names", "member_names", "model_version"):
                kw[f.name] = vals[0]
            elif isinstance(vals[0], np.ndarray):
                kw[f.name] = np.concatenate(vals)
            else:
                kw[f.name] = [x for v in vals for x in v]
        return cls(**kw)

    def __len__(self) -> int:
        return len(self.uid)

    def verdicts(self) -> list[Verdict]:
        return self.verdicts_at(range(len(self)))

    def verdicts_at(self, rows: range | list[int]) -> list[Verdict]:
        """The :class:`Verdict` objects of some rows."""
        names, mems, version = self.feature_names, self.member_names, self.model_version
        ix = np.asarray(rows, dtype=np.int64)
        rows_ = zip(
            [self.uid[i] for i in rows], self.ts[ix].tolist(), [self.orig_h[i] for i in rows],
            [self.orig_p[i] for i in rows], [self.resp_h[i] for i in rows],
            [self.resp_p[i] for i in rows], [self.proto[i] for i in rows],
            self.score[ix].tolist(), self.threshold[ix].tolist(), self.anomalous[ix].tolist(),
            self.top[ix].tolist(), self.top_val[ix].tolist(), self.weights[ix].tolist(),
            self.members[ix].tolist(), self.learning[ix].tolist(), self.familiar[ix].tolist(),
            [self.behaviour[i] for i in rows], [self.incident[i] for i in rows],
            self.incident_count[ix].tolist(), self.incident_peers[ix].tolist(),
            self.incident_first[ix].tolist(), self.incident_score[ix].tolist(),
            [list(self.incident_uids[i]) for i in rows],
            strict=True,
        )  # fmt: skip
        # Positional arguments in field order: much cheaper than keywords, once per connection.
        # ``incident`` is the incident's fields, in Verdict's order after ``familiar``.
        return [
            Verdict(
                u,
                t,
                oh,
                op,
                rh,
                rp,
                pr,
                sc,
                th,
                fl,
                [(names[j], c) for j, c in zip(tj, tv, strict=True)],
                dict(zip(mems, w, strict=True)),
                dict(zip(mems, m, strict=True)),
                version,
                False,
                le,
                fa,
                *incident,
            )  # fmt: skip
            for u, t, oh, op, rh, rp, pr, sc, th, fl, tj, tv, w, m, le, fa, *incident in rows_
        ]

    def json_lines(self, rows: list[int], labels: list[str | None] | None = None) -> str:
        """One JSON object per row of ``rows`` (+ ``label`` where given), one a line.

        The objects are :meth:`Verdict.to_dict`'s, serialised by orjson (compact,
        no spaces; NaN would be ``null``, never the invalid ``NaN``) and rounded with
        numpy over whole columns: building and dumping them one value at a time was
        40 % of ``hamad replay --out`` (docs/bench.md).
        """
        if not rows:
            return ""
        idx = np.asarray(rows, dtype=np.int64)
        names, mems, version = self.feature_names, self.member_names, self.model_version
        cols = zip(
            idx.tolist(), self.ts[idx].tolist(),
            np.round(self.score[idx].astype(np.float64), 6).tolist(),
            np.round(self.threshold[idx].astype(np.float64), 6).tolist(),
            self.anomalous[idx].tolist(), self.top[idx].tolist(),
            np.round(self.top_val[idx].astype(np.float64), 4).tolist(),
            np.round(self.weights[idx].astype(np.float64), 4).tolist(),
            np.round(self.members[idx].astype(np.float64), 6).tolist(),
            self.learning[idx].tolist(), self.familiar[idx].tolist(),
            self.incident_count[idx].tolist(), self.incident_peers[idx].tolist(),
            self.incident_first[idx].tolist(),
            np.round(self.incident_score[idx].astype(np.float64), 6).tolist(),
            strict=True,
        )  # fmt: skip
        dumps = orjson.dumps
        out = []
        for i, ts, sc, th, fl, tj, tv, w, m, le, fa, icn, icp, icf, ics in cols:
            d = {
                "uid": self.uid[i],
                "ts": ts,
                "orig_h": self.orig_h[i],
                "orig_p": self.orig_p[i],
                "resp_h": self.resp_h[i],
                "resp_p": self.resp_p[i],
                "proto": self.proto[i],
                "score": sc,
                "threshold": th,
                "anomalous": fl,
                "top_features": [[names[j], v] for j, v in zip(tj, tv, strict=True)],
                "weights": dict(zip(mems, w, strict=True)),
                "member_scores": dict(zip(mems, m, strict=True)),
                "model_version": version,
                "interim": False,
                "learning": le,
                "familiar": fa,
                "behaviour": self.behaviour[i],
                "incident": self.incident[i],
                "incident_count": icn,
                "incident_peers": icp,
                "incident_first": icf,
                "incident_score": ics,
                "incident_uids": self.incident_uids[i],
            }
            if labels is not None and labels[i] is not None:
                d["label"] = labels[i]
            out.append(dumps(d))
        return b"\n".join(out).decode() + "\n"
