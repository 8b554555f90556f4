"""Score -> verdict: a threshold fitted on benign data that can adapt at run time.

The rule (also in the README):

1. **Calibrate.** ``threshold_`` is the ``1 - target_fpr`` quantile of the
   fused scores of *benign validation* connections, so on data like the
   validation set about ``target_fpr`` of benign connections are flagged.
   ``reference_`` is the ``quantile``-th (default 0.99) quantile of the same
   scores: where the bulk of benign traffic ends.
2. **Adapt** (``mode="adaptive"``). The worker keeps a decayed histogram of the
   scores it has recently seen (half-life ``half_life`` connections). Once
   ``min_samples`` are in, the threshold in force is
   ``clip(threshold_ + (q_recent - reference_), lower, upper)``: when this
   network's bulk scores sit higher than the calibration data (a noisy
   deployment, a traffic peak) the threshold rises by the same amount, when
   they sit lower it tightens. Only scores the threshold in force did *not*
   flag join the running distribution (and, where the caller knows better,
   only connections it calls clean): a burst that is being flagged never
   lifts the threshold, so a scan an hour after a flood is judged against
   the same level as before it. The bounds keep anything else that scores
   high from lifting the threshold without limit.
3. ``mode="fixed"`` always uses ``threshold_`` (or an operator override).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError, NotFittedError

MODES = ("fixed", "adaptive")


@dataclass
class AdaptiveThreshold:
    """Threshold calibrated for a target false-positive rate, optionally adaptive.

    Parameters
    ----------
    mode : {"fixed", "adaptive"}, default="adaptive"
    target_fpr : float, default=1e-4
        Share of benign validation connections allowed above the threshold.
    quantile : float, default=0.99
        Quantile of recent scores tracked for adaptation.
    half_life : float, default=20000
        Connections after which an old score counts half.
    min_samples : int, default=2000
        Scores to see before adapting at all.
    lower, upper : float or None
        Bounds of the adaptive threshold; default ``threshold_ / 2`` and
        ``threshold_ + (1 - threshold_) / 2``.
    n_bins : int, default=1000
        Histogram resolution over [0, 1].
    """

    mode: str = "adaptive"
    target_fpr: float = 1e-4
    quantile: float = 0.99
    half_life: float = 20000.0
    min_samples: int = 2000
    lower: float | None = None
    upper: float | None = None
    n_bins: int = 1000
    override: float | None = None
    _hist: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    _seen: int = field(default=0, repr=False)
    _rows: int = field(default=0, repr=False)
    #: Scores of the step in progress, observed when it completes.
    _pending: list[np.ndarray] = field(default_factory=list, repr=False)

    #: Connections judged with one threshold before it is updated.
    step = 256

    def _validate(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"threshold mode must be one of {MODES}, got {self.mode!r}")
        if not 0.0 < self.target_fpr < 1.0:
            raise ConfigError(f"target_fpr must be in (0, 1), got {self.target_fpr!r}")
        if not 0.0 < self.quantile < 1.0:
            raise ConfigError(f"quantile must be in (0, 1), got {self.quantile!r}")
        if self.half_life <= 0:
            raise ConfigError(f"half_life must be > 0, got {self.half_life!r}")
        if self.override is not None and not 0.0 < self.override <= 1.0:
            raise ConfigError(f"threshold override must be in (0, 1], got {self.override!r}")
        if isinstance(self.n_bins, bool) or not isinstance(self.n_bins, int) or self.n_bins < 2:
            raise ConfigError(f"n_bins must be an integer >= 2, got {self.n_bins!r}")
        if isinstance(self.min_samples, bool) or not isinstance(self.min_samples, int):
            raise ConfigError(f"min_samples must be an integer, got {self.min_samples!r}")
        if self.min_samples < 0:
            raise ConfigError(f"min_samples must be >= 0, got {self.min_samples!r}")
        for name in ("lower", "upper"):
            v = getattr(self, name)
            if v is not None and not 0.0 <= v <= 1.0:
                raise ConfigError(f"{name} bound must be in [0, 1], got {v!r}")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ConfigError(f"lower bound {self.lower} is above upper bound {self.upper}")

    def fit(self, benign_scores: np.ndarray) -> AdaptiveThreshold:
        """Calibrate on scores of benign validation connections; returns self."""
        self._validate()
        s = np.asarray(benign_scores, dtype=np.float64)
        s = s[np.isfinite(s)]
        if len(s) == 0:
            raise DataError("cannot calibrate a threshold without benign validation scores")
        self.threshold_ = float(np.quantile(s, 1.0 - self.target_fpr, method="higher"))
        # A threshold of exactly the max benign score would flag nothing new; nudge above it.
        self.threshold_ = float(min(np.nextafter(self.threshold_, 2.0), 1.0))
        self.reference_ = float(np.quantile(s, self.quantile))
        self.n_calibration_ = int(len(s))
        self.reset()
        return self

    def reset(self) -> None:
        """Forget the running score distribution (keep the calibration)."""
        self._hist = np.zeros(self.n_bins)
        self._seen = 0
        self._rows = 0
        self._pending = []

    @property
    def bounds(self) -> tuple[float, float]:
        self._check()
        lo = self.lower if self.lower is not None else self.threshold_ / 2
        hi = self.upper if self.upper is not None else self.threshold_ + (1 - self.threshold_) / 2
        return float(lo), float(hi)

    def _check(self) -> None:
        if not hasattr(self, "threshold_"):
            raise NotFittedError(
                "This AdaptiveThreshold is not fitted yet. Call 'fit' with benign validation "
                "scores, or load it from a model's metadata."
            )

    def running_quantile(self) -> float | None:
        """The tracked quantile of recent scores, or None before ``min_samples``."""
        if self._seen < self.min_samples or self._hist.sum() <= 0:
            return None
        cdf = np.cumsum(self._hist) / self._hist.sum()
        idx = int(np.searchsorted(cdf, self.quantile))
        return float((idx + 0.5) / self.n_bins)

    def current(self) -> float:
        """The threshold in force right now."""
        self._check()
        if self.override is not None:
            return float(self.override)
        if self.mode == "fixed":
            return self.threshold_
        q = self.running_quantile()
        if q is None:
            return self.threshold_
        lo, hi = self.bounds
        return float(np.clip(self.threshold_ + (q - self.reference_), lo, hi))

    def observe(self, scores: np.ndarray) -> None:
        """Add scores to the decayed histogram (call after deciding on them)."""
        s = np.asarray(scores, dtype=np.float64)
        s = s[np.isfinite(s)]
        if len(s) == 0:
            return
        if len(self._hist) != self.n_bins:
            self._hist = np.zeros(self.n_bins)
        self._hist *= 0.5 ** (len(s) / self.half_life)
        bins = np.clip((s * self.n_bins).astype(np.int64), 0, self.n_bins - 1)
        self._hist += np.bincount(bins, minlength=self.n_bins)
        self._seen += len(s)

    def decide(
        self, scores: np.ndarray, observe: bool = True, learn_from: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Anomalous flags and the threshold used, in stream order.

        The stream is judged in steps of :attr:`step` connections counted from
        the start, whatever the batches: each step uses the threshold in force
        before it, then (if ``observe``) its scores join the running
        distribution. So replay (batches of 1024) and serve (Zeek's batches)
        decide alike. Flagged scores never join the distribution (an attack
        cannot lift the threshold by flooding it, and the threshold does not
        stay up after a burst); ``learn_from`` (a mask) limits it further, e.g.
        to connections the supervised members do not call malicious.
        """
        s = np.asarray(scores, dtype=np.float64)
        n = len(s)
        flags = np.zeros(n, dtype=bool)
        used = np.zeros(n)
        start = 0
        while start < n:
            end = min(n, start + self.step - self._rows % self.step) if observe else n
            part = s[start:end]
            thr = self.current()
            used[start:end] = thr
            flags[start:end] = part >= thr
            if observe:
                self._rows += end - start
                if self.mode == "adaptive":
                    keep = part < thr
                    if learn_from is not None:
                        keep &= learn_from[start:end]
                    self._pending.append(part[keep])
                    if self._rows % self.step == 0:
                        self.observe(np.concatenate(self._pending))
                        self._pending = []
            start = end
        return flags, used

    def state_dict(self) -> dict[str, Any]:
        """The run-time state (what adaptation has seen), for saving with a site's state."""
        pending = np.concatenate(self._pending).tolist() if self._pending else []
        return {"hist": [round(float(v), 6) for v in self._hist], "seen": self._seen,
                "rows": self._rows, "pending": pending}  # fmt: skip

    def load_state(self, d: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; raises ValueError if it does not fit this threshold."""
        hist = np.asarray(d["hist"], dtype=np.float64)
        if hist.shape != (self.n_bins,) or not np.isfinite(hist).all() or (hist < 0).any():
            raise ValueError(f"threshold histogram must be {self.n_bins} counts >= 0")
        seen, rows = int(d["seen"]), int(d["rows"])
        if seen < 0 or rows < 0:
            raise ValueError("threshold counters must be >= 0")
        pending = np.asarray(d.get("pending", []), dtype=np.float64)
        if pending.ndim != 1 or len(pending) >= self.step:
            raise ValueError(f"threshold pending scores must be fewer than {self.step}")
        self._hist, self._seen, self._rows = hist, seen, rows
        self._pending = [pending] if len(pending) else []

    def to_dict(self) -> dict[str, Any]:
        self._check()
        return {
            "mode": self.mode,
            "target_fpr": self.target_fpr,
            "quantile": self.quantile,
            "half_life": self.half_life,
            "min_samples": self.min_samples,
            "lower": self.lower,
            "upper": self.upper,
            "n_bins": self.n_bins,
            "threshold": self.threshold_,
            "reference": self.reference_,
            "n_calibration": self.n_calibration_,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], **overrides: Any) -> AdaptiveThreshold:
        """Rebuild a calibrated threshold from model metadata; overrides win."""
        try:
            params: dict[str, Any] = {
                k: d[k]
                for k in (
                    "mode",
                    "target_fpr",
                    "quantile",
                    "half_life",
                    "min_samples",
                    "lower",
                    "upper",
                    "n_bins",
                )
                if k in d
            }
            params.update({k: v for k, v in overrides.items() if v is not None})
            thr = cls(**params)
            thr._validate()
            thr.threshold_ = float(d["threshold"])
            thr.reference_ = float(d["reference"])
            thr.n_calibration_ = int(d.get("n_calibration", 0))
            if not 0.0 < thr.threshold_ <= 1.0:  # NaN fails this too
                raise ConfigError(f"calibrated threshold must be in (0, 1], got {thr.threshold_!r}")
            if not 0.0 <= thr.reference_ <= 1.0:
                raise ConfigError(f"reference score must be in [0, 1], got {thr.reference_!r}")
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(
                f"threshold calibration in model metadata is unusable: {exc}"
            ) from exc
        thr.reset()
        return thr
