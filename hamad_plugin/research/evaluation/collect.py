"""Run every fold of every protocol and record what the report keeps of it.

Why a module of its own: this is the only part of ``hamad report`` that holds
scores in memory. Each model's scores on each test set become per-fold metric
records (with their confusion counts and per-category counts) and pooled
scores for the plots, in a :class:`~.store.ProtocolResult`; everything after
this step (aggregates, tables, document) works from those records alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...offline.metrics import average_precision, binary_metrics, roc_auc
from .options import ReportOptions
from .protocols import Fold, Protocol
from .runner import ModelRun, run_fold, run_multiclass
from .store import ProtocolResult

#: Per-fold results of the benchmarks, keyed by (protocol key, test set name).
Benches = dict[tuple[str, str], ProtocolResult]
#: Multi-class results: ``{"protocol/test": {model: [one result per fold]}}``.
Multiclass = dict[str, dict[str, Any]]


def _decision_metrics(
    y: NDArray[np.int64], s: NDArray[np.float64], flags: NDArray[np.bool_], thr: float
) -> dict[str, Any]:
    m = binary_metrics(y, flags.astype(np.float64), 0.5)
    ref = binary_metrics(y, s, thr)
    m["roc_auc"], m["pr_auc"], m["threshold"] = ref["roc_auc"], ref["pr_auc"], thr
    return m


def per_category(
    category: NDArray[np.str_], y: NDArray[np.int64], flags: NDArray[np.bool_]
) -> dict[str, list[int]]:
    """``{category: [rows, flagged, attacks]}`` of one test set at one operating point."""
    names, inv = np.unique(category, return_inverse=True)
    k = len(names)
    rows = np.bincount(inv, minlength=k)
    flagged = np.bincount(inv, weights=flags.astype(np.float64), minlength=k)
    attacks = np.bincount(inv, weights=y.astype(np.float64), minlength=k)
    return {
        str(n): [int(r), int(f), int(a)]
        for n, r, f, a in zip(names, rows, flagged, attacks, strict=True)
    }


def _record(
    bench: ProtocolResult,
    fold: str,
    run: ModelRun,
    test: str,
    y: NDArray[np.int64],
    category: NDArray[np.str_],
) -> None:
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
            {
                **base,
                "policy": "adaptive",
                **_decision_metrics(y, s, flags, run.threshold),
                "per_category": per_category(category, y, flags),
            }
        )
        pool["flag"].append(flags)
        return
    flags = s >= run.threshold
    bench.records.append(
        {
            **base,
            "policy": "calibrated",
            **binary_metrics(y, s, run.threshold),
            "per_category": per_category(category, y, flags),
        }
    )
    bench.records.append({**base, "policy": "0.5", **binary_metrics(y, s, 0.5)})
    pool["flag"].append(flags)


def pooled_auc(bench: ProtocolResult) -> dict[str, dict[str, float | None]]:
    """ROC-AUC and PR-AUC per model over the concatenated out-of-fold scores."""
    out = {}
    for model, pool in bench.pooled.items():
        y = np.concatenate(pool["y"])
        s = np.concatenate(pool["s"])
        out[model] = {"roc_auc": roc_auc(y, s), "pr_auc": average_precision(y, s)}
    return out


def _new_benches(p: Protocol) -> Benches:
    """One empty :class:`ProtocolResult` per test set of ``p``."""
    benches: Benches = {}
    for tname in p.test_names:
        title = (
            p.title
            if len(p.test_names) == 1
            else f"{p.dataset}: {p.title.split(': ')[1].split(' -> ')[0]} -> {tname}"
        )
        benches[(p.key, tname)] = ProtocolResult(
            f"{p.key}/{tname}",
            title,
            p.dataset,
            p.description,
            p.n_folds,
            choice=p.choice,
            layout=p.layout,
            note=p.note,
            class_family=dict(p.class_family),
        )
    return benches


def _record_fold(benches: Benches, p: Protocol, fold: Fold, runs: Sequence[ModelRun]) -> None:
    """The fold's sizes and every model's metrics, per test set of the fold."""
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
                _record(b, fold.name, r, t.name, t.y, t.category)


def _multiclass_fold(
    multi: Multiclass,
    p: Protocol,
    fold: Fold,
    opts: ReportOptions,
    log: Callable[[str], None],
) -> None:
    """RF and XGB on the attack categories of ``fold``, appended to ``multi``."""
    assert p.class_names is not None
    t0 = time.perf_counter()
    mc = run_multiclass(fold, p.class_names, opts.run)
    log(f"{fold.name}: multi-class RF+XGB {time.perf_counter() - t0:.0f} s")
    for k, v in mc.items():
        model, tname = k.split("|")
        multi.setdefault(f"{p.key}/{tname}", {}).setdefault(model, []).append(v)


def run_protocols(
    protocols: Sequence[Protocol], opts: ReportOptions
) -> tuple[list[ProtocolResult], Multiclass]:
    """Run all folds of all protocols (tqdm progress); returns benchmarks, multi-class results."""
    from tqdm import tqdm

    benches: Benches = {}
    multi: Multiclass = {}
    total = sum(p.n_folds for p in protocols)
    bar = tqdm(total=total, desc="report folds", unit="fold", disable=not opts.progress)
    for p in protocols:
        benches.update(_new_benches(p))
        for fold in p.make_folds():
            bar.set_postfix_str(f"{p.key} {fold.name}")

            def log(msg: str, key: str = p.key) -> None:
                if opts.progress:
                    tqdm.write(f"[{time.strftime('%H:%M:%S')}] {key} {msg}")

            _record_fold(benches, p, fold, run_fold(fold, opts.run, p.alt_name, log))
            if opts.multiclass and p.class_names:
                _multiclass_fold(multi, p, fold, opts, log)
            bar.update(1)
    bar.close()
    for b in benches.values():
        b.auc = pooled_auc(b)
    return list(benches.values()), multi
