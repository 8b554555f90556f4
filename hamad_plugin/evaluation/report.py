"""``hamad report``: run every protocol, write docs/evaluation.md + docs/img/*.png.

Everything in the generated document comes from this run: the numbers, the
split descriptions, the software versions, the command line and the date.
Raw per-fold results are written next to it as ``evaluation.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import HamadError, InputFormatError
from ..metrics import binary_metrics
from .protocols import Protocol
from .runner import ModelRun, RunConfig, run_fold, run_multiclass

#: What the seed documents claim (no split stated in any of them).
SEED_CLAIMS: dict[str, dict[str, float]] = {
    "NSL-KDD": {"accuracy": 0.9945, "precision": 0.9932, "recall": 0.9958, "f1": 0.9945},
    "UNSW-NB15": {"accuracy": 0.9971, "precision": 0.9968, "recall": 0.9974, "f1": 0.9971},
    "CICIDS2017": {"accuracy": 0.9962, "precision": 0.9955, "recall": 0.9969, "f1": 0.9962},
}
BIN_METRICS: tuple[str, ...] = ("accuracy", "precision", "recall", "f1", "fpr", "roc_auc", "pr_auc")
PLOT_MODELS: tuple[str, ...] = (
    "HAMAD", "HAMAD mean-fusion", "RF only", "XGB only", "Novelty only (PCA)",
    "HAMAD single-scale (120 s)", "CNN-LSTM (seed 002)", "Student MLP, ONNX (seed 001)",
)  # fmt: skip


@dataclass
class ReportOptions:
    """Command-line options of ``hamad report`` (all echoed into the document)."""

    out: Path = Path("docs")
    data_root: Path = Path("../shared/datasets")
    smoke: bool = False
    run: RunConfig = field(default_factory=RunConfig)
    unsw_folds: int = 5
    datasets: tuple[str, ...] = ("nsl-kdd", "unsw-nb15", "cicids2017", "zeek-conn")
    multiclass: bool = True
    max_train: int | None = None
    max_test: int | None = None
    command: str = ""
    progress: bool = True


def smoke_options(opts: ReportOptions) -> ReportOptions:
    """Tiny subsets, few trees, 1 CNN epoch: a CI-sized run of the same code path."""
    opts.smoke = True
    opts.max_train = opts.max_train or 1200
    opts.max_test = opts.max_test or 500
    opts.unsw_folds = 2
    opts.run.n_estimators = min(opts.run.n_estimators, 10)
    opts.run.cnn_max_rows = min(opts.run.cnn_max_rows, 400)
    opts.run.cnn_max_epochs = 1
    opts.run.onnx = False
    # Tiny data: thread start-up costs more than it saves (10x slower XGB on a busy 2-core box).
    opts.run.n_jobs = 1
    return opts


@dataclass
class BenchResult:
    """All folds of one (protocol, test set): metric records and pooled scores."""

    key: str
    title: str
    dataset: str
    description: str
    n_folds: int
    records: list[dict[str, Any]] = field(default_factory=list)
    pooled: dict[str, dict[str, list[NDArray[Any]]]] = field(default_factory=dict)
    fold_sizes: list[dict[str, Any]] = field(default_factory=list)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _decision_metrics(
    y: NDArray[np.int64], s: NDArray[np.float64], flags: NDArray[np.bool_], thr: float
) -> dict[str, Any]:
    m = binary_metrics(y, flags.astype(np.float64), 0.5)
    ref = binary_metrics(y, s, thr)
    m["roc_auc"], m["pr_auc"], m["threshold"] = ref["roc_auc"], ref["pr_auc"], thr
    return m


def _record(bench: BenchResult, fold: str, run: ModelRun, test: str, y: NDArray[np.int64]) -> None:
    s = run.scores[test]
    base = {
        "fold": fold,
        "model": run.model,
        "train_seconds": run.train_seconds,
        "infer_us_per_row": run.infer_us_per_row,
        "size_bytes": run.size_bytes,
        "size_kind": run.size_kind,
        "extra": run.extra,
    }
    pool = bench.pooled.setdefault(run.model, {"y": [], "s": [], "flag": []})
    pool["y"].append(y)
    pool["s"].append(s)
    if run.decisions is not None:
        flags = run.decisions[test]
        bench.records.append(
            {**base, "policy": "adaptive", **_decision_metrics(y, s, flags, run.threshold)}
        )
        pool["flag"].append(flags)
        return
    bench.records.append({**base, "policy": "calibrated", **binary_metrics(y, s, run.threshold)})
    bench.records.append({**base, "policy": "0.5", **binary_metrics(y, s, 0.5)})
    pool["flag"].append(s >= run.threshold)


def run_protocols(
    protocols: Sequence[Protocol], opts: ReportOptions
) -> tuple[list[BenchResult], dict[str, dict[str, Any]]]:
    """Run all folds of all protocols (tqdm progress); returns benchmarks, multi-class results."""
    from tqdm import tqdm

    benches: dict[tuple[str, str], BenchResult] = {}
    multi: dict[str, dict[str, Any]] = {}
    total = sum(p.n_folds for p in protocols)
    bar = tqdm(total=total, desc="report folds", unit="fold", disable=not opts.progress)
    for p in protocols:
        for tname in p.test_names:
            title = (
                p.title
                if len(p.test_names) == 1
                else f"{p.dataset}: {p.title.split(': ')[1].split(' -> ')[0]} -> {tname}"
            )
            benches[(p.key, tname)] = BenchResult(
                f"{p.key}/{tname}", title, p.dataset, p.description, p.n_folds
            )
        for fold in p.make_folds():
            bar.set_postfix_str(f"{p.key} {fold.name}")

            def log(msg: str, key: str = p.key) -> None:
                if opts.progress:
                    tqdm.write(f"[{time.strftime('%H:%M:%S')}] {key} {msg}")

            runs = run_fold(fold, opts.run, p.alt_name, log)
            for t in fold.tests:
                b = benches[(p.key, t.name)]
                b.fold_sizes.append(
                    {
                        "fold": fold.name,
                        "train_rows": int(len(fold.y)),
                        "train_attacks": int(fold.y.sum()),
                        "test_rows": int(len(t.y)),
                        "test_attacks": int(t.y.sum()),
                    }
                )
                for r in runs:
                    if t.name in r.scores:
                        _record(b, fold.name, r, t.name, t.y)
            if opts.multiclass and p.class_names:
                t0 = time.perf_counter()
                mc = run_multiclass(fold, p.class_names, opts.run)
                log(f"{fold.name}: multi-class RF+XGB {time.perf_counter() - t0:.0f} s")
                for k, v in mc.items():
                    model, tname = k.split("|")
                    multi.setdefault(f"{p.key}/{tname}", {}).setdefault(model, []).append(v)
            bar.update(1)
    bar.close()
    return list(benches.values()), multi


# ----------------------------------------------------------------------------- aggregation


def aggregate(bench: BenchResult, policy: str) -> dict[str, dict[str, Any]]:
    """Per model: mean/std over folds of each metric (None entries skipped) + costs."""
    by_model: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in bench.records:
        if r["policy"] == policy or (policy == "calibrated" and r["policy"] == "adaptive"):
            by_model[r["model"]].append(r)
    out: dict[str, dict[str, Any]] = {}
    for model, recs in by_model.items():
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


def has_single_class_fold(bench: BenchResult) -> bool:
    """True when some test fold holds only one class (fold means of precision etc. mislead)."""
    return any(f["test_attacks"] in (0, f["test_rows"]) for f in bench.fold_sizes)


def pooled_metrics(bench: BenchResult, policy: str = "calibrated") -> dict[str, dict[str, Any]]:
    """Metrics over the concatenated out-of-fold predictions (each fold's own threshold)."""
    out = {}
    for model, pool in bench.pooled.items():
        y = np.concatenate(pool["y"])
        s = np.concatenate(pool["s"])
        if policy == "0.5":
            if "adaptive" in model:
                continue
            flags = s >= 0.5
        else:
            flags = np.concatenate(pool["flag"])
        m = binary_metrics(y, flags.astype(np.float64), 0.5)
        ref = binary_metrics(y, s, 0.5)
        m["roc_auc"], m["pr_auc"] = ref["roc_auc"], ref["pr_auc"]
        out[model] = m
    return out


# ----------------------------------------------------------------------------- formatting


def _pct(v: float | None, std: float | None = None) -> str:
    if v is None:
        return "n/a"
    return f"{100 * v:.2f}" + (f" ± {100 * std:.2f}" if std is not None else "")


def _num(v: float | None, fmt: str = "{:.4f}", std: float | None = None) -> str:
    if v is None:
        return "n/a"
    return fmt.format(v) + (f" ± {fmt.format(std)}" if std is not None else "")


def _size(agg: dict[str, Any]) -> str:
    if agg.get("size_bytes") is None:
        return "n/a"
    return f"{agg['size_bytes'] / 1024:,.0f} KB ({agg['size_kind']})"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _ordered(models: Iterable[str]) -> list[str]:
    order = [
        "HAMAD",
        "HAMAD adaptive-thr",
        "HAMAD mean-fusion",
        "RF only",
        "XGB only",
        "Novelty only (PCA)",
        "HAMAD single-scale (120 s)",
        "CNN-LSTM (seed 002)",
        "Student MLP, ONNX (seed 001)",
    ]
    ms = list(models)
    return [m for m in order if m in ms] + sorted(m for m in ms if m not in order)


def bench_table(bench: BenchResult, policy: str) -> str:
    agg = aggregate(bench, policy)
    multi = bench.n_folds > 1
    rows = []
    for model in _ordered(agg):
        a = agg[model]
        sd = {k: (a.get(f"{k}_std") if multi else None) for k in BIN_METRICS}
        row = [model + (" †" if a["policy"] == "adaptive" else "")]
        row += [_pct(a[k], sd[k]) for k in ("accuracy", "precision", "recall", "f1", "fpr")]
        row += [_num(a[k], "{:.4f}", sd[k]) for k in ("roc_auc", "pr_auc")]
        if policy != "0.5":
            row += [
                _num(a["threshold"], "{:.3g}"),
                _num(a["train_seconds"], "{:.1f}"),
                _num(a["infer_us_per_row"], "{:.1f}"),
                _size(a),
            ]
        rows.append(row)
    head = ["model", "acc %", "prec %", "recall %", "F1 %", "FPR %", "ROC-AUC", "PR-AUC"]
    if policy != "0.5":
        head += ["threshold", "train s", "µs/row", "size"]
    return _table(head, rows)


def pooled_table(bench: BenchResult) -> str:
    pm = pooled_metrics(bench)
    rows = [
        [
            m,
            f"{pm[m]['n']:,}",
            _pct(pm[m]["accuracy"]),
            _pct(pm[m]["precision"]),
            _pct(pm[m]["recall"]),
            _pct(pm[m]["f1"]),
            _pct(pm[m]["fpr"]),
            _num(pm[m]["roc_auc"]),
            _num(pm[m]["pr_auc"]),
        ]
        for m in _ordered(pm)
    ]
    return _table(
        ["model", "rows", "acc %", "prec %", "recall %", "F1 %", "FPR %", "ROC-AUC", "PR-AUC"], rows
    )


def per_fold_table(bench: BenchResult, model: str = "HAMAD") -> str:
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
                _pct(r["accuracy"]),
                _pct(r["recall"]),
                _pct(r["fpr"]),
                _num(r["roc_auc"]),
            ]
        )
    return _table(
        ["held-out fold", "test rows", "attacks", "acc %", "recall %", "FPR %", "ROC-AUC"], rows
    )


