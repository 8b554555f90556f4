"""Render evaluation.md: the order of the sections and the text around the tables.

Why a module of its own: the document is rendered from a :class:`~.store.ReportData`
alone (no scores, no models), so ``--update`` can render the sections of runs
made at other times. This module only places what :mod:`.provenance`,
:mod:`.summary`, :mod:`.tables` and :mod:`.discussion` write.
"""

from __future__ import annotations

from pathlib import Path

from .aggregate import has_per_category
from .discussion import results_discussion, static_discussion
from .provenance import run_config_of, runs_header, setup_lines
from .runner import RunConfig
from .store import ProtocolResult, ReportData
from .summary import efficiency_table, headline_table
from .tables import (
    bench_table,
    family_table,
    multiclass_tables,
    per_class_table,
    per_fold_table,
    pooled_table,
)


def _operating_point(cfg: RunConfig) -> str:
    return (
        f"Operating point: each model's threshold is calibrated per fold on the BENIGN rows of "
        f"its validation split ({100 * cfg.val_frac:.0f} % of the fold's TRAIN rows, stratified) "
        f"for a {100 * cfg.target_fpr:g} % target FPR; no test row sets a threshold."
    )


def _family_section(b: ProtocolResult, cfg: RunConfig) -> list[str]:
    """Folds, per-family and per-label tables of a leave-one-family-out benchmark."""
    fs = b.fold_sizes[0]
    return [
        f"Folds: {b.n_folds} (one per attack family); first fold: {fs['train_rows']:,} "
        f"train rows ({fs['train_attacks']:,} attacks), {fs['test_rows']:,} test rows "
        f"({fs['test_attacks']:,} of the held-out family).",
        "",
        f"{_operating_point(cfg)} Recall % on the held-out family / ROC-AUC of held-out "
        "family vs BENIGN test rows:",
        "",
        family_table(b),
        "",
        "Per label (each label is tested in the fold that holds its family out; BENIGN: "
        "the same test rows in every fold):",
        "",
        per_class_table(b),
        "",
    ]


def _standard_section(b: ProtocolResult, cfg: RunConfig) -> list[str]:
    """Folds, both thresholds' tables, pooled and per-fold tables, per-class shares."""
    fs = b.fold_sizes[0]
    s = [
        f"Folds: {b.n_folds}; first fold: {fs['train_rows']:,} train rows "
        f"({fs['train_attacks']:,} attacks), {fs['test_rows']:,} test rows "
        f"({fs['test_attacks']:,} attacks).",
        "",
        "Calibrated thresholds:",
        "",
        bench_table(b, "calibrated"),
        "",
        "Threshold 0.5:",
        "",
        bench_table(b, "0.5"),
        "",
    ]
    if b.n_folds > 1:
        s += [
            "Pooled out-of-fold predictions:",
            "",
            pooled_table(b),
            "",
            "HAMAD per fold (calibrated threshold):",
            "",
            per_fold_table(b),
            "",
        ]
    if b.class_family and has_per_category(b):
        s += [
            f"{_operating_point(cfg)} Share of each class's test rows flagged, pooled over "
            "the folds (for BENIGN: the false-positive rate):",
            "",
            per_class_table(b),
            "",
        ]
    return s


def _bench_section(b: ProtocolResult, cfg: RunConfig) -> list[str]:
    """The "### title" section of one benchmark."""
    s = [f"### {b.title}", "", b.description, ""]
    if b.layout == "held-out-family":
        s += _family_section(b, cfg)
    else:
        s += _standard_section(b, cfg)
    s += [f"![{Path(p).stem}]({p})" for p in b.plots]
    s.append("")
    return s


def _multiclass_section(data: ReportData) -> list[str]:
    """The multi-class section (empty when no run had multi-class results)."""
    benches, multi = data.benches, data.multiclass
    if not multi:
        return []
    cic = (
        "; CICIDS2017: the labels"
        if any(b.dataset == "CICIDS2017" for b in benches if b.key in multi)
        else ""
    )
    s = [
        "## Multi-class (attack category) results",
        "",
        "RF and XGB trained on the fold's full TRAIN rows with attack-category labels "
        "(NSL-KDD: normal/dos/probe/r2l/u2r, test-only attacks mapped as in "
        f"`hamad_plugin/research/datasets/nsl_kdd.py`; UNSW-NB15: attack_cat{cic}).",
        "",
        multiclass_tables(multi),
        "",
    ]
    s += [f"![{Path(p).stem}]({p})" for b in benches if b.key in multi for p in b.multiclass_plots]
    s.append("")
    return s


def write_document(data: ReportData, out: Path) -> Path:
    """Render evaluation.md from ``data`` alone (no scores, no models)."""
    md = out / "evaluation.md"
    benches = data.benches
    smoke = " **SMOKE RUN (tiny subsets) - numbers are not meaningful**" if data.smoke else ""
    s: list[str] = [f"# HAMAD evaluation{smoke}", "", *runs_header(data.runs), ""]
    s += ["## Setup", "", *setup_lines(data)]
    if data.missing:
        s += ["", "**Not evaluated:** " + "; ".join(data.missing)]
    s += [
        "",
        "## Headline: seed claims beside our numbers",
        "",
        "Seed 000 reports HAMAD accuracy / precision / recall / F1 without stating the split. "
        "Ours are on the protocols below (test data never used for training or thresholds).",
        "",
        headline_table(benches),
        "",
    ]
    s += ["## Results per protocol", ""]
    for b in benches:
        s += _bench_section(b, run_config_of(data, b.choice))
    s += _multiclass_section(data)
    s += [
        "## Size and speed: teacher, distilled student, CNN-LSTM",
        "",
        "Seed 001 claims 0.93 accuracy, 0.97 specificity, 22.8 s training, 0.06 s inference "
        "(dataset/hardware unstated). Seed 002 claims ~30,000 parameters, 97.8 % accuracy and "
        "1.9 % FPR (UNSW-NB15 + CIC-IDS2017 mix, split unstated).",
        "",
        efficiency_table(benches),
        "",
        "## Discussion",
        "",
        results_discussion(benches),
        "",
        static_discussion(data),
        "",
    ]
    md.write_text("\n".join(s) + "\n")
    return md
