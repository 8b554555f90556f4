"""The Discussion section: sentences written from the results, and the caveats of each dataset.

Why a module of its own: the discussion is prose, not tables. One part is
data-driven (which model wins where, which unseen families HAMAD misses), the
other states what each evaluated dataset's protocol can and cannot show; both
only read the stored results.
"""

from __future__ import annotations

from collections.abc import Sequence

from .aggregate import aggregate, family_recall, has_single_class_fold, pooled_metrics
from .provenance import run_config_of
from .store import ProtocolResult, ReportData
from .tables import detail_models, num, pct


def _family_discussion(bench: ProtocolResult) -> str:
    """Data-driven summary of a held-out-family benchmark."""
    agg = aggregate(bench, "calibrated")
    models = detail_models(agg)
    if "HAMAD" not in agg:
        return ""

    def at(m: str) -> str:
        return f"{pct(agg[m]['recall'])} % at {pct(agg[m]['fpr'])} % FPR"

    others = [m for m in models if m != "HAMAD"]
    best = max(others, key=lambda m: agg[m]["recall"] or -1.0, default=None)
    recall = family_recall(bench).get("HAMAD", {})
    missed = [f for f, v in recall.items() if v is not None and v < 0.5]
    txt = (
        f"- **{bench.title}**: at the calibrated thresholds HAMAD flags on average "
        f"{at('HAMAD')} on BENIGN test rows (mean over the unseen families)"
    )
    if best is not None:
        txt += f"; the best other scorer by mean recall is {best} ({at(best)})"
    if "Novelty only (PCA)" in agg and best != "Novelty only (PCA)":
        txt += f"; the novelty detector alone: {at('Novelty only (PCA)')}"
    txt += "."
    if missed:
        txt += f" Unseen families HAMAD flags less than half of: {', '.join(missed)}."
    return txt


def _bench_discussion(b: ProtocolResult) -> str | None:
    """HAMAD against the best other model (F1, ROC-AUC) on one standard benchmark."""
    agg = aggregate(b, "calibrated")
    if has_single_class_fold(b):
        agg = pooled_metrics(b, "calibrated")
    if "HAMAD" not in agg:
        return None
    h = agg["HAMAD"]
    others = {m: a for m, a in agg.items() if m not in ("HAMAD", "HAMAD adaptive-thr")}
    best_f1 = max(others.items(), key=lambda kv: kv[1]["f1"] or -1.0, default=None)
    best_auc = max(others.items(), key=lambda kv: kv[1]["roc_auc"] or -1.0, default=None)
    how = " (pooled out-of-fold)" if has_single_class_fold(b) else ""
    txt = (
        f"- **{b.title}**{how}: HAMAD F1 {pct(h['f1'])} %, ROC-AUC {num(h['roc_auc'])}, "
        f"FPR {pct(h['fpr'])} %."
    )
    if best_f1 is not None and best_f1[1]["f1"] is not None and h["f1"] is not None:
        rel = "beats" if h["f1"] > best_f1[1]["f1"] else "does not beat"
        txt += f" It {rel} the best other model on F1 ({best_f1[0]}: {pct(best_f1[1]['f1'])} %)"
    if best_auc is not None and best_auc[1]["roc_auc"] is not None and h["roc_auc"] is not None:
        diff = h["roc_auc"] - best_auc[1]["roc_auc"]
        rel = (
            "ties with" if abs(diff) < 5e-5 else ("is higher than" if diff > 0 else "is lower than")
        )
        txt += f"; its ROC-AUC {rel} the best other ({best_auc[0]}: {num(best_auc[1]['roc_auc'])})."
    if "HAMAD adaptive-thr" in agg:
        ad = agg["HAMAD adaptive-thr"]
        txt += (
            f" Adaptive threshold: recall {pct(ad['recall'])} %, FPR {pct(ad['fpr'])} % "
            f"(fixed: recall {pct(h['recall'])} %, FPR {pct(h['fpr'])} %)."
        )
    return txt


def results_discussion(benches: Sequence[ProtocolResult]) -> str:
    """Data-driven sentences: which model wins where (by F1 at calibrated thresholds, and AUC)."""
    lines = []
    for b in benches:
        if b.layout == "held-out-family":
            lines.append(_family_discussion(b))
            continue
        txt = _bench_discussion(b)
        if txt is not None:
            lines.append(txt)
    return "\n".join(lines)


