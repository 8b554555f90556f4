"""The Markdown tables of the report and the number formats they share.

Why a module of its own: every table (per benchmark, pooled, per fold,
multi-class, per class, per held-out family) formats the derived numbers of
:mod:`.aggregate` the same way (``n/a`` for undefined, ``mean ± std`` over
folds, the fixed model order); the document only places them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .aggregate import (
    BIN_METRICS,
    aggregate,
    by_model,
    fold_mean,
    macro_f1,
    per_class_counts,
    pooled_metrics,
)
from .store import ProtocolResult

#: The scorers of the per-class and held-out-family tables (the issue's six).
DETAIL_MODELS: tuple[str, ...] = (
    "HAMAD", "RF only", "XGB only", "Novelty only (PCA)", "Student MLP, ONNX (seed 001)",
    "CNN-LSTM (seed 002)",
)  # fmt: skip
#: Row order of the per-benchmark tables (models not listed follow, sorted).
MODEL_ORDER: tuple[str, ...] = (
    "HAMAD",
    "HAMAD adaptive-thr",
    "HAMAD mean-fusion",
    "RF only",
    "XGB only",
    "Novelty only (PCA)",
    "HAMAD single-scale (120 s)",
    "CNN-LSTM (seed 002)",
    "Student MLP, ONNX (seed 001)",
)


def pct(v: float | None, std: float | None = None) -> str:
    """A share as a percentage with 2 decimals (``± std`` when given), ``n/a`` for None."""
    if v is None:
        return "n/a"
    return f"{100 * v:.2f}" + (f" ± {100 * std:.2f}" if std is not None else "")


def num(v: float | None, fmt: str = "{:.4f}", std: float | None = None) -> str:
    """A number in ``fmt`` (``± std`` when given), ``n/a`` for None."""
    if v is None:
        return "n/a"
    return fmt.format(v) + (f" ± {fmt.format(std)}" if std is not None else "")


def size_text(agg: dict[str, Any]) -> str:
    """A model's size in KB and what was measured (ONNX file, pickle, weights)."""
    if agg.get("size_bytes") is None:
        return "n/a"
    return f"{agg['size_bytes'] / 1024:,.0f} KB ({agg['size_kind']})"


def md_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def ordered(models: Iterable[str]) -> list[str]:
    """``models`` in :data:`MODEL_ORDER`, any others after them, sorted."""
    ms = list(models)
    return [m for m in MODEL_ORDER if m in ms] + sorted(m for m in ms if m not in MODEL_ORDER)


def detail_models(models: Iterable[str]) -> list[str]:
    """The :data:`DETAIL_MODELS` among ``models``, in that order."""
    present = set(models)
    return [m for m in DETAIL_MODELS if m in present]


def bench_table(bench: ProtocolResult, policy: str) -> str:
    """Fold means (± std) per model at ``policy``; with costs unless it is the 0.5 table."""
    agg = aggregate(bench, policy)
    multi = bench.n_folds > 1
    rows = []
    for model in ordered(agg):
        a = agg[model]
        sd = {k: (a.get(f"{k}_std") if multi else None) for k in BIN_METRICS}
        row = [model + (" †" if a["policy"] == "adaptive" else "")]
        row += [pct(a[k], sd[k]) for k in ("accuracy", "precision", "recall", "f1", "fpr")]
        row += [num(a[k], "{:.4f}", sd[k]) for k in ("roc_auc", "pr_auc")]
        if policy != "0.5":
            row += [
                num(a["threshold"], "{:.3g}"),
                num(a["train_seconds"], "{:.1f}"),
                num(a["infer_us_per_row"], "{:.1f}"),
                size_text(a),
            ]
        rows.append(row)
    head = ["model", "acc %", "prec %", "recall %", "F1 %", "FPR %", "ROC-AUC", "PR-AUC"]
    if policy != "0.5":
        head += ["threshold", "train s", "µs/row", "size"]
    return md_table(head, rows)


def pooled_table(bench: ProtocolResult) -> str:
    """Metrics per model over the pooled out-of-fold predictions."""
    pm = pooled_metrics(bench)
    rows = [
        [
            m,
            f"{pm[m]['n']:,}",
            pct(pm[m]["accuracy"]),
            pct(pm[m]["precision"]),
            pct(pm[m]["recall"]),
            pct(pm[m]["f1"]),
            pct(pm[m]["fpr"]),
            num(pm[m]["roc_auc"]),
            num(pm[m]["pr_auc"]),
        ]
        for m in ordered(pm)
    ]
    return md_table(
        ["model", "rows", "acc %", "prec %", "recall %", "F1 %", "FPR %", "ROC-AUC", "PR-AUC"], rows
    )


def per_fold_table(bench: ProtocolResult, model: str = "HAMAD") -> str:
    """One row per held-out fold of ``model`` at its calibrated threshold."""
    rows = []
    sizes = {f["fold"]: f for f in bench.fold_sizes}
    for r in bench.records:
        if r["model"] != model or r["policy"] != "calibrated":
            continue
        fs = sizes[r["fold"]]
        rows.append(
            [
                r["fold"],
                f"{fs['test_rows']:,}",
                f"{fs['test_attacks']:,}",
                pct(r["accuracy"]),
                pct(r["recall"]),
                pct(r["fpr"]),
                num(r["roc_auc"]),
            ]
        )
    return md_table(
        ["held-out fold", "test rows", "attacks", "acc %", "recall %", "FPR %", "ROC-AUC"], rows
    )