def multiclass_tables(multi: dict[str, dict[str, Any]]) -> str:
    parts = []
    for key, models in multi.items():
        rows = []
        per_class_rows = []
        labels: list[str] = []
        for model, results in models.items():
            acc = [r["accuracy"] for r in results]
            mf = [r["macro_f1"] for r in results]
            wf = [r["weighted_f1"] for r in results]
            multi_f = len(results) > 1
            rows.append(
                [
                    model,
                    _pct(float(np.mean(acc)), float(np.std(acc)) if multi_f else None),
                    _pct(float(np.mean(mf)), float(np.std(mf)) if multi_f else None),
                    _pct(float(np.mean(wf)), float(np.std(wf)) if multi_f else None),
                    _num(float(np.mean([r["train_seconds"] for r in results])), "{:.1f}"),
                ]
            )
            labels = results[0]["labels"]
            rec = []
            for c in labels:
                vals = [
                    r["per_class"][c]["recall"]
                    for r in results
                    if r["per_class"][c]["recall"] is not None
                ]
                sup = sum(int(r["per_class"][c]["support"]) for r in results)
                rec.append(f"{_pct(float(np.mean(vals)))} (n={sup:,})" if vals else "n/a (n=0)")
            per_class_rows.append([model, *rec])
        parts.append(
            f"**{key}** ({len(next(iter(models.values())))} fold(s))\n\n"
            + _table(["model", "accuracy %", "macro-F1 %", "weighted-F1 %", "train s"], rows)
            + "\n\nPer-class recall % (test support summed over folds):\n\n"
            + _table(["model", *labels], per_class_rows)
        )
    return "\n\n".join(parts)


