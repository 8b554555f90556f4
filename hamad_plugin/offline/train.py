"""Offline training: labelled conn logs -> ONNX ensemble + threshold + metadata.

Split (``split="time"``): every capture is cut in connection-end order into
train (first 70 %), calibration (next 10 %) and test (last 20 %). The
ensemble sees only train rows, the threshold only benign calibration rows,
and the metrics in the metadata come only from test rows. A time split is
used, not a random one, because the window features of neighbouring
connections overlap: a random split would leak each test row's context into
training. Rows labelled ``Background`` (unknown) still feed the windows but
are never trained or scored on.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata as _im
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..core.digest import file_sha256
from ..core.features import FeatureConfig, FeatureSchema
from ..core.manifest import (
    ExplainInfo,
    FeaturesInfo,
    Hyperparameters,
    ModelManifest,
    SplitInfo,
    ThresholdInfo,
    TrainedFile,
    TrainingInfo,
)
from ..core.threshold import AdaptiveThreshold
from ..errors import ConfigError, DataError

# research/loco.py imports these from here; they live in captures.
from .captures import CaptureData, capture_name, load_capture
from .ensemble import HamadEnsemble
from .metrics import binary_metrics
from .onnx_export import ensemble_to_onnx

SPLIT_FRACTIONS = (0.7, 0.1, 0.2)
#: Rows per group for the attention gate's out-of-fold split.
GROUP_BLOCK = 500


def block_groups(capture: int, n: int) -> np.ndarray:
    """Gate fold groups of one capture's training rows: blocks of :data:`GROUP_BLOCK` rows.

    Blocks, not whole captures: with the few captures there are, a gate
    trained on whole-capture-out member scores was worse on every unseen
    capture (leave-one-capture-out: 2,174 false alarms per 10,000 on IoT-23
    34-1 against 577, docs/ablation.md), so the conn-log gate learns on
    neighbouring-blocks-out scores and the fusion choice is not made here
    (``select_fusion=False``). Blocks keep a connection and its window
    neighbours on the same side of each fold.
    """
    return capture * 100_000 + np.arange(n) // GROUP_BLOCK


def time_split(n: int, fractions: Sequence[float] = SPLIT_FRACTIONS) -> tuple[slice, slice, slice]:
    """Contiguous train / calibration / test slices of a capture in time order."""
    a = int(round(n * fractions[0]))
    b = int(round(n * (fractions[0] + fractions[1])))
    return slice(0, a), slice(a, b), slice(b, n)


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "hamad": __version__}
    for pkg in (
        "numpy",
        "scikit-learn",
        "xgboost",
        "onnx",
        "onnxruntime",
        "skl2onnx",
        "onnxmltools",
    ):
        try:
            out[pkg] = _im.version(pkg)
        except _im.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def _heldout_plots(y: np.ndarray, s: np.ndarray, threshold: float, out: Path) -> list[str]:
    """Confusion matrix, ROC, PR and score histogram of the held-out rows (if matplotlib)."""
    from ..errors import DependencyError

    try:
        from .plots import save_eval_plots

        paths = save_eval_plots(y, s, threshold, out, "held-out test rows")
    except DependencyError:
        return []
    return [str(p.relative_to(out.parent)) for p in paths]


@dataclass
class TrainResult:
    out_dir: Path
    manifest: ModelManifest


@dataclass
class _Split:
    """The rows of every capture, split in time order (see the module docstring)."""

    X_train: np.ndarray
    y_train: np.ndarray
    #: Gate fold group of each training row (:func:`block_groups`).
    groups: np.ndarray
    X_cal: np.ndarray
    y_cal: np.ndarray
    #: Each capture with its test slice.
    test: list[tuple[CaptureData, slice]]

    @classmethod
    def of(cls, caps: Sequence[CaptureData]) -> _Split:
        parts: dict[str, list[np.ndarray]] = {"Xtr": [], "ytr": [], "gtr": [], "Xca": [], "yca": []}
        test: list[tuple[CaptureData, slice]] = []
        for ci, cap in enumerate(caps):
            tr, ca, te = time_split(len(cap.y))
            parts["Xtr"].append(cap.X[tr])
            parts["ytr"].append(cap.y[tr])
            parts["gtr"].append(block_groups(ci, tr.stop - tr.start))
            parts["Xca"].append(cap.X[ca])
            parts["yca"].append(cap.y[ca])
            test.append((cap, te))
        return cls(
            np.vstack(parts["Xtr"]),
            np.concatenate(parts["ytr"]),
            np.concatenate(parts["gtr"]),
            np.vstack(parts["Xca"]),
            np.concatenate(parts["yca"]),
            test,
        )

    @property
    def test_rows(self) -> int:
        return int(sum(len(c.y[te]) for c, te in self.test))


def train_model(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    config: FeatureConfig | None = None,
    n_estimators: int = 100,
    target_fpr: float = 1e-4,
    seed: int = 0,
    name: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> TrainResult:
    """Train, calibrate, evaluate on held-out rows and write ``out_dir``.

    ``progress(stage, done, total)`` is called as work proceeds (the CLI draws bars).
    """
    if not paths:
        raise ConfigError("no training data: pass one or more labelled conn logs with --data")
    config = config or FeatureConfig()
    out = Path(out_dir)
    caps = _load_captures(paths, config, progress)
    split = _Split.of(caps)
    if len(np.unique(split.y_train)) < 2:
        raise DataError(
            "the training rows hold only one class; pass captures with both benign and "
            "malicious connections"
        )
    if progress:
        progress("ensemble", 0, 1)
    t0 = time.perf_counter()
    ens = HamadEnsemble(n_estimators=n_estimators, random_state=seed, select_fusion=False)
    ens.fit(split.X_train, split.y_train, groups=split.groups)
    fit_s = time.perf_counter() - t0
    if progress:
        progress("ensemble", 1, 1)
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / "model.onnx"
    ensemble_to_onnx(ens, str(onnx_path))

    benign_cal = ens.predict_proba(split.X_cal[split.y_cal == 0])
    thr = AdaptiveThreshold(mode="adaptive", target_fpr=target_fpr).fit(benign_cal)
    metrics = _heldout_metrics(ens, thr.threshold_, split.test, out / "heldout")
    manifest = ModelManifest(
        version=name or f"{out.name}-{_dt.date.today():%Y.%m.%d}",
        hamad_version=__version__,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        members=tuple(ens.members),
        fusion=ens.fusion_,
        features=_features_info(config),
        explain=_explain_info(ens, split.X_train[split.y_train == 0]),
        threshold=ThresholdInfo.from_threshold(thr),
        model_sha256=file_sha256(onnx_path),
        training=TrainingInfo(
            files=tuple(_trained_file(c) for c in caps),
            split=_split_info(split),
            hyperparameters=Hyperparameters(
                n_estimators=n_estimators, seed=seed, target_fpr=target_fpr, n_folds=ens.n_folds
            ),
            fit_seconds=round(fit_s, 2),
        ),
        metrics=metrics,
        libraries=library_versions(),
    )
    (out / "metadata.json").write_text(json.dumps(manifest.to_dict(), indent=1) + "\n")
    return TrainResult(out, manifest)


def _load_captures(
    paths: Sequence[str | Path],
    config: FeatureConfig,
    progress: Callable[[str, int, int], None] | None,
) -> list[CaptureData]:
    caps: list[CaptureData] = []
    for i, p in enumerate(paths):
        if progress:
            progress(f"features {capture_name(p)}", i, len(paths))
        caps.append(load_capture(p, config))
    if progress:
        progress("features", len(paths), len(paths))
    return caps


def _heldout_metrics(
    ens: HamadEnsemble, threshold: float, test: list[tuple[CaptureData, slice]], plots_dir: Path
) -> dict[str, Any]:
    """Metrics of every capture's test rows and of all of them, and their plots."""
    metrics: dict[str, Any] = {"per_capture": {}, "threshold_used": threshold}
    all_y, all_s = [], []
    for cap, te in test:
        s = ens.predict_proba(cap.X[te])
        y = cap.y[te]
        all_y.append(y)
        all_s.append(s)
        m = binary_metrics(y, s, threshold)
        m["rows"] = int(len(y))
        metrics["per_capture"][cap.name] = m
    y_all, s_all = np.concatenate(all_y), np.concatenate(all_s)
    metrics["overall"] = binary_metrics(y_all, s_all, threshold)
    plots = _heldout_plots(y_all, s_all, threshold, plots_dir)
    return {"heldout_test": metrics, "plots": plots}


