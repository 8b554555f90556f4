"""Evaluation figures (confusion matrix, ROC, PR, score histogram, comparisons).

matplotlib is a training/report extra, not a serving dependency, so it is
imported lazily inside each function with the non-interactive ``Agg``
backend (works on headless CI and servers). A missing matplotlib raises one
:class:`DependencyError` saying how to install it.

Every function writes PNG files and returns their paths; nothing is shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..errors import DependencyError, HamadError
from .metrics import confusion_matrix, pr_curve, roc_curve

__all__ = [
    "save_eval_plots",
    "plot_confusion_matrix",
    "plot_roc_curves",
    "plot_pr_curves",
    "plot_score_hist",
    "plot_model_bars",
    "plot_multiclass_confusion",
]

_DPI = 110


def _pyplot() -> Any:
    """Import matplotlib.pyplot with the Agg backend, or explain what to install."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DependencyError(
            "plots need matplotlib (a training extra): pip install 'hamad-zeek[train]' "
            f"or pip install matplotlib ({exc})"
        ) from exc
    return plt


def _out_dir(out_dir: str | Path) -> Path:
    p = Path(out_dir)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HamadError(f"cannot create plot directory {p}: {exc}") from exc
    return p


def _save(fig: Any, path: Path) -> Path:
    plt = _pyplot()
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
    return path


def plot_confusion_matrix(
    y: ArrayLike, scores: ArrayLike, threshold: float, path: str | Path, title: str
) -> Path:
    """2x2 confusion matrix at ``threshold`` with counts and row percentages."""
    plt = _pyplot()
    s = np.asarray(scores, dtype=np.float64)
    cm = confusion_matrix(y, (s >= threshold).astype(np.int64))
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    ax.imshow(cm, cmap="Blues")
    names = ["benign", "malicious"]
    ax.set_xticks([0, 1], labels=[f"pred {n}" for n in names])
    ax.set_yticks([0, 1], labels=[f"true {n}" for n in names])
    vmax = cm.max() if cm.max() > 0 else 1
    for i in range(2):
        row = cm[i].sum()
        for j in range(2):
            pct = 100.0 * cm[i, j] / row if row else 0.0
            color = "white" if cm[i, j] > vmax / 2 else "black"
            ax.text(j, i, f"{cm[i, j]:,}\n({pct:.1f}%)", ha="center", va="center", color=color)
    ax.set_title(f"{title}\nthreshold={threshold:.4g}", fontsize=9)
    return _save(fig, Path(path))


def plot_multiclass_confusion(
    cm: ArrayLike, labels: Sequence[str], path: str | Path, title: str
) -> Path:
    """Row-normalised multi-class confusion matrix (recall per true class on the diagonal)."""
    plt = _pyplot()
    m = np.asarray(cm, dtype=np.float64)
    rows = m.sum(axis=1, keepdims=True)
    norm = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    k = len(labels)
    size = max(4.0, 0.55 * k + 2.0)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    ax.imshow(norm, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(k), labels=list(labels), rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), labels=list(labels), fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(k):
        for j in range(k):
            if norm[i, j] >= 0.005:
                color = "white" if norm[i, j] > 0.5 else "black"
                ax.text(
                    j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=7, color=color
                )
    ax.set_title(title, fontsize=9)
    return _save(fig, Path(path))