# ----------------------------------------------------------------------------- plots


def write_plots(
    benches: Sequence[BenchResult], multi: dict[str, dict[str, Any]], img: Path
) -> dict[str, list[Path]]:
    from ..plots import (
        plot_confusion_matrix,
        plot_model_bars,
        plot_multiclass_confusion,
        plot_pr_curves,
        plot_roc_curves,
    )

    img.mkdir(parents=True, exist_ok=True)
    out: dict[str, list[Path]] = {}
    for b in benches:
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
        agg = aggregate(b, "calibrated")
        vals = {
            m: {k: agg[m][k] for k in ("accuracy", "precision", "recall", "f1")}
            for m in _ordered(agg)
        }
        errs = (
            {
                m: {k: agg[m][f"{k}_std"] for k in ("accuracy", "precision", "recall", "f1")}
                for m in vals
            }
            if b.n_folds > 1
            else None
        )
        note = "calibrated thresholds"
        if has_single_class_fold(b):
            pooled = pooled_metrics(b, "calibrated")
            vals = {
                m: {k: pooled[m][k] for k in ("accuracy", "precision", "recall", "f1")}
                for m in _ordered(pooled)
            }
            errs, note = None, "calibrated thresholds, pooled out-of-fold"
        paths.append(
            plot_model_bars(
                vals,
                img / f"bars_{slug}.png",
                f"{b.title} ({note})",
                errors=errs,
                ylim=(0.0, 1.05),
            )
        )
        out[b.key] = paths
    for key, models in multi.items():
        if "XGB" in models:
            res = models["XGB"]
            cm = np.sum([np.asarray(r["confusion"]) for r in res], axis=0)
            p = plot_multiclass_confusion(
                cm,
                res[0]["labels"],
                img / f"cm_multiclass_{_slug(key)}.png",
                f"XGB multi-class - {key}",
            )
            out.setdefault(f"multiclass:{key}", []).append(p)
    return out