def _cicids_improved_caveat(benches: Sequence[ProtocolResult]) -> str:
    small = [
        f"{f['fold']} ({f['test_attacks']:,} flow{'s' if f['test_attacks'] != 1 else ''})"
        for b in benches
        if b.choice == "cicids2017-improved" and b.layout == "held-out-family"
        for f in b.fold_sizes
        if f["test_attacks"] < 200
    ]
    return (
        "- CICIDS2017 (corrected re-release of Engelen, Rimmer and Joosen 2021, not the "
        "original 2017 CSVs): the sample is class-balanced (up to 5,000 flows per label), so "
        "accuracy and precision are not comparable with the seed's 99.62 % on the original "
        "mix (about 80 % BENIGN); read the per-class recall, macro-F1 and the FPR on BENIGN. "
        "Identifier columns are dropped, but the destination port is kept (as in the 2017 "
        "feature set) and some attacks of this capture use fixed ports (FTP-/SSH-Patator "
        "21/22, Botnet 8080, Heartbleed and Infiltration 444), so part of what the "
        "classifiers learn is the service. Leave-one-attack-family-out asks the deployment "
        "question (an attack no model was trained on)"
        + (f"; {', '.join(small)} are too small for a precise recall." if small else ".")
    )


def _cnn_caveat(data: ReportData) -> str | None:
    cnn_fits = [
        (r["extra"], run_config_of(data, b.choice))
        for b in data.benches
        for r in b.records
        if r["model"] == "CNN-LSTM (seed 002)" and r["policy"] == "calibrated"
    ]
    if not cnn_fits:
        return None
    capped = sum(1 for e, cfg in cnn_fits if e.get("epochs_run") == cfg.cnn_max_epochs)
    caps = sorted({(cfg.cnn_max_rows, cfg.cnn_max_epochs) for _, cfg in cnn_fits})
    cap_txt = " or ".join(f"at most {r:,} rows for at most {e} epochs" for r, e in caps)
    return (
        f"- CNN-LSTM: trained on {cap_txt} to fit the time budget; in {capped} of "
        f"{len(cnn_fits)} fits the epoch cap, not early stopping, ended training, so its "
        "numbers understate what the architecture can do and are not a test of seed 002's "
        "97.8 % claim (which used a different, unstated split and data mix)."
    )


def _dataset_caveats(benches: Sequence[ProtocolResult]) -> list[str]:
    keys = {b.dataset for b in benches}
    parts = []
    if "NSL-KDD" in keys:
        parts.append(
            "- NSL-KDD: the 80/20 split of KDDTrain+ has the same attack types on both sides; "
            "KDDTest+ adds 17 attack types absent from training and KDDTest-21 keeps only the "
            "records most reference classifiers got wrong, so its numbers are the lowest by "
            "construction. A >99 % accuracy claim is only plausible for the same-distribution "
            "split; the official test files are where the gap between HAMAD and its seed claim "
            "shows."
        )
    if "UNSW-NB15" in keys:
        parts.append(
            "- UNSW-NB15: only the 82,332-row testing partition exists here, so this is CV "
            "inside one partition (same capture days on both sides); it is not the official "
            "train -> test protocol and is likely easier than it."
        )
    if any(b.choice == "cicids2017-improved" for b in benches):
        parts.append(_cicids_improved_caveat(benches))
    if "Zeek conn logs" in keys:
        parts.append(
            "- Zeek conn logs: leave-one-capture-out is the honest deployment question (a new "
            "network). Two held-out captures are benign-only, so recall/AUC are undefined there "
            "and only FPR counts; the other folds' test traffic comes from malware families or "
            "attack scenarios the training captures may not contain. Six captures are few; "
            "the std across folds is the uncertainty to read."
        )
    return parts


def static_discussion(data: ReportData) -> str:
    """What each evaluated protocol can and cannot show, the CNN-LSTM's budget, thresholds."""
    parts = _dataset_caveats(data.benches)
    cnn = _cnn_caveat(data)
    if cnn is not None:
        parts.append(cnn)
    parts.append(
        "- Thresholds are calibrated on benign TRAIN-side validation rows for the target FPR; "
        "when the test distribution differs (new attacks, new network) the realised FPR differs "
        "from the target, which is exactly what the tables show."
    )
    parts.append(
        "- CICIDS2017 could not be evaluated: no CICIDS2017 data is available to this "
        "project. The loader (`hamad_plugin/research/datasets/cicids2017.py`) is only tested on "
        "a synthetic file with the real MachineLearningCVE header."
        if "CICIDS2017" not in {b.dataset for b in data.benches}
        else ""
    )
    return "\n".join(p for p in parts if p)