def _features_info(config: FeatureConfig) -> FeaturesInfo:
    schema = FeatureSchema.from_config(config)
    return FeaturesInfo(
        names=tuple(schema.names),
        descriptions=tuple(schema.descriptions),
        config=config.to_dict(),
        hash=schema.hash,
    )


def _explain_info(ens: HamadEnsemble, benign_train: np.ndarray) -> ExplainInfo:
    """Benign training means and spreads, and the trees' importances (rounded)."""
    sd = benign_train.std(axis=0)

    def rounded(values: np.ndarray) -> tuple[float, ...]:
        return tuple(round(float(v), 6) for v in values)

    return ExplainInfo(
        mean=rounded(benign_train.mean(axis=0)),
        scale=rounded(np.where(sd > 1e-6, sd, 1.0)),
        importance=rounded(ens.feature_importances()),
    )


def _trained_file(c: CaptureData) -> TrainedFile:
    return TrainedFile(
        path=Path(c.path).name,
        capture=c.name,
        sha256=c.sha256,
        lines_read=c.rows,
        labelled_rows=int(len(c.y)),
        malformed_lines=c.bad_lines,
        labels=c.labels,
    )


def _split_info(split: _Split) -> SplitInfo:
    return SplitInfo(
        method="time-ordered per capture",
        fractions={
            "train": SPLIT_FRACTIONS[0],
            "calibration": SPLIT_FRACTIONS[1],
            "test": SPLIT_FRACTIONS[2],
        },
        train_rows=int(len(split.y_train)),
        train_malicious=int(split.y_train.sum()),
        calibration_benign_rows=int((split.y_cal == 0).sum()),
        test_rows=split.test_rows,
    )
