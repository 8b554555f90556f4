"""The report's PNG plots: ROC, PR, HAMAD's confusion matrix and the bar chart per benchmark.

Why a module of its own: the plots are the one part of the document drawn
from the run's pooled scores (which ``evaluation.json`` does not keep), so
they are written right after the protocols run; the document only links the
paths recorded on each :class:`~.store.ProtocolResult`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .aggregate import aggregate, family_recall, has_single_class_fold, pooled_metrics
from .collect import Multiclass
from .store import ProtocolResult
from .tables import ordered

#: The models drawn in the ROC and PR plots.
PLOT_MODELS: tuple[str, ...] = (
    "HAMAD", "HAMAD mean-fusion", "RF only", "XGB only", "Novelty only (PCA)",
    "HAMAD single-scale (120 s)", "CNN-LSTM (seed 002)", "Student MLP, ONNX (seed 001)",
)  # fmt: skip


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _bar_values(
    b: ProtocolResult,
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]] | None, list[str], str]:
    """(values, errors, metrics, note) of a bench's bar chart.

    Standard layout: accuracy/precision/recall/F1 per model (fold mean ± std, or pooled
    when a fold is single-class). Held-out-family layout: each model's recall on every
    unseen family and its mean FPR on the BENIGN test rows.
    """
    if b.layout == "held-out-family":
        recall = family_recall(b)
        fams = [f["fold"] for f in b.fold_sizes]
        fpr_label = "FPR on BENIGN"
        agg = aggregate(b, "calibrated")
        vals = {m: {**recall[m], fpr_label: agg[m]["fpr"]} for m in ordered(recall) if m in agg}
        return vals, None, [*fams, fpr_label], "recall on the unseen family, calibrated thresholds"
    metrics = ["accuracy", "precision", "recall", "f1"]
    if has_single_class_fold(b):
        pooled = pooled_metrics(b, "calibrated")
        vals = {m: {k: pooled[m][k] for k in metrics} for m in ordered(pooled)}
        return vals, None, metrics, "calibrated thresholds, pooled out-of-fold"
    agg = aggregate(b, "calibrated")
    vals = {m: {k: agg[m][k] for k in metrics} for m in ordered(agg)}
    errs = {m: {k: agg[m][f"{k}_std"] for k in metrics} for m in vals} if b.n_folds > 1 else None
    return vals, errs, metrics, "calibrated thresholds"


def _bench_plots(b: ProtocolResult, img: Path) -> list[Path]:
    """ROC and PR curves (when both classes occur), HAMAD's confusion matrix, the bars."""
    from ...offline.plots import (
        plot_confusion_matrix,
        plot_model_bars,
        plot_pr_curves,
        plot_roc_curves,
    )

    slug = _slug(b.key)
    curves = {
        m: (np.concatenate(b.pooled[m]["y"]), np.concatenate(b.pooled[m]["s"]))
        for m in PLOT_MODELS
        if m in b.pooled
    }
    paths: list[Path] = []
    y_all = np.concatenate(next(iter(b.pooled.values()))["y"])
    if y_all.min() != y_all.max():
        paths.append(plot_roc_curves(curves, img / f"roc_{slug}.png", f"ROC - {b.title}"))
        paths.append(plot_pr_curves(curves, img / f"pr_{slug}.png", f"PR - {b.title}"))
    if "HAMAD" in b.pooled:
        flags = np.concatenate(b.pooled["HAMAD"]["flag"]).astype(np.float64)
        paths.append(
            plot_confusion_matrix(
                y_all,
                flags,
                0.5,
                img / f"cm_{slug}_hamad.png",
                f"HAMAD - {b.title}\n(calibrated threshold per fold)",
            )
        )
    vals, errs, metrics, note = _bar_values(b)
    paths.append(
        plot_model_bars(
            vals,
            img / f"bars_{slug}.png",
            f"{b.title} ({note})",
            metrics=metrics,
            errors=errs,
            ylim=(0.0, 1.05),
        )
    )
    return paths


def _multiclass_plot(b: ProtocolResult, models: dict[str, Any], img: Path) -> Path:
    """The XGB multi-class confusion matrix summed over the folds."""
    from ...offline.plots import plot_multiclass_confusion

    res = models["XGB"]
    cm = np.sum([np.asarray(r["confusion"]) for r in res], axis=0)
    return plot_multiclass_confusion(
        cm,
        res[0]["labels"],
        img / f"cm_multiclass_{_slug(b.key)}.png",
        f"XGB multi-class - {b.key}",
    )


def write_plots(benches: Sequence[ProtocolResult], multi: Multiclass, out: Path) -> None:
    """PNG plots of each bench under ``out/img``; paths go to its (multiclass_)plots."""
    img = out / "img"
    img.mkdir(parents=True, exist_ok=True)
    for b in benches:
        b.plots = [p.relative_to(out).as_posix() for p in _bench_plots(b, img)]
        models = multi.get(b.key, {})
        if "XGB" in models:
            b.multiclass_plots = [_multiclass_plot(b, models, img).relative_to(out).as_posix()]
