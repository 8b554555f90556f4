"""``hamad drift``: how a deployment differs from the model's training data.

Computed from what the site learner saved (:class:`~hamad_plugin.scoring.learning.SiteLearner`
keeps the feature and score statistics) and the model's benign training
statistics in its manifest; the serving path never needs it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.manifest import ModelManifest
from ..scoring.learning import SCORE_BINS, SiteLearner


@dataclass
class Drift:
    """How the deployment differs from the model's training data (``hamad drift``)."""

    connections: int
    #: (feature, standardised mean shift, site sd / training sd), largest |shift| first.
    features: list[tuple[str, float, float]]
    #: The site's score histogram (SCORE_BINS bins over [0, 1]).
    score_hist: np.ndarray
    #: Site score quantiles {0.5, 0.9, 0.99, 0.999}.
    quantiles: dict[float, float]
    #: The shipped calibration: threshold and the 0.99 quantile of benign validation scores.
    calibration: dict[str, float]
    #: Share of the site's connections at or above the calibrated threshold.
    above_threshold: float

    def lines(self, top: int = 10) -> list[str]:
        """The text report."""
        if not self.connections:
            return ["drift: no connections seen yet"]
        cal = self.calibration
        q = self.quantiles
        out = [
            f"drift over {self.connections} connections of this site vs the training data:",
            f"  scores: median {q[0.5]:.3f}, 90% {q[0.9]:.3f}, 99% {q[0.99]:.3f}, "
            f"99.9% {q[0.999]:.3f}; training benign 99% {cal['reference']:.3f}",
            f"  {100 * self.above_threshold:.2f} % of connections reach the calibrated "
            f"threshold {cal['threshold']:.3f} (training benign: {100 * cal['target_fpr']:g} %)",
            "  top drifting features (standardised mean shift; sd ratio site/training):",
        ]
        for name, shift, ratio in self.features[:top]:
            out.append(f"    {name:<34} {shift:+8.2f}   x{ratio:.2f}")
        return out


def drift(learner: SiteLearner, manifest: ModelManifest) -> Drift:
    """Compare the site's statistics with the model's benign training statistics."""
    mean, sd, n = learner.feature_stats()
    explain = manifest.explain
    k = len(learner.feature_names)
    t_mean = np.asarray(
        np.zeros(k) if explain is None or explain.mean is None else explain.mean, dtype=np.float64
    )
    t_scale = np.asarray(
        np.ones(k) if explain is None or explain.scale is None else explain.scale, dtype=np.float64
    )
    t_scale = np.where(t_scale > 1e-6, t_scale, 1.0)
    shift = (mean - t_mean) / t_scale
    ratio = sd / t_scale
    order = np.argsort(-np.abs(shift), kind="stable")
    feats = [(learner.feature_names[i], float(shift[i]), float(ratio[i])) for i in order]
    hist = learner.score_hist
    total = hist.sum()
    cdf = np.cumsum(hist) / total if total else np.zeros(SCORE_BINS)
    qs = {p: float((np.searchsorted(cdf, p) + 0.5) / SCORE_BINS) for p in (0.5, 0.9, 0.99, 0.999)}
    thr = manifest.threshold
    cal = {
        "threshold": float(thr.threshold),
        "reference": float(thr.reference),
        "target_fpr": float(thr.target_fpr),
    }
    first = int(min(SCORE_BINS - 1, cal["threshold"] * SCORE_BINS))
    above = float(hist[first:].sum() / total) if total else 0.0
    return Drift(int(n), feats, hist, qs, cal, above)