def _multiclass_rows(results: Sequence[dict[str, Any]], model: str) -> tuple[list[str], list[str]]:
    """(summary row, per-class recall row) of one multi-class model over its folds."""
    acc = [r["accuracy"] for r in results]
    mf = [r["macro_f1"] for r in results]
    wf = [r["weighted_f1"] for r in results]
    multi_f = len(results) > 1
    row = [
        model,
        pct(float(np.mean(acc)), float(np.std(acc)) if multi_f else None),
        pct(float(np.mean(mf)), float(np.std(mf)) if multi_f else None),
        pct(float(np.mean(wf)), float(np.std(wf)) if multi_f else None),
        num(float(np.mean([r["train_seconds"] for r in results])), "{:.1f}"),
    ]
    rec = []
    for c in results[0]["labels"]:
        vals = [
            r["per_class"][c]["recall"] for r in results if r["per_class"][c]["recall"] is not None
        ]
        sup = sum(int(r["per_class"][c]["support"]) for r in results)
        rec.append(f"{pct(float(np.mean(vals)))} (n={sup:,})" if vals else "n/a (n=0)")
    return row, [model, *rec]


def multiclass_tables(multi: dict[str, dict[str, Any]]) -> str:
    """Per benchmark: accuracy / macro- / weighted-F1 per model, then per-class recall."""
    parts = []
    for key, models in multi.items():
        rows = []
        per_class_rows = []
        labels: list[str] = []
        for model, results in models.items():
            row, rec = _multiclass_rows(results, model)
            rows.append(row)
            per_class_rows.append(rec)
            labels = results[0]["labels"]
        parts.append(
            f"**{key}** ({len(next(iter(models.values())))} fold(s))\n\n"
            + md_table(["model", "accuracy %", "macro-F1 %", "weighted-F1 %", "train s"], rows)
            + "\n\nPer-class recall % (test support summed over folds):\n\n"
            + md_table(["model", *labels], per_class_rows)
        )
    return "\n\n".join(parts)


def _summary_rows(bench: ProtocolResult, models: Sequence[str], label: str) -> list[list[str]]:
    """Macro-F1 and threshold rows (fold means) under a per-class or per-family table."""
    cal = by_model(bench, "calibrated")
    recs = {m: [r for r in cal[m] if r["policy"] == "calibrated"] for m in models}
    return [
        [f"macro-F1 % (BENIGN vs attack, {label})", *(
            pct(fold_mean(recs[m], macro_f1)) for m in models)],
        ["threshold (mean of folds)", *(
            num(fold_mean(recs[m], lambda r: r["threshold"]), "{:.3g}") for m in models)],
    ]  # fmt: skip


def per_class_table(bench: ProtocolResult) -> str:
    """Share of each class's test rows flagged per model, pooled over folds, + macro-F1."""
    counts = per_class_counts(bench)
    models = detail_models(counts)
    seen = {c for m in models for c in counts[m]}
    classes = [c for c in bench.class_family if c in seen] + sorted(seen - set(bench.class_family))
    lofo = bench.layout == "held-out-family"
    rows = []
    for c in classes:
        n, _, attacks = counts[models[0]][c]
        benign = attacks == 0
        shown = f"{n // bench.n_folds:,} × {bench.n_folds}" if lofo and benign else f"{n:,}"
        name = f"{c} (flagged = false alarms)" if benign else c
        cells = [
            pct(counts[m][c][1] / counts[m][c][0]) if counts[m].get(c, [0])[0] else "n/a"
            for m in models
        ]
        rows.append([name, bench.class_family.get(c, ""), shown, *cells])
    for label, *vals in _summary_rows(bench, models, "mean of folds"):
        rows.append([label, "", "", *vals])
    return md_table(["class", "family", "test rows", *models], rows)


def family_table(bench: ProtocolResult) -> str:
    """One row per held-out family: recall / ROC-AUC per model; FPR, macro-F1, thresholds."""
    cal = {(r["fold"], r["model"]): r for r in bench.records if r["policy"] == "calibrated"}
    models = detail_models(m for _, m in cal)
    rows = []
    for fs in bench.fold_sizes:
        fam = fs["fold"]
        cells = [
            f"{pct(cal[fam, m]['recall'])} / {num(cal[fam, m]['roc_auc'], '{:.3f}')}"
            if (fam, m) in cal
            else "n/a"
            for m in models
        ]
        rows.append([f"{fam} ({fs['test_attacks']:,})", *cells])
    agg = aggregate(bench, "calibrated")
    rows.append(
        ["FPR % on BENIGN test rows (mean of folds)", *(pct(agg[m]["fpr"]) for m in models)]
    )
    rows.append(["recall % (mean of families)", *(pct(agg[m]["recall"]) for m in models)])
    rows += _summary_rows(bench, models, "mean of folds")
    return md_table(["held-out family (its test rows)", *models], rows)
