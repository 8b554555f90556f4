"""Numbers derived from the stored per-fold records: fold means, pooled and per-class counts.

Why a module of its own: the tables, the plots, the discussion and
``evaluation.json``'s aggregates all read the same derived numbers; computing
them in one place (from the records of :mod:`.store`, never from scores)
keeps every part of the report saying the same thing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ...offline.metrics import binary_metrics
from .store import ProtocolResult

#: The binary metrics averaged over folds (and shown in the benchmark tables).
BIN_METRICS: tuple[str, ...] = ("accuracy", "precision", "recall", "f1", "fpr", "roc_auc", "pr_auc")


def by_model(bench: ProtocolResult, policy: str) -> dict[str, list[dict[str, Any]]]:
    """Records of ``policy`` per model ("calibrated" includes the adaptive-threshold runs)."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in bench.records:
        if r["policy"] == policy or (policy == "calibrated" and r["policy"] == "adaptive"):
            out[r["model"]].append(r)
    return out


def aggregate(bench: ProtocolResult, policy: str) -> dict[str, dict[str, Any]]:
    """Per model: mean/std over folds of each metric (None entries skipped) + costs."""
    out: dict[str, dict[str, Any]] = {}
    for model, recs in by_model(bench, policy).items():
        agg: dict[str, Any] = {"n_folds": len(recs), "policy": recs[0]["policy"]}
        for m in (*BIN_METRICS, "train_seconds", "infer_us_per_row", "size_bytes", "threshold"):
            # Precision on a benign-only fold is 0 or undefined by construction: not averaged.
            use = [r for r in recs if not (m == "precision" and r["n_pos"] == 0)]
            vals = [float(r[m]) for r in use if r.get(m) is not None and np.isfinite(r[m])]
            agg[m] = float(np.mean(vals)) if vals else None
            agg[f"{m}_std"] = float(np.std(vals)) if len(vals) > 1 else None
            agg[f"{m}_n"] = len(vals)
        agg["size_kind"] = recs[0]["size_kind"]
        agg["extra"] = recs[0]["extra"]
        out[model] = agg
    return out


def has_single_class_fold(bench: ProtocolResult) -> bool:
    """True when some test fold holds only one class (fold means of precision etc. mislead)."""
    return any(f["test_attacks"] in (0, f["test_rows"]) for f in bench.fold_sizes)


def counts_metrics(tp: int, fp: int, tn: int, fn: int) -> dict[str, Any]:
    """:func:`binary_metrics` of decisions given only their confusion counts."""
    y = np.repeat(np.asarray([1, 1, 0, 0], dtype=np.int64), [tp, fn, fp, tn])
    flags = np.repeat(np.asarray([1.0, 0.0, 1.0, 0.0]), [tp, fn, fp, tn])
    return binary_metrics(y, flags, 0.5)


def pooled_metrics(bench: ProtocolResult, policy: str = "calibrated") -> dict[str, dict[str, Any]]:
    """Metrics over the concatenated out-of-fold predictions (each fold's own threshold).

    Decisions pool exactly by summing the folds' confusion counts; AUCs come from
    the pooled scores of the run (:func:`~.collect.pooled_auc`).
    """
    out = {}
    for model, recs in by_model(bench, policy).items():
        m = counts_metrics(*(sum(int(r[k]) for r in recs) for k in ("tp", "fp", "tn", "fn")))
        auc = bench.auc.get(model, {})
        m["roc_auc"], m["pr_auc"] = auc.get("roc_auc"), auc.get("pr_auc")
        out[model] = m
    return out


def has_per_category(bench: ProtocolResult) -> bool:
    """True when the records carry per-category counts (the per-class tables need them)."""
    return any("per_category" in r for r in bench.records)


def macro_f1(r: dict[str, Any]) -> float | None:
    """Binary macro-F1 of one record: the mean of the attack class's and BENIGN's F1."""
    tp, fp, tn, fn = (int(r[k]) for k in ("tp", "fp", "tn", "fn"))
    if tp + fn == 0 or tn + fp == 0:
        return None
    return (2 * tp / (2 * tp + fp + fn) + 2 * tn / (2 * tn + fn + fp)) / 2


def fold_mean(
    recs: Sequence[dict[str, Any]], value: Callable[[dict[str, Any]], Any]
) -> float | None:
    """Mean over the records of ``value(record)``, None values skipped (None if none is left)."""
    vals = [v for v in (value(r) for r in recs) if v is not None]
    return float(np.mean(vals)) if vals else None


def per_class_counts(bench: ProtocolResult) -> dict[str, dict[str, list[int]]]:
    """``{model: {category: [rows, flagged, attacks]}}`` summed over folds (calibrated thr)."""
    out: dict[str, dict[str, list[int]]] = {}
    for r in bench.records:
        if r["policy"] != "calibrated" or "per_category" not in r:
            continue
        acc = out.setdefault(r["model"], {})
        for cat, counts in r["per_category"].items():
            cur = acc.setdefault(cat, [0, 0, 0])
            for i, v in enumerate(counts):
                cur[i] += int(v)
    return out


def family_recall(bench: ProtocolResult) -> dict[str, dict[str, float | None]]:
    """``{model: {held-out family: recall}}`` at the calibrated thresholds."""
    out: dict[str, dict[str, float | None]] = {}
    for r in bench.records:
        if r["policy"] == "calibrated":
            out.setdefault(r["model"], {})[r["fold"]] = r["recall"]
    return out
