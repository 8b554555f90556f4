"""The two cross-benchmark tables: the headline (seed claims beside ours) and size and speed.

Why a module of its own: unlike the per-benchmark tables of :mod:`.tables`,
these pick one row per benchmark (HAMAD, or the teacher / student / CNN-LSTM)
from every benchmark of the report, and the headline sets the seed
documents' claims beside our numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from .aggregate import (
    aggregate,
    fold_mean,
    has_per_category,
    has_single_class_fold,
    macro_f1,
    pooled_metrics,
)
from .store import ProtocolResult
from .tables import md_table, num, pct, size_text

#: What the seed documents claim (no split stated in any of them).
SEED_CLAIMS: dict[str, dict[str, float]] = {
    "NSL-KDD": {"accuracy": 0.9945, "precision": 0.9932, "recall": 0.9958, "f1": 0.9945},
    "UNSW-NB15": {"accuracy": 0.9971, "precision": 0.9968, "recall": 0.9974, "f1": 0.9971},
    "CICIDS2017": {"accuracy": 0.9962, "precision": 0.9955, "recall": 0.9969, "f1": 0.9962},
}
_QUAD = ("accuracy", "precision", "recall", "f1")


def _class_summary(b: ProtocolResult) -> str:
    """The headline's macro-F1 and FPR on BENIGN of HAMAD, for a bench with per-class results."""
    if not (b.class_family and has_per_category(b)):
        return ""
    recs = [r for r in b.records if r["model"] == "HAMAD" and r["policy"] == "calibrated"]
    if not recs:
        return ""
    f1 = pct(fold_mean(recs, macro_f1))
    fpr = pct(fold_mean(recs, lambda r: r["fpr"]))
    return f"; HAMAD at the calibrated thr: macro-F1 {f1} %, FPR on BENIGN {fpr} % (fold means)"


def _headline_row(ds: str, b: ProtocolResult, claim_txt: str) -> list[str]:
    """HAMAD's acc / prec / rec / F1 on one benchmark at both thresholds, beside the claim."""
    ours = []
    pooled = has_single_class_fold(b)
    for pol in ("calibrated", "0.5"):
        a = (pooled_metrics(b, pol) if pooled else aggregate(b, pol)).get("HAMAD")
        ours.append(" / ".join(pct(a[k]) for k in _QUAD) if a else "n/a")
    how = (
        " (pooled out-of-fold: some folds are benign-only)"
        if pooled
        else (f" (mean of {b.n_folds} folds)" if b.n_folds > 1 else "")
    )
    note = f"; {b.note}" if b.note else ""
    return [ds, b.title.split(": ", 1)[-1] + how + note + _class_summary(b), claim_txt, *ours]


def headline_table(benches: Sequence[ProtocolResult]) -> str:
    """One row per standard-layout benchmark of each dataset (or "not evaluated")."""
    rows = []
    by_ds: dict[str, list[ProtocolResult]] = defaultdict(list)
    for b in benches:
        if b.layout == "standard":
            by_ds[b.dataset].append(b)
    for ds in ("NSL-KDD", "UNSW-NB15", "CICIDS2017", "Zeek conn logs"):
        claim = SEED_CLAIMS.get(ds)
        claim_txt = " / ".join(pct(claim[k]) for k in _QUAD) if claim else "no claim"
        if ds not in by_ds:
            rows.append([ds, "not evaluated (no data)", claim_txt, "n/a", "n/a"])
            continue
        rows += [_headline_row(ds, b, claim_txt) for b in by_ds[ds]]
    return md_table(
        [
            "dataset",
            "our protocol",
            "seed 000 claim acc / prec / rec / F1 %",
            "HAMAD (ours), calibrated thr: acc / prec / rec / F1 %",
            "HAMAD (ours), thr 0.5: acc / prec / rec / F1 %",
        ],
        rows,
    )


def efficiency_table(benches: Sequence[ProtocolResult]) -> str:
    """Accuracy, specificity, F1, training time, µs/row, size and parameters of three models."""
    rows = []
    for b in benches:
        if b.layout != "standard":
            continue
        agg = aggregate(b, "calibrated")
        for m in ("HAMAD", "Student MLP, ONNX (seed 001)", "CNN-LSTM (seed 002)"):
            if m not in agg:
                continue
            a = agg[m]
            ex = a["extra"] or {}
            params = ex.get("parameters")
            py_us = a["infer_us_per_row"]
            onnx_us = ex.get("onnx_us_per_row")
            if m.startswith("Student"):
                py_us, onnx_us = None, a["infer_us_per_row"]
            spec = None if a["fpr"] is None else 1.0 - a["fpr"]
            rows.append(
                [
                    b.title,
                    m,
                    pct(a["accuracy"]),
                    pct(spec),
                    pct(a["f1"]),
                    num(a["train_seconds"], "{:.1f}"),
                    num(py_us, "{:.1f}"),
                    num(onnx_us, "{:.1f}"),
                    size_text(a),
                    f"{params:,}" if params else "n/a (trees)" if m == "HAMAD" else "n/a",
                ]
            )
    return md_table(
        [
            "benchmark",
            "model",
            "acc %",
            "specificity %",
            "F1 %",
            "train s",
            "µs/row (python / torch)",
            "µs/row (ONNX)",
            "size",
            "parameters",
        ],
        rows,
    )