def _finish_curves(
    fig: Any, ax: Any, xlabel: str, ylabel: str, legend_at: str, title: str, path: str | Path
) -> Path:
    """Labels, grid, legend and title of a curve plot, then save it."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc=legend_at)
    ax.set_title(title, fontsize=9)
    return _save(fig, Path(path))


def plot_roc_curves(
    curves: Mapping[str, tuple[ArrayLike, ArrayLike]], path: str | Path, title: str
) -> Path:
    """ROC curves of several models/protocols on one axis; ``curves[name] = (y, scores)``.

    The x axis is logarithmic because an IDS lives at FPR <= 1%: on a linear
    axis every decent model looks like a perfect corner.
    """
    plt = _pyplot()
    from .metrics import roc_auc

    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    for name, (y, s) in curves.items():
        auc = roc_auc(y, s)
        if auc is None:
            continue
        fpr, tpr, _ = roc_curve(y, s)
        n_neg = int(np.sum(np.asarray(y) == 0))
        floor = 0.5 / max(n_neg, 1)
        ax.plot(np.maximum(fpr, floor), tpr, label=f"{name} (AUC {auc:.4f})", lw=1.3)
    ax.set_xscale("log")
    ax.set_ylim(0.0, 1.01)
    return _finish_curves(fig, ax, "false-positive rate (log)", "true-positive rate (recall)",
                          "lower right", title, path)  # fmt: skip


def plot_pr_curves(
    curves: Mapping[str, tuple[ArrayLike, ArrayLike]], path: str | Path, title: str
) -> Path:
    """Precision-recall curves; ``curves[name] = (y, scores)``; legend gives average precision."""
    plt = _pyplot()
    from .metrics import average_precision

    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    for name, (y, s) in curves.items():
        ap = average_precision(y, s)
        if ap is None:
            continue
        precision, recall, _ = pr_curve(y, s)
        ax.step(recall, precision, where="post", label=f"{name} (AP {ap:.4f})", lw=1.3)
    ax.set_xlim(0.0, 1.01)
    ax.set_ylim(0.0, 1.01)
    return _finish_curves(fig, ax, "recall", "precision", "lower left", title, path)


def plot_score_hist(
    y: ArrayLike, scores: ArrayLike, threshold: float, path: str | Path, title: str
) -> Path:
    """Score distribution per class (log counts) with the threshold marked."""
    plt = _pyplot()
    yy = np.asarray(y)
    s = np.asarray(scores, dtype=np.float64)
    lo, hi = (float(s.min()), float(s.max())) if s.size else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1.0
    bins = np.linspace(lo, hi, 51)
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for cls, name, color in ((0, "benign", "tab:blue"), (1, "malicious", "tab:red")):
        part = s[yy == cls]
        if part.size:
            ax.hist(part, bins=bins, alpha=0.55, label=f"{name} (n={part.size:,})", color=color)
    ax.axvline(threshold, color="black", ls="--", lw=1, label=f"threshold {threshold:.4g}")
    ax.set_yscale("log")
    ax.set_xlabel("score")
    ax.set_ylabel("rows (log)")
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=9)
    return _save(fig, Path(path))


def save_eval_plots(
    y: ArrayLike, scores: ArrayLike, threshold: float, out_dir: str | Path, title: str
) -> list[Path]:
    """Write confusion_matrix.png, roc.png, pr.png and score_hist.png into ``out_dir``.

    ROC/PR need both classes; with a single class they are skipped (and not
    returned) rather than drawn empty, so a missing file means "undefined".
    """
    out = _out_dir(out_dir)
    yy = np.asarray(y)
    paths = [plot_confusion_matrix(yy, scores, threshold, out / "confusion_matrix.png", title)]
    if yy.size and yy.min() != yy.max():
        paths.append(plot_roc_curves({title: (yy, scores)}, out / "roc.png", f"ROC - {title}"))
        paths.append(plot_pr_curves({title: (yy, scores)}, out / "pr.png", f"PR - {title}"))
    paths.append(plot_score_hist(yy, scores, threshold, out / "score_hist.png", title))
    return paths


def plot_model_bars(
    values: Mapping[str, Mapping[str, float | None]],
    path: str | Path,
    title: str,
    metrics: Sequence[str] = ("accuracy", "precision", "recall", "f1"),
    errors: Mapping[str, Mapping[str, float | None]] | None = None,
    ylim: tuple[float, float] | None = None,
) -> Path:
    """Grouped bars: one group per model, one bar per metric; optional ± std error bars.

    ``values[model][metric]``; missing/None values are drawn as absent bars.
    """
    plt = _pyplot()
    models = list(values)
    k = len(metrics)
    width = 0.8 / max(k, 1)
    x = np.arange(len(models), dtype=np.float64)
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(models) + 2.0), 4.0))
    for i, met in enumerate(metrics):
        h = [values[m].get(met) for m in models]
        heights = [np.nan if v is None else float(v) for v in h]
        err: list[float] | None = None
        if errors is not None:
            err = [float(errors.get(m, {}).get(met) or 0.0) for m in models]
        ax.bar(x + (i - (k - 1) / 2) * width, heights, width, label=met, yerr=err, capsize=2)
    ax.set_xticks(x, labels=models, rotation=30, ha="right", fontsize=8)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7, ncol=min(k, 4))
    ax.set_title(title, fontsize=9)
    return _save(fig, Path(path))


def plot_drift(d: Any, path: str | Path, top: int = 12) -> Path:
    """Two panels: the site's score histogram against the calibration, and the top
    drifting features (standardised mean shift against the training data)."""
    plt = _pyplot()
    out = Path(path)
    _out_dir(out.parent)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.6))
    edges = np.linspace(0, 1, len(d.score_hist) + 1)
    a1.bar(edges[:-1], d.score_hist, width=np.diff(edges), align="edge", color="#4c72b0")
    a1.set_yscale("log")
    a1.axvline(d.calibration["threshold"], color="#c44e52", ls="--", label="calibrated threshold")
    a1.axvline(d.calibration["reference"], color="#55a868", ls=":",
               label="training benign 99 %")  # fmt: skip
    a1.set_xlabel("fused score")
    a1.set_ylabel("connections (log)")
    a1.set_title(f"scores of this site ({d.connections} connections)")
    a1.legend(fontsize=8)
    feats = d.features[:top][::-1]
    a2.barh([f[0] for f in feats], [f[1] for f in feats],
            color=["#c44e52" if f[1] > 0 else "#4c72b0" for f in feats])  # fmt: skip
    a2.axvline(0, color="black", lw=0.8)
    a2.set_xlabel("mean shift, in training standard deviations")
    a2.set_title("features that drifted most")
    a2.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return _save(fig, out)


def plot_learning(
    captures: Sequence[str],
    fa: Mapping[str, Sequence[float | None]],
    recall: Mapping[str, Sequence[float | None]],
    path: str | Path,
) -> Path:
    """Per held-out capture, false alarms per 10,000 benign and recall for each variant
    (today's calibration vs the learned deployment), side by side."""
    plt = _pyplot()
    out = Path(path)
    _out_dir(out.parent)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 0.5 * len(captures) + 2.2), sharey=True)
    y = np.arange(len(captures))
    h = 0.8 / max(1, len(fa))
    for i, name in enumerate(fa):
        off = (i - (len(fa) - 1) / 2) * h
        # log axis: plot zero false alarms at 0.5 so the bar is visible; n/a stays empty
        a1.barh(y + off, [np.nan if v is None else max(v, 0.5) for v in fa[name]], h, label=name)
        a2.barh(y + off, [np.nan if v is None else 100 * v for v in recall[name]], h, label=name)
    a1.set_xscale("log")
    a1.axvline(1.0, color="black", ls="--", lw=0.8)
    a1.set_xlabel("false alarms per 10,000 benign (log; 0 drawn at 0.5; dashed = goal 1)")
    a2.set_xlabel("recall of malicious connections (%)")
    a1.set_yticks(y, [c[:34] for c in captures], fontsize=8)
    a1.invert_yaxis()
    a2.legend(fontsize=8, loc="lower right")
    a1.set_title("false alarms after learning")
    a2.set_title("recall after learning")
    fig.tight_layout()
    return _save(fig, out)
