"""The verdict the worker returns for each scored connection.

The same structure goes into ``hamad replay`` JSON lines, the WebSocket and
Broker transports (``HAMAD::Verdict`` on the Zeek side) and tests, so it lives
in one module with no heavy imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
        }
