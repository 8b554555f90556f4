"""Binary detection metrics in pure numpy.

Why pure numpy: the worker that serves the ONNX model computes live metrics
(e.g. on a labelled replay) and must not need scikit-learn installed. The
formulas follow scikit-learn's conventions so numbers agree with it:
``roc_auc`` is the trapezoidal area under the ROC curve with ties handled by
grouping equal scores, ``pr_auc`` is *average precision*
(sum over thresholds of ``(R_n - R_{n-1}) * P_n``, no interpolation).

Label convention everywhere: ``1`` = malicious (positive), ``0`` = benign.
A row is flagged malicious when ``score >= threshold``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import ConfigError, DataError

__all__ = [
    "BinaryMetrics",
    "binary_metrics",
    "confusion_matrix",
    "pr_curve",
    "recall_at_fpr",
    "roc_curve",
    "threshold_for_fpr",
    "average_precision",
    "roc_auc",
    "multiclass_metrics",
]


def _as_labels(y_true: ArrayLike, name: str = "y_true") -> NDArray[np.int64]:
    """Binary labels as int64; anything other than 0/1 is a caller bug worth a clear error."""
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of 0/1 labels, got shape {y.shape}")
    if y.dtype == bool:
        return y.astype(np.int64)
    if y.size and not np.isin(y, (0, 1)).all():
        bad = np.unique(y[~np.isin(y, (0, 1))])[:5]
        raise ValueError(f"{name}: expected labels 0 (benign) / 1 (malicious), got {bad!r}")
    return y.astype(np.int64)


def _as_scores(scores: ArrayLike, n: int | None = None) -> NDArray[np.float64]:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"scores: expected a 1-D array, got shape {s.shape}")
    if n is not None and s.shape[0] != n:
        raise ValueError(f"scores: expected {n} values (one per label), got {s.shape[0]}")
    if s.size and not np.isfinite(s).all():
        raise ValueError("scores: contain NaN or infinite values")
    return s


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike) -> NDArray[np.int64]:
    """2x2 matrix ``[[tn, fp], [fn, tp]]`` (rows = truth, columns = prediction).

    Same layout as ``sklearn.metrics.confusion_matrix(labels=[0, 1])`` so the
    plots and tables read the same way as most papers.
    """
    y = _as_labels(y_true)
    p = _as_labels(y_pred, "y_pred")
    if y.shape != p.shape:
        raise ValueError(f"y_true has {y.shape[0]} rows but y_pred has {p.shape[0]}")
    cm = np.zeros((2, 2), dtype=np.int64)
    np.add.at(cm, (y, p), 1)
    return cm


def _binary_clf_curve(
    y: NDArray[np.int64], s: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Cumulative false/true positives at each distinct score, highest score first."""
    order = np.argsort(-s, kind="mergesort")
    s_sorted = s[order]
    y_sorted = y[order]
    distinct = np.where(np.diff(s_sorted))[0]
    idx = np.r_[distinct, y_sorted.size - 1]
    tps = np.cumsum(y_sorted, dtype=np.float64)[idx]
    fps = (1.0 + idx) - tps
    return fps, tps, s_sorted[idx]