# ----------------------------------------------------------------------------- document


def _versions() -> dict[str, str]:
    vers = {"python": platform.python_version()}
    for mod in ("numpy", "sklearn", "xgboost", "onnxruntime", "torch", "matplotlib"):
        try:
            vers[mod] = str(__import__(mod).__version__)
        except ImportError:
            vers[mod] = "not installed"
    from .. import __version__

    vers["hamad_plugin"] = __version__
    return vers


def _cnn_params() -> str:
    try:
        from .cnn_lstm import build_model, count_parameters

        return f"{count_parameters(build_model(8)):,}"  # independent of the input width
    except ImportError:
        return "n/a (PyTorch missing)"


def _headline(benches: Sequence[BenchResult]) -> str:
    rows = []
    by_ds: dict[str, list[BenchResult]] = defaultdict(list)
    for b in benches:
        by_ds[b.dataset].append(b)
    for ds in ("NSL-KDD", "UNSW-NB15", "CICIDS2017", "Zeek conn logs"):
        claim = SEED_CLAIMS.get(ds)
        claim_txt = (
            " / ".join(_pct(claim[k]) for k in ("accuracy", "precision", "recall", "f1"))
            if claim
            else "no claim"
        )
        if ds not in by_ds:
            rows.append([ds, "not evaluated (no data)", claim_txt, "n/a", "n/a"])
            continue
        for b in by_ds[ds]:
            ours = []
            pooled = has_single_class_fold(b)
            for pol in ("calibrated", "0.5"):
                a = (pooled_metrics(b, pol) if pooled else aggregate(b, pol)).get("HAMAD")
                ours.append(
                    " / ".join(_pct(a[k]) for k in ("accuracy", "precision", "recall", "f1"))
                    if a
                    else "n/a"
                )
            how = (
                " (pooled out-of-fold: some folds are benign-only)"
                if pooled
                else (f" (mean of {b.n_folds} folds)" if b.n_folds > 1 else "")
            )
            rows.append([ds, b.title.split(": ", 1)[-1] + how, claim_txt, *ours])
    return _table(
        [
            "dataset",
            "our protocol",
            "seed 000 claim acc / prec / rec / F1 %",
            "HAMAD (ours), calibrated thr: acc / prec / rec / F1 %",
            "HAMAD (ours), thr 0.5: acc / prec / rec / F1 %",
        ],
        rows,
    )


