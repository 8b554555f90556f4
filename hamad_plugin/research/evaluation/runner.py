"""Train and score every model of the report on one fold.

Per fold, the TRAIN rows are split once more (stratified 80/20, seeded)
into *fit* rows and *validation* rows. All models train on the fit rows
only; thresholds are calibrated on the validation rows' benign scores
(target FPR), and the CNN-LSTM early-stops on the validation rows. Test rows
are touched only to score them.

The single-member and mean-fusion ablations reuse the members of the fitted
HAMAD ensemble: ``HamadEnsemble(members=("rf",))`` would fit the identical
forest (same data, same parameters, same seed), and ``fusion="mean"`` the
identical members with uniform weights (``tests/research/test_report.py``
checks this), so refitting them would only cost time.
"""

from __future__ import annotations

import pickle
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...offline.metrics import threshold_for_fpr
from .protocols import Fold
from .splits import stratified_holdout, stratified_subsample

#: Rows used to time inference (enough for a stable per-row figure, cheap).
TIMING_ROWS = 20_000


@dataclass
class RunConfig:
    """Knobs of one report run (all stated in the report)."""

    target_fpr: float = 0.01
    seed: int = 0
    n_estimators: int = 100
    n_jobs: int = 2
    val_frac: float = 0.2
    cnn: bool = True
    cnn_max_rows: int = 5_000
    cnn_max_epochs: int = 10
    cnn_patience: int = 3
    student: bool = True
    onnx: bool = True


@dataclass
class ModelRun:
    """One model's output on one fold: scores per test set, threshold, costs."""

    model: str
    scores: dict[str, NDArray[np.float64]]
    threshold: float
    decisions: dict[str, NDArray[np.bool_]] | None = None
    train_seconds: float | None = None
    infer_us_per_row: float | None = None
    size_bytes: int | None = None
    size_kind: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def calibrate(
    val_scores: NDArray[np.float64], y_val: NDArray[np.int64], target_fpr: float
) -> float:
    """Fixed threshold from benign validation scores (the lead's AdaptiveThreshold, fixed mode)."""
    benign = val_scores[y_val == 0]
    try:
        from ...core.threshold import AdaptiveThreshold
    except ImportError:  # pragma: no cover - threshold module is part of the package
        return threshold_for_fpr(benign, target_fpr)
    return float(AdaptiveThreshold(mode="fixed", target_fpr=target_fpr).fit(benign).threshold_)


def _time_per_row(fn: Callable[[NDArray[np.float32]], object], X: NDArray[np.float32]) -> float:
    """Microseconds per row for batch scoring of up to TIMING_ROWS rows (best of 2)."""
    Xt = X[:TIMING_ROWS]
    if len(Xt) == 0:
        return float("nan")
    best = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        fn(Xt)
        best = min(best, time.perf_counter() - t0)
    return 1e6 * best / len(Xt)


def _member_fn(model: Any, name: str) -> Callable[[NDArray[np.float32]], NDArray[np.float64]]:
    if name == "novelty":
        return lambda X: np.asarray(model.score(X), dtype=np.float64)
    return lambda X: np.asarray(model.predict_proba(X)[:, 1], dtype=np.float64)