def roc_curve(
    y_true: ArrayLike, scores: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """(fpr, tpr, thresholds) starting at (0, 0); needs both classes present."""
    y = _as_labels(y_true)
    s = _as_scores(scores, y.shape[0])
    n_pos = int(y.sum())
    n_neg = int(y.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        raise DataError("roc_curve: needs both benign (0) and malicious (1) rows")
    fps, tps, thr = _binary_clf_curve(y, s)
    fpr = np.r_[0.0, fps / n_neg]
    tpr = np.r_[0.0, tps / n_pos]
    return fpr, tpr, np.r_[np.inf, thr]


def pr_curve(
    y_true: ArrayLike, scores: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """(precision, recall, thresholds), recall decreasing, ending at (1, 0) like sklearn."""
    y = _as_labels(y_true)
    s = _as_scores(scores, y.shape[0])
    if int(y.sum()) == 0:
        raise DataError("pr_curve: needs at least one malicious (1) row")
    fps, tps, thr = _binary_clf_curve(y, s)
    precision = tps / np.maximum(tps + fps, 1.0)
    recall = tps / tps[-1]
    # Reverse so recall decreases, append the (precision 1, recall 0) end point.
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], thr[::-1]


def roc_auc(y_true: ArrayLike, scores: ArrayLike) -> float | None:
    """Area under ROC; ``None`` when only one class is present (undefined, not an error)."""
    y = _as_labels(y_true)
    if y.size == 0 or y.min() == y.max():
        return None
    fpr, tpr, _ = roc_curve(y, scores)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def average_precision(y_true: ArrayLike, scores: ArrayLike) -> float | None:
    """Average precision (PR-AUC); ``None`` when only one class is present."""
    y = _as_labels(y_true)
    if y.size == 0 or y.min() == y.max():
        return None
    precision, recall, _ = pr_curve(y, scores)
    return float(-np.sum(np.diff(recall) * precision[:-1]))


def threshold_for_fpr(benign_scores: ArrayLike, target_fpr: float) -> float:
    """Smallest threshold whose false-positive rate on ``benign_scores`` is <= ``target_fpr``.

    Why not a plain quantile: with ``score >= t`` flagging, interpolated
    quantiles can land *on* a tied score and flag more than the target. We
    take the ``k``-th largest distinct score boundary so that at most
    ``floor(target_fpr * n)`` benign rows score at or above the threshold.
    Calibrate on benign rows the model was not trained on (validation split).
    """
    if not (0.0 <= target_fpr < 1.0) or math.isnan(target_fpr):
        raise ConfigError(f"target_fpr must be in [0, 1), got {target_fpr!r}")
    s = _as_scores(benign_scores)
    if s.size == 0:
        raise DataError("threshold_for_fpr: no benign scores to calibrate on")
    s_desc = np.sort(s)[::-1]
    allowed = int(math.floor(target_fpr * s.size + 1e-9))
    if allowed >= s.size:
        return float(s_desc[-1])
    # Threshold just above the (allowed+1)-th largest score: that row and all below pass;
    # rows tied with it also pass, so the FPR on these rows can only be lower than target.
    boundary = float(s_desc[allowed])
    # Step up in float32 too: models emit float32 scores and numpy compares a float32
    # array with a Python float in float32, where a float64 step would round away.
    up64 = float(np.nextafter(boundary, np.inf))
    up32 = float(np.nextafter(np.float32(boundary), np.float32(np.inf)))
    return max(up64, up32)


def recall_at_fpr(y_true: ArrayLike, scores: ArrayLike, fpr: float) -> float | None:
    """Detection rate when the threshold is set so benign FPR <= ``fpr`` (on these same rows).

    An operating-point summary for comparing models independent of their own
    threshold choice. ``None`` if either class is missing.
    """
    y = _as_labels(y_true)
    s = _as_scores(scores, y.shape[0])
    if y.size == 0 or y.min() == y.max():
        return None
    thr = threshold_for_fpr(s[y == 0], fpr)
    return float(np.mean(s[y == 1] >= thr))


@dataclass(frozen=True)
class BinaryMetrics:
    """All binary numbers for one (model, split). ``None`` = undefined for this data."""

    accuracy: float
    precision: float | None
    recall: float | None
    f1: float | None
    fpr: float | None
    specificity: float | None
    tp: int
    fp: int
    tn: int
    fn: int
    roc_auc: float | None
    pr_auc: float | None
    n: int
    n_pos: int
    n_neg: int
    threshold: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def false_alarms_and_recall(
    scores: np.ndarray, y: np.ndarray, threshold: float
) -> tuple[float, float | None]:
    """Flags at ``threshold`` as an operator counts them: false alarms per 10,000 benign
    rows (0 without benign rows) and recall (None without malicious rows)."""
    flag = np.asarray(scores) >= threshold
    ben, mal = y == 0, y == 1
    false = 1e4 * float(flag[ben].mean()) if ben.any() else 0.0
    return false, (float(flag[mal].mean()) if mal.any() else None)


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den > 0 else None


def binary_metrics(y_true: ArrayLike, scores: ArrayLike, threshold: float) -> dict[str, Any]:
    """Accuracy, precision, recall, F1, FPR, counts, ROC-AUC and PR-AUC at ``threshold``.

    Returns a plain dict (JSON-ready). Ratios with a zero denominator (e.g.
    precision when nothing is flagged, AUC with one class) are ``None``
    rather than 0 or a crash, so a table shows "n/a" instead of a fake number.
    """
    y = _as_labels(y_true)
    s = _as_scores(scores, y.shape[0])
    if y.size == 0:
        raise DataError("binary_metrics: no rows to evaluate")
    pred = (s >= threshold).astype(np.int64)
    (tn, fp), (fn, tp) = confusion_matrix(y, pred).tolist()
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn) if (tp + fn) > 0 else None
    fpr = _ratio(fp, fp + tn)
    m = BinaryMetrics(
        accuracy=float((tp + tn) / y.size),
        precision=precision,
        recall=recall,
        f1=f1,
        fpr=fpr,
        specificity=None if fpr is None else 1.0 - fpr,
        tp=int(tp),
        fp=int(fp),
        tn=int(tn),
        fn=int(fn),
        roc_auc=roc_auc(y, s),
        pr_auc=average_precision(y, s),
        n=int(y.size),
        n_pos=int(tp + fn),
        n_neg=int(tn + fp),
        threshold=float(threshold),
    )
    return m.to_dict()


def multiclass_metrics(y_true: ArrayLike, y_pred: ArrayLike, labels: list[str]) -> dict[str, Any]:
    """Accuracy, macro/weighted F1 and per-class precision/recall/F1/support.

    ``y_true``/``y_pred`` are integer class indices into ``labels``.
    """
    yt = np.asarray(y_true, dtype=np.int64)
    yp = np.asarray(y_pred, dtype=np.int64)
    if yt.shape != yp.shape or yt.ndim != 1:
        raise ValueError(f"multiclass_metrics: shapes differ: {yt.shape} vs {yp.shape}")
    k = len(labels)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (yt, yp), 1)
    per: dict[str, dict[str, float | int | None]] = {}
    f1s: list[float] = []
    supports: list[int] = []
    for i, name in enumerate(labels):
        tp = int(cm[i, i])
        fp = int(cm[:, i].sum() - tp)
        fn = int(cm[i, :].sum() - tp)
        support = tp + fn
        p = _ratio(tp, tp + fp)
        r = _ratio(tp, tp + fn)
        f = _ratio(2 * tp, 2 * tp + fp + fn)
        per[name] = {"precision": p, "recall": r, "f1": f, "support": support}
        if support > 0:
            f1s.append(f or 0.0)
            supports.append(support)
    total = int(cm.sum())
    macro = float(np.mean(f1s)) if f1s else None
    weighted = (
        float(np.average(f1s, weights=np.asarray(supports, dtype=np.float64))) if f1s else None
    )
    return {
        "accuracy": float(np.trace(cm) / total) if total else None,
        "macro_f1": macro,
        "weighted_f1": weighted,
        "per_class": per,
        "confusion": cm.tolist(),
        "labels": list(labels),
    }