def _discussion(benches: Sequence[BenchResult]) -> str:
    """Data-driven sentences: which model wins where (by F1 at calibrated thresholds, and AUC)."""
    lines = []
    for b in benches:
        agg = aggregate(b, "calibrated")
        if has_single_class_fold(b):
            agg = pooled_metrics(b, "calibrated")
        if "HAMAD" not in agg:
            continue
        h = agg["HAMAD"]
        others = {m: a for m, a in agg.items() if m not in ("HAMAD", "HAMAD adaptive-thr")}
        best_f1 = max(others.items(), key=lambda kv: kv[1]["f1"] or -1.0, default=None)
        best_auc = max(others.items(), key=lambda kv: kv[1]["roc_auc"] or -1.0, default=None)
        how = " (pooled out-of-fold)" if has_single_class_fold(b) else ""
        txt = (
            f"- **{b.title}**{how}: HAMAD F1 {_pct(h['f1'])} %, ROC-AUC {_num(h['roc_auc'])}, "
            f"FPR {_pct(h['fpr'])} %."
        )
        if best_f1 is not None and best_f1[1]["f1"] is not None and h["f1"] is not None:
            rel = "beats" if h["f1"] > best_f1[1]["f1"] else "does not beat"
            txt += (
                f" It {rel} the best other model on F1 ({best_f1[0]}: {_pct(best_f1[1]['f1'])} %)"
            )
        if best_auc is not None and best_auc[1]["roc_auc"] is not None and h["roc_auc"] is not None:
            diff = h["roc_auc"] - best_auc[1]["roc_auc"]
            rel = (
                "ties with"
                if abs(diff) < 5e-5
                else ("is higher than" if diff > 0 else "is lower than")
            )
            txt += (
                f"; its ROC-AUC {rel} the best other ({best_auc[0]}: "
                f"{_num(best_auc[1]['roc_auc'])})."
            )
        if "HAMAD adaptive-thr" in agg:
            ad = agg["HAMAD adaptive-thr"]
            txt += (
                f" Adaptive threshold: recall {_pct(ad['recall'])} %, FPR {_pct(ad['fpr'])} % "
                f"(fixed: recall {_pct(h['recall'])} %, FPR {_pct(h['fpr'])} %)."
            )
        lines.append(txt)
    return "\n".join(lines)


