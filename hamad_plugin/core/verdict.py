"""The verdict the worker returns for each scored connection.

The same structure goes into ``hamad replay`` JSON lines, the WebSocket and
Broker transports (``HAMAD::Verdict`` on the Zeek side) and tests, so it lives
in one module with no heavy imports.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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


def _json_str(text: str) -> str:
    return json.dumps(text)


def _quote(text: str) -> str:
    return f'"{text}"'


_NEEDS_ESCAPE = re.compile(r'[^\x20-\x7e]|["\\]')


@dataclass
class VerdictBatch:
    """The verdicts of one scored batch as columns (no object per connection).

    :meth:`verdicts` gives the :class:`Verdict` objects (the transports send
    those); :meth:`json_lines` writes exactly what ``json.dumps(v.to_dict())``
    writes for each, without building them.
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
        """``json.dumps(Verdict.to_dict())`` (+ ``label`` where given) of ``rows``, one a line."""
        if not rows:
            return ""
        idx = np.asarray(rows)
        names = [_json_str(n) for n in self.feature_names]
        mems = [_json_str(m) for m in self.member_names]
        version = _json_str(self.model_version)
        r6 = [round(x, 6) for x in self.score[idx].tolist()]
        t6 = [round(x, 6) for x in self.threshold[idx].tolist()]
        ts = self.ts[idx].tolist()
        flags = self.anomalous[idx].tolist()
        learning = self.learning[idx].tolist()
        familiar = self.familiar[idx].tolist()
        icn = self.incident_count[idx].tolist()
        icp = self.incident_peers[idx].tolist()
        icf = self.incident_first[idx].tolist()
        ics = [round(x, 6) for x in self.incident_score[idx].tolist()]
        top = self.top[idx].tolist()
        top_val = self.top_val[idx].tolist()
        weights = self.weights[idx].tolist()
        members = self.members[idx].tolist()
        out = []
        text = "".join(self.uid) + "".join(self.orig_h) + "".join(self.resp_h) + "".join(self.proto)
        # Plain printable ASCII needs no escaping: quote it directly (json.dumps writes the same).
        dump = _json_str if _NEEDS_ESCAPE.search(text) else _quote
        for k, i in enumerate(rows):
            pairs = zip(top[k], top_val[k], strict=True)
            feats = ", ".join(f"[{names[j]}, {round(v, 4)!r}]" for j, v in pairs)
            w = ", ".join(f"{m}: {round(v, 4)!r}" for m, v in zip(mems, weights[k], strict=True))
            ms = ", ".join(f"{m}: {round(v, 6)!r}" for m, v in zip(mems, members[k], strict=True))
            line = (
                f'{{"uid": {dump(self.uid[i])}, "ts": {ts[k]!r}, "orig_h": {dump(self.orig_h[i])}, '
                f'"orig_p": {self.orig_p[i]}, "resp_h": {dump(self.resp_h[i])}, '
                f'"resp_p": {self.resp_p[i]}, "proto": {dump(self.proto[i])}, "score": {r6[k]!r}, '
                f'"threshold": {t6[k]!r}, "anomalous": {_BOOL[flags[k]]}, '
                f'"top_features": [{feats}], '
                f'"weights": {{{w}}}, "member_scores": {{{ms}}}, "model_version": {version}, '
                f'"interim": false, "learning": {_BOOL[learning[k]]}, '
                f'"familiar": {_BOOL[familiar[k]]}, "behaviour": {dump(self.behaviour[i])}, '
                f'"incident": {_json_str(self.incident[i])}, "incident_count": {icn[k]}, '
                f'"incident_peers": {icp[k]}, "incident_first": {icf[k]!r}, '
                f'"incident_score": {ics[k]!r}, "incident_uids": '
                f"[{', '.join(dump(x) for x in self.incident_uids[i])}]"
            )
            label = labels[i] if labels is not None else None
            out.append(line + (f', "label": {dump(label)}}}' if label is not None else "}"))
        return "\n".join(out) + "\n"


_BOOL = {True: "true", False: "false"}