def _pickle_size(obj: Any) -> int:
    return len(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


@dataclass
class _FittedHamad:
    """One fitted HAMAD ensemble and its member scores on the validation and test rows."""

    ens: Any
    train_seconds: float
    val_base: NDArray[np.float64]
    val_fused: NDArray[np.float64]
    base: dict[str, NDArray[np.float64]]
    fused: dict[str, NDArray[np.float64]]
    y_val: NDArray[np.int64]
    #: The rows inference is timed on (the first test set's).
    timing_rows: NDArray[np.float32]


def _fit_hamad(
    fold: Fold,
    cfg: RunConfig,
    fit_idx: NDArray[np.int64],
    val_idx: NDArray[np.int64],
    X: NDArray[np.float32],
    tests: dict[str, NDArray[np.float32]],
) -> _FittedHamad:
    """Fit the ensemble on the fit rows; member and fused scores of validation and test rows."""
    from ...offline.ensemble import HamadEnsemble

    y = fold.y
    ens = HamadEnsemble(
        n_estimators=cfg.n_estimators,
        random_state=cfg.seed,
        n_jobs=cfg.n_jobs,
        fusion_fpr=cfg.target_fpr,
    )
    t0 = time.perf_counter()
    groups = None if fold.groups is None else fold.groups[fit_idx]
    ens.fit(X[fit_idx], y[fit_idx], groups=groups)
    train_s = time.perf_counter() - t0
    val_base = ens.base_scores(X[val_idx])
    val_fused = (ens.attention_weights(X[val_idx], val_base) * val_base).sum(axis=1)
    base = {t: ens.base_scores(Z) for t, Z in tests.items()}
    fused_s = {t: (ens.attention_weights(tests[t], base[t]) * base[t]).sum(axis=1) for t in tests}
    return _FittedHamad(
        ens, train_s, val_base, val_fused, base, fused_s, y[val_idx], next(iter(tests.values()))
    )


def _hamad_size(
    ens: Any, cfg: RunConfig, first: NDArray[np.float32]
) -> tuple[int, str, dict[str, Any]]:
    """(size, size kind, extra) of the ensemble: its ONNX export when ``cfg.onnx``, else pickle."""
    size, kind = _pickle_size(ens), "pickle"
    extra: dict[str, Any] = {
        "fit_seconds": dict(ens.fit_seconds_),
        "fusion": getattr(ens, "fusion_", None),
        "fusion_evidence": dict(getattr(ens, "fusion_evidence_", {})),
    }
    if cfg.onnx:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "hamad.onnx"
            try:
                ens.export_onnx(str(path))
                from .student import onnx_scores, onnx_session

                sess = onnx_session(path, cfg.n_jobs)
                size, kind = path.stat().st_size, "onnx"
                extra["onnx_us_per_row"] = _time_per_row(lambda Z: onnx_scores(sess, Z), first)
            except Exception as exc:  # noqa: BLE001 - report, never abort the whole run
                extra["onnx_error"] = f"{type(exc).__name__}: {exc}"
    return size, kind, extra


def _adaptive_run(h: _FittedHamad, cfg: RunConfig, label: str, hamad: ModelRun) -> ModelRun:
    """HAMAD's fused scores through the adaptive threshold, in stream order per test set."""
    from ...core.threshold import AdaptiveThreshold

    at = AdaptiveThreshold(mode="adaptive", target_fpr=cfg.target_fpr)
    at.fit(h.val_fused[h.y_val == 0])
    decisions = {}
    for t, s in h.fused.items():
        at.reset()
        decisions[t] = np.asarray(at.decide(s)[0], dtype=bool)
    return ModelRun(
        f"{label} adaptive-thr",
        h.fused,
        at.threshold_,
        decisions,
        h.train_seconds,
        hamad.infer_us_per_row,
        hamad.size_bytes,
        hamad.size_kind,
    )


def _mean_fusion_run(h: _FittedHamad, cfg: RunConfig, label: str) -> ModelRun:
    """The same members averaged (``fusion="mean"``), with its own calibrated threshold."""
    ens = h.ens
    return ModelRun(
        f"{label} mean-fusion",
        {t: b.mean(axis=1) for t, b in h.base.items()},
        calibrate(h.val_base.mean(axis=1), h.y_val, cfg.target_fpr),
        None,
        sum(ens.fit_seconds_.get(m, 0.0) for m in ens.members),
        _time_per_row(lambda Z: ens.base_scores(Z).mean(axis=1), h.timing_rows),
        _pickle_size(ens.models_),
        "pickle",
    )


def _member_runs(h: _FittedHamad, cfg: RunConfig) -> list[ModelRun]:
    """Each member alone ("RF only", ...), with its own calibrated threshold."""
    nice = {"rf": "RF only", "xgb": "XGB only", "novelty": "Novelty only (PCA)"}
    runs = []
    for j, m in enumerate(h.ens.members):
        model = h.ens.models_[m]
        runs.append(
            ModelRun(
                nice.get(m, m),
                {t: b[:, j] for t, b in h.base.items()},
                calibrate(h.val_base[:, j], h.y_val, cfg.target_fpr),
                None,
                h.ens.fit_seconds_.get(m),
                _time_per_row(_member_fn(model, m), h.timing_rows),
                _pickle_size(model),
                "pickle",
            )
        )
    return runs


def run_hamad(
    fold: Fold,
    cfg: RunConfig,
    fit_idx: NDArray[np.int64],
    val_idx: NDArray[np.int64],
    X: NDArray[np.float32],
    tests: dict[str, NDArray[np.float32]],
    label: str = "HAMAD",
    ablations: bool = True,
) -> tuple[list[ModelRun], Any]:
    """HAMAD (attention) + its ablations from one fitted ensemble; returns runs and the teacher."""
    h = _fit_hamad(fold, cfg, fit_idx, val_idx, X, tests)
    ens = h.ens

    def fused(Z: NDArray[np.float32]) -> NDArray[np.float64]:
        return np.asarray(ens.predict_proba(Z), dtype=np.float64)

    thr = calibrate(h.val_fused, h.y_val, cfg.target_fpr)
    size, kind, extra = _hamad_size(ens, cfg, h.timing_rows)
    hamad = ModelRun(
        label,
        h.fused,
        thr,
        None,
        h.train_seconds,
        _time_per_row(fused, h.timing_rows),
        size,
        kind,
        extra,
    )
    runs = [hamad]
    if not ablations:
        return runs, ens
    try:
        runs.append(_adaptive_run(h, cfg, label, hamad))
    except ImportError:  # pragma: no cover
        pass
    runs.append(_mean_fusion_run(h, cfg, label))
    runs += _member_runs(h, cfg)
    return runs, ens


def run_cnn_lstm(
    fold: Fold,
    cfg: RunConfig,
    fit_idx: NDArray[np.int64],
    val_idx: NDArray[np.int64],
    tests: dict[str, NDArray[np.float32]],
) -> ModelRun:
    """Seed 002's CNN-LSTM on (a capped stratified subsample of) the fit rows."""
    from .cnn_lstm import CnnLstmClassifier

    y = fold.y
    sub_fit = fit_idx[stratified_subsample(y[fit_idx], cfg.cnn_max_rows, cfg.seed)]
    sub_val = val_idx[stratified_subsample(y[val_idx], max(cfg.cnn_max_rows // 4, 1), cfg.seed)]
    clf = CnnLstmClassifier(
        max_epochs=cfg.cnn_max_epochs,
        patience=cfg.cnn_patience,
        random_state=cfg.seed,
        # One torch thread: on the shared 2-core machine 2 threads were 1.7x slower.
        n_threads=1,
        batch_size=512,
    )
    t0 = time.perf_counter()
    clf.fit(fold.X[sub_fit], y[sub_fit], fold.X[sub_val], y[sub_val])
    train_s = time.perf_counter() - t0
    scores = {t: clf.predict_proba(Z) for t, Z in tests.items()}
    thr = calibrate(clf.predict_proba(fold.X[val_idx]), y[val_idx], cfg.target_fpr)
    first = next(iter(tests.values()))
    return ModelRun(
        "CNN-LSTM (seed 002)",
        scores,
        thr,
        None,
        train_s,
        _time_per_row(clf.predict_proba, first),
        clf.size_bytes(),
        "float32 weights",
        {
            "parameters": clf.n_parameters_,
            "best_epoch": clf.best_epoch_,
            "epochs_run": len(clf.history_),
            "train_rows": int(len(sub_fit)),
        },
    )


def run_student(
    fold: Fold,
    cfg: RunConfig,
    fit_idx: NDArray[np.int64],
    val_idx: NDArray[np.int64],
    tests: dict[str, NDArray[np.float32]],
    teacher: Any,
) -> ModelRun:
    """Seed 001's idea: MLP student distilled from HAMAD's soft scores, scored via ONNX."""
    from .student import DistilledStudent, onnx_scores, onnx_session

    X = fold.X
    soft = np.asarray(teacher.predict_proba(X[fit_idx]), dtype=np.float64)
    st = DistilledStudent(random_state=cfg.seed)
    t0 = time.perf_counter()
    st.fit(X[fit_idx], soft)
    train_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = st.export_onnx(Path(tmp) / "student.onnx")
        size = path.stat().st_size
        sess = onnx_session(path, cfg.n_jobs)

        def score(Z: NDArray[np.float32]) -> NDArray[np.float64]:
            return onnx_scores(sess, Z)

        scores = {t: score(Z) for t, Z in tests.items()}
        thr = calibrate(score(X[val_idx]), fold.y[val_idx], cfg.target_fpr)
        us = _time_per_row(score, next(iter(tests.values())))
    return ModelRun(
        "Student MLP, ONNX (seed 001)",
        scores,
        thr,
        None,
        train_s,
        us,
        size,
        "onnx",
        {"parameters": st.n_parameters_, "teacher_train_rows": int(len(fit_idx))},
    )


def run_fold(
    fold: Fold,
    cfg: RunConfig,
    alt_name: str | None = None,
    log: Callable[[str], None] | None = None,
) -> list[ModelRun]:
    """All models on one fold (see module docstring for what trains on what)."""
    say = log or (lambda _msg: None)
    fit_idx, val_idx = stratified_holdout(fold.y, cfg.val_frac, cfg.seed)
    tests = {t.name: t.X for t in fold.tests}
    t0 = time.perf_counter()
    runs, teacher = run_hamad(fold, cfg, fit_idx, val_idx, fold.X, tests)
    say(
        f"{fold.name}: HAMAD + ablations {time.perf_counter() - t0:.0f} s "
        f"({len(fit_idx):,} fit rows, {fold.X.shape[1]} features)"
    )
    if alt_name is not None and fold.X_alt is not None:
        t0 = time.perf_counter()
        alt_tests = {t.name: t.X_alt for t in fold.tests if t.X_alt is not None}
        alt_runs, _ = run_hamad(
            fold, cfg, fit_idx, val_idx, fold.X_alt, alt_tests, alt_name, ablations=False
        )
        runs += alt_runs
        say(f"{fold.name}: {alt_name} {time.perf_counter() - t0:.0f} s")
    if cfg.student:
        t0 = time.perf_counter()
        runs.append(run_student(fold, cfg, fit_idx, val_idx, tests, teacher))
        say(f"{fold.name}: student {time.perf_counter() - t0:.0f} s")
    if cfg.cnn:
        t0 = time.perf_counter()
        runs.append(run_cnn_lstm(fold, cfg, fit_idx, val_idx, tests))
        say(
            f"{fold.name}: CNN-LSTM {time.perf_counter() - t0:.0f} s "
            f"({runs[-1].extra.get('epochs_run')} epochs)"
        )
    return runs


def run_multiclass(fold: Fold, class_names: list[str], cfg: RunConfig) -> dict[str, dict[str, Any]]:
    """RF and XGB multi-class (attack categories) on the fold's full training rows."""
    from sklearn.ensemble import RandomForestClassifier
    from xgboost import XGBClassifier

    from ...offline.metrics import multiclass_metrics

    index = {c: i for i, c in enumerate(class_names)}
    ytr = np.asarray([index[c] for c in fold.category])
    present = np.unique(ytr)
    remap = {c: i for i, c in enumerate(present)}  # XGB needs contiguous labels
    out: dict[str, dict[str, Any]] = {}
    models: dict[str, Any] = {
        "RF": RandomForestClassifier(
            n_estimators=cfg.n_estimators, n_jobs=cfg.n_jobs, random_state=cfg.seed
        ),
        "XGB": XGBClassifier(
            n_estimators=cfg.n_estimators,
            max_depth=6,
            learning_rate=0.1,
            tree_method="hist",
            n_jobs=cfg.n_jobs,
            random_state=cfg.seed,
        ),
    }
    for name, model in models.items():
        t0 = time.perf_counter()
        model.fit(fold.X, np.asarray([remap[v] for v in ytr]))
        train_s = time.perf_counter() - t0
        for t in fold.tests:
            yt = np.asarray([index[c] for c in t.category])
            pred = present[np.asarray(model.predict(t.X), dtype=np.int64)]
            res = multiclass_metrics(yt, pred, class_names)
            res["train_seconds"] = train_s
            out[f"{name}|{t.name}"] = res
    return out