def _efficiency(benches: Sequence[BenchResult]) -> str:
    rows = []
    for b in benches:
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
                    _pct(a["accuracy"]),
                    _pct(spec),
                    _pct(a["f1"]),
                    _num(a["train_seconds"], "{:.1f}"),
                    _num(py_us, "{:.1f}"),
                    _num(onnx_us, "{:.1f}"),
                    _size(a),
                    f"{params:,}" if params else "n/a (trees)" if m == "HAMAD" else "n/a",
                ]
            )
    return _table(
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


def write_document(
    benches: Sequence[BenchResult],
    multi: dict[str, dict[str, Any]],
    plots: dict[str, list[Path]],
    opts: ReportOptions,
    elapsed: float,
    missing: list[str],
    load: tuple[float | None, float | None],
) -> Path:
    out = opts.out
    md = out / "evaluation.md"

    def rel(p: Path) -> str:
        return p.relative_to(out).as_posix()

    cfg = opts.run
    v = _versions()
    smoke = " **SMOKE RUN (tiny subsets) - numbers are not meaningful**" if opts.smoke else ""
    s: list[str] = [
        f"# HAMAD evaluation{smoke}",
        "",
        f"Generated by `{opts.command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
        f"in {elapsed / 60:.1f} min. Do not edit by hand: rerun the command.",
        "",
        "## Setup",
        "",
        f"- Data root: `{opts.data_root}`; files and sha256 in `evaluation.json` (`sources`).",
        f"- Seed {cfg.seed} for every split and model; {cfg.n_estimators} trees per tree model; "
        f"n_jobs={cfg.n_jobs}.",
        f"- Inside each fold's TRAIN rows a stratified {100 * (1 - cfg.val_frac):.0f}/"
        f"{100 * cfg.val_frac:.0f} split (seed {cfg.seed}) gives *fit* rows (all models train "
        "on these only) and *validation* rows. **Calibrated thresholds** are set on the benign "
        f"validation scores for a target FPR of {100 * cfg.target_fpr:g} % "
        "(`AdaptiveThreshold(mode='fixed')`); the test rows never influence any threshold. "
        "Tables marked *thr 0.5* use the fixed 0.5 score threshold instead. "
        "† = HAMAD with `AdaptiveThreshold(mode='adaptive')` (same calibration, then adapted "
        "in stream order over the test rows).",
        "- Ablations reuse the members of the fitted HAMAD ensemble (identical to fitting "
        "`HamadEnsemble(members=('rf',))` etc. or `HamadEnsemble(fusion='mean')`: same data, "
        "parameters and seed). Their *train s* is the member's own fit time; HAMAD's includes the "
        "out-of-fold member fits and the attention gate.",
        "- CNN-LSTM (seed 002, Table 1, PyTorch: Conv1D 32x3 ReLU -> MaxPool 2 -> LSTM 64 -> "
        f"Dense 32 ReLU -> Dropout 0.3 -> Dense 2 softmax; {_cnn_params()} parameters vs "
        "Table 1's ~30,000): trained on a stratified subsample of at most "
        f"{cfg.cnn_max_rows:,} fit rows (a time-budget reduction, not the paper's setting), "
        "1 torch thread, batch 512, Adam 1e-3, "
        f"at most {cfg.cnn_max_epochs} epochs, early stopping (patience "
        f"{cfg.cnn_patience}) on the loss of validation rows from TRAIN; inputs signed-log1p + "
        "standardised (train statistics). "
        + ("Enabled." if cfg.cnn else "**Disabled in this run.**"),
        "- Student (seed 001 idea): MLP 32-16 distilled from HAMAD's soft scores on the fit rows, "
        "exported to ONNX (log-transform and scaler inside the graph), scored with onnxruntime.",
        "- µs/row: wall time of batch scoring of up to 20,000 test rows / rows (best of 2), "
        f"{cfg.n_jobs} CPU thread(s). Sizes: ONNX file, pickle, or float32 weight bytes as stated.",
        "- Multi-fold protocols show mean ± std over folds; the pooled table concatenates the "
        "out-of-fold predictions (each fold's own threshold).",
        "- Versions: "
        + ", ".join(f"{k} {val}" for k, val in v.items())
        + f"; {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs. 1-min load average before/after the run: {load[0]} / {load[1]} "
        "(the machine was shared with other work, so timings are indicative only).",
    ]
    if opts.smoke:
        s.append(
            f"- Smoke mode: at most {opts.max_train} train / {opts.max_test} test rows per "
            "file, 10 trees, 1 CNN epoch, 2 UNSW folds, no ONNX timing for HAMAD."
        )
    if missing:
        s += ["", "**Not evaluated:** " + "; ".join(missing)]
    s += [
        "",
        "## Headline: seed claims beside our numbers",
        "",
        "Seed 000 reports HAMAD accuracy / precision / recall / F1 without stating the split. "
        "Ours are on the protocols below (test data never used for training or thresholds).",
        "",
        _headline(benches),
        "",
    ]
    s += ["## Results per protocol", ""]
    for b in benches:
        s += [f"### {b.title}", "", b.description, ""]
        fs = b.fold_sizes[0]
        s.append(
            f"Folds: {b.n_folds}; first fold: {fs['train_rows']:,} train rows "
            f"({fs['train_attacks']:,} attacks), {fs['test_rows']:,} test rows "
            f"({fs['test_attacks']:,} attacks)."
        )
        s += [
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
        for p in plots.get(b.key, []):
            s.append(f"![{p.stem}]({rel(p)})")
        s.append("")
    if multi:
        s += [
            "## Multi-class (attack category) results",
            "",
            "RF and XGB trained on the fold's full TRAIN rows with attack-category labels "
            "(NSL-KDD: normal/dos/probe/r2l/u2r, test-only attacks mapped as in "
            "`hamad_plugin/datasets/nsl_kdd.py`; UNSW-NB15: attack_cat).",
            "",
            multiclass_tables(multi),
            "",
        ]
        for key in multi:
            for p in plots.get(f"multiclass:{key}", []):
                s.append(f"![{p.stem}]({rel(p)})")
        s.append("")
    s += [
        "## Size and speed: teacher, distilled student, CNN-LSTM",
        "",
        "Seed 001 claims 0.93 accuracy, 0.97 specificity, 22.8 s training, 0.06 s inference "
        "(dataset/hardware unstated). Seed 002 claims ~30,000 parameters, 97.8 % accuracy and "
        "1.9 % FPR (UNSW-NB15 + CIC-IDS2017 mix, split unstated).",
        "",
        _efficiency(benches),
        "",
        "## Discussion",
        "",
        _discussion(benches),
        "",
        _static_discussion(benches, opts),
        "",
    ]
    md.write_text("\n".join(s) + "\n")
    return md


def _static_discussion(benches: Sequence[BenchResult], opts: ReportOptions) -> str:
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
    if "Zeek conn logs" in keys:
        parts.append(
            "- Zeek conn logs: leave-one-capture-out is the honest deployment question (a new "
            "network). Two held-out captures are benign-only, so recall/AUC are undefined there "
            "and only FPR counts; the other folds' test traffic comes from malware families or "
            "attack scenarios the training captures may not contain. Six captures are few; "
            "the std across folds is the uncertainty to read."
        )
    cnn_runs = [
        r["extra"]
        for b in benches
        for r in b.records
        if r["model"] == "CNN-LSTM (seed 002)" and r["policy"] == "calibrated"
    ]
    if cnn_runs:
        capped = sum(1 for e in cnn_runs if e.get("epochs_run") == opts.run.cnn_max_epochs)
        parts.append(
            f"- CNN-LSTM: trained on at most {opts.run.cnn_max_rows:,} rows for at most "
            f"{opts.run.cnn_max_epochs} epochs to fit the time budget; in {capped} of "
            f"{len(cnn_runs)} fits the epoch cap, not early stopping, ended training, so its "
            "numbers understate what the architecture can do and are not a test of seed 002's "
            "97.8 % claim (which used a different, unstated split and data mix)."
        )
    parts.append(
        "- Thresholds are calibrated on benign TRAIN-side validation rows for the target FPR; "
        "when the test distribution differs (new attacks, new network) the realised FPR differs "
        "from the target, which is exactly what the tables show."
    )
    parts.append(
        "- CICIDS2017 could not be evaluated: no CICIDS2017 data is available to this "
        "project. The loader (`hamad_plugin/datasets/cicids2017.py`) is only tested on "
        "a synthetic file with the real MachineLearningCVE header."
        if "CICIDS2017" not in keys
        else ""
    )
    return "\n".join(p for p in parts if p)


def _jsonable(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, float) and not np.isfinite(o):
        return None
    return o


def build_protocols(opts: ReportOptions) -> tuple[list[Protocol], list[str]]:
    """The protocols whose data exists under the data root; plus what was skipped and why."""
    from .protocols import cicids_protocol, conn_log_protocol, nsl_kdd_protocols, unsw_protocol

    root = opts.data_root
    if not root.is_dir():
        raise InputFormatError(
            f"{root}: data root not found; expected the shared datasets folder (nsl-kdd/, "
            "unsw-nb15/, iot23/, stratosphere-labeled-zeek/); pass --data-root"
        )
    seed = opts.run.seed
    protocols: list[Protocol] = []
    missing: list[str] = []
    for ds in opts.datasets:
        try:
            if ds == "nsl-kdd":
                protocols += nsl_kdd_protocols(
                    root / "nsl-kdd", seed, opts.max_train, opts.max_test
                )
            elif ds == "unsw-nb15":
                protocols.append(
                    unsw_protocol(root / "unsw-nb15", seed, opts.unsw_folds, opts.max_train)
                )
            elif ds == "cicids2017":
                protocols.append(cicids_protocol(root / "cicids2017", seed, 5, opts.max_train))
            elif ds == "zeek-conn":
                cap = None if opts.max_train is None else max(opts.max_train // 6, 50)
                protocols.append(conn_log_protocol(root, seed, None, cap))
        except HamadError as exc:
            missing.append(f"{ds}: {exc}")
    if not protocols:
        raise InputFormatError(f"{root}: none of the datasets could be loaded: {missing}")
    return protocols, missing


def generate_report(opts: ReportOptions) -> Path:
    """Run everything and write evaluation.md, evaluation.json and img/*.png under opts.out."""
    t0 = time.perf_counter()
    opts.out.mkdir(parents=True, exist_ok=True)
    protocols, missing = build_protocols(opts)
    load_before = _loadavg()
    with _single_thread_blas():
        benches, multi = run_protocols(protocols, opts)
    opts_load = (load_before, _loadavg())
    plots = write_plots(benches, multi, opts.out / "img")
    elapsed = time.perf_counter() - t0
    md = write_document(benches, multi, plots, opts, elapsed, missing, opts_load)
    payload = {
        "command": opts.command,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "elapsed_seconds": elapsed,
        "options": {k: v for k, v in asdict(opts).items() if k != "run"},
        "run_config": asdict(opts.run),
        "versions": _versions(),
        "missing": missing,
        "sources": {p.key: p.sources for p in protocols},
        "benchmarks": [
            {
                "key": b.key,
                "title": b.title,
                "n_folds": b.n_folds,
                "fold_sizes": b.fold_sizes,
                "records": b.records,
                "aggregate_calibrated": aggregate(b, "calibrated"),
                "aggregate_0.5": aggregate(b, "0.5"),
                "pooled": pooled_metrics(b) if b.n_folds > 1 else None,
            }
            for b in benches
        ],
        "multiclass": multi,
    }
    payload["loadavg_1min_before_after"] = opts_load
    (opts.out / "evaluation.json").write_text(json.dumps(_jsonable(payload), indent=1) + "\n")
    return md


def _loadavg() -> float | None:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


@contextlib.contextmanager
def _single_thread_blas() -> Iterator[None]:
    """BLAS on one thread: on a shared 2-core box, 2 BLAS threads made small SVDs 6-14x slower.

    Tree models keep their own ``n_jobs`` threads.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
