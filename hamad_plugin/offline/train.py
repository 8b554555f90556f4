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
import hashlib
import json
import platform
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata as _im
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..core.features import FeatureConfig, FeatureExtractor, FeatureSchema
from ..core.threshold import AdaptiveThreshold
from ..errors import ConfigError
from ..scoring.model import METADATA_FORMAT, file_sha256
from .ensemble import HamadEnsemble
from .ingest import read_conn_log
from .metrics import binary_metrics

#: Rows per group for the grouped out-of-fold split of the attention gate.
GROUP_BLOCK = 500
SPLIT_FRACTIONS = (0.7, 0.1, 0.2)


@dataclass
class CaptureData:
    """Features and labels of one labelled conn log (Background rows dropped)."""

    path: str
    name: str
    X: np.ndarray
    y: np.ndarray
    detail: list[str]
    sha256: str
    rows: int
    bad_lines: int
    labels: dict[str, int] = field(default_factory=dict)


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def capture_name(path: str | Path) -> str:
    """A readable capture name: the IoT-23 folder or the file's stem."""
    p = Path(path)
    stem = p.name.split(".")[0]
    if stem in ("conn", "") and p.parent.name:
        return p.parent.name
    return stem


def load_capture(
    path: str | Path,
    config: FeatureConfig,
    progress: Callable[[int], None] | None = None,
) -> CaptureData:
    """Stream one labelled conn log through a fresh extractor."""
    reader = read_conn_log(path)
    fx = FeatureExtractor(config)
    rows: list[list[float]] = []
    ys: list[int] = []
    detail: list[str] = []
    labels: Counter[str] = Counter()
    n = 0
    for rec in reader:
        vec = fx.transform_one(rec)
        n += 1
        if progress is not None and n % 2000 == 0:
            progress(2000)
        labels[f"{rec.label}/{rec.detailed_label or '-'}"] += 1
        mal = rec.is_malicious
        if mal is None:
            continue
        rows.append(vec)
        ys.append(int(mal))
        detail.append(rec.detailed_label or ("-" if not mal else "Malicious"))
    if progress is not None:
        progress(n % 2000)
    reader.stats.raise_if_damaged()
    if not rows:
        raise ConfigError(
            f"{path}: no rows labelled Benign or Malicious; training needs a labelled conn log "
            "(IoT-23 conn.log.labeled or Stratosphere labelled logs)"
        )
    X = np.asarray(rows, dtype=np.float32)
    return CaptureData(
        path=str(path),
        name=capture_name(path),
        X=X,
        y=np.asarray(ys, dtype=np.int64),
        detail=detail,
        sha256=sha256_file(path),
        rows=n,
        bad_lines=reader.stats.bad_lines,
        labels=dict(labels),
    )


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
    metadata: dict[str, Any]


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
    caps: list[CaptureData] = []
    for i, p in enumerate(paths):
        if progress:
            progress(f"features {capture_name(p)}", i, len(paths))
        caps.append(load_capture(p, config))
    if progress:
        progress("features", len(paths), len(paths))
    parts: dict[str, list[np.ndarray]] = {"Xtr": [], "ytr": [], "gtr": [], "Xca": [], "yca": []}
    test: list[tuple[CaptureData, slice]] = []
    for ci, cap in enumerate(caps):
        tr, ca, te = time_split(len(cap.y))
        parts["Xtr"].append(cap.X[tr])
        parts["ytr"].append(cap.y[tr])
        parts["gtr"].append(ci * 100000 + np.arange(tr.stop - tr.start) // GROUP_BLOCK)
        parts["Xca"].append(cap.X[ca])
        parts["yca"].append(cap.y[ca])
        test.append((cap, te))
    Xtr = np.vstack(parts["Xtr"])
    ytr = np.concatenate(parts["ytr"])
    gtr = np.concatenate(parts["gtr"])
    Xca = np.vstack(parts["Xca"])
    yca = np.concatenate(parts["yca"])
    if len(np.unique(ytr)) < 2:
        raise ConfigError(
            "the training rows hold only one class; pass captures with both benign and "
            "malicious connections"
        )
    if progress:
        progress("ensemble", 0, 1)
    t0 = time.perf_counter()
    ens = HamadEnsemble(n_estimators=n_estimators, random_state=seed).fit(Xtr, ytr, groups=gtr)
    fit_s = time.perf_counter() - t0
    if progress:
        progress("ensemble", 1, 1)
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / "model.onnx"
    ens.export_onnx(str(onnx_path))

    benign_cal = ens.predict_proba(Xca[yca == 0])
    thr = AdaptiveThreshold(mode="adaptive", target_fpr=target_fpr).fit(benign_cal)

    metrics: dict[str, Any] = {"per_capture": {}, "threshold_used": thr.threshold_}
    all_y, all_s = [], []
    for cap, te in test:
        s = ens.predict_proba(cap.X[te])
        y = cap.y[te]
        all_y.append(y)
        all_s.append(s)
        m = binary_metrics(y, s, thr.threshold_)
        m["rows"] = int(len(y))
        metrics["per_capture"][cap.name] = m
    y_all, s_all = np.concatenate(all_y), np.concatenate(all_s)
    metrics["overall"] = binary_metrics(y_all, s_all, thr.threshold_)
    plots = _heldout_plots(y_all, s_all, thr.threshold_, out / "heldout")

    schema = FeatureSchema.from_config(config)
    benign_tr = Xtr[ytr == 0]
    sd = benign_tr.std(axis=0)
    version = name or f"{out.name}-{_dt.date.today():%Y.%m.%d}"
    meta: dict[str, Any] = {
        "format": METADATA_FORMAT,
        "version": version,
        "hamad_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "members": list(ens.members),
        "fusion": ens.fusion,
        "features": {
            "names": schema.names,
            "descriptions": schema.descriptions,
            "config": config.to_dict(),
            "hash": schema.hash,
        },
        "explain": {
            "mean": [round(float(v), 6) for v in benign_tr.mean(axis=0)],
            "scale": [round(float(v), 6) for v in np.where(sd > 1e-6, sd, 1.0)],
            "importance": [round(float(v), 6) for v in ens.feature_importances()],
        },
        "threshold": thr.to_dict(),
        "model_sha256": file_sha256(onnx_path),
        "training": {
            "files": [
                {
                    "path": Path(c.path).name,
                    "capture": c.name,
                    "sha256": c.sha256,
                    "lines_read": c.rows,
                    "labelled_rows": int(len(c.y)),
                    "malformed_lines": c.bad_lines,
                    "labels": c.labels,
                }
                for c in caps
            ],
            "split": {
                "method": "time-ordered per capture",
                "fractions": {
                    "train": SPLIT_FRACTIONS[0],
                    "calibration": SPLIT_FRACTIONS[1],
                    "test": SPLIT_FRACTIONS[2],
                },
                "train_rows": int(len(ytr)),
                "train_malicious": int(ytr.sum()),
                "calibration_benign_rows": int((yca == 0).sum()),
                "test_rows": int(sum(len(c.y[te]) for c, te in test)),
            },
            "hyperparameters": {
                "n_estimators": n_estimators,
                "seed": seed,
                "target_fpr": target_fpr,
                "n_folds": ens.n_folds,
            },
            "fit_seconds": round(fit_s, 2),
        },
        "metrics": {"heldout_test": metrics, "plots": plots},
        "libraries": library_versions(),
    }
    (out / "metadata.json").write_text(json.dumps(meta, indent=1) + "\n")
    return TrainResult(out, meta)
