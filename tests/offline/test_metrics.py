"""Metrics on hand-computed cases; plots write real PNGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hamad_plugin.errors import ConfigError, DataError
from hamad_plugin.offline import metrics as M


def _known() -> tuple[np.ndarray, np.ndarray]:
    # truth: 6 benign, 4 malicious. At threshold 0.5:
    # benign scores 0.1 0.2 0.3 0.4 0.6 0.7 -> tn=4, fp=2
    # malicious     0.45 0.8 0.9 0.95      -> fn=1, tp=3
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.45, 0.8, 0.9, 0.95])
    return y, s


def test_confusion_matrix_layout() -> None:
    y, s = _known()
    cm = M.confusion_matrix(y, (s >= 0.5).astype(int))
    assert cm.tolist() == [[4, 2], [1, 3]]


def test_binary_metrics_known_values() -> None:
    y, s = _known()
    m = M.binary_metrics(y, s, 0.5)
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (4, 2, 1, 3)
    assert m["accuracy"] == pytest.approx(0.7)
    assert m["precision"] == pytest.approx(3 / 5)
    assert m["recall"] == pytest.approx(3 / 4)
    assert m["f1"] == pytest.approx(2 * 0.6 * 0.75 / (0.6 + 0.75))
    assert m["fpr"] == pytest.approx(2 / 6)
    assert (m["n"], m["n_pos"], m["n_neg"]) == (10, 4, 6)
    # ROC-AUC = P(score_mal > score_ben): pairs won = 4 + 6 + 6 + 6 = 22 of 24
    assert m["roc_auc"] == pytest.approx(22 / 24)
    # AP: positives at ranks 1,2,3 (precision 1), then 0.45 at rank 6 (precision 4/6)
    assert m["pr_auc"] == pytest.approx((1 + 1 + 1 + 4 / 6) / 4)


def test_single_class_gives_none_not_crash() -> None:
    m = M.binary_metrics([0, 0, 0], [0.1, 0.2, 0.9], 0.5)
    assert m["roc_auc"] is None and m["pr_auc"] is None
    assert m["recall"] is None and m["f1"] is None
    assert m["fpr"] == pytest.approx(1 / 3)
    m1 = M.binary_metrics([1, 1], [0.1, 0.9], 0.5)
    assert m1["fpr"] is None and m1["recall"] == pytest.approx(0.5)
    assert M.recall_at_fpr([1, 1], [0.1, 0.9], 0.01) is None


def test_matches_sklearn_with_ties() -> None:
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    s = np.round(rng.random(400) + 0.4 * y, 1)  # many ties
    assert M.roc_auc(y, s) == pytest.approx(sk.roc_auc_score(y, s))
    assert M.average_precision(y, s) == pytest.approx(sk.average_precision_score(y, s))


def test_threshold_for_fpr_respects_target_with_float32_ties() -> None:
    rng = np.random.default_rng(1)
    benign = np.round(rng.random(1000), 2).astype(np.float32)
    for target in (0.0, 0.001, 0.01, 0.2):
        thr = M.threshold_for_fpr(benign, target)
        assert float(np.mean(benign >= thr)) <= target
    # and it is tight: the 1% threshold flags something close to 1%
    thr = M.threshold_for_fpr(np.arange(1000, dtype=np.float32), 0.01)
    assert float(np.mean(np.arange(1000) >= thr)) == pytest.approx(0.01)


def test_recall_at_fpr() -> None:
    y, s = _known()
    # FPR 0 -> threshold just above 0.7 -> recall 3/4
    assert M.recall_at_fpr(y, s, 0.0) == pytest.approx(0.75)


def test_bad_inputs_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="0 \\(benign\\) / 1"):
        M.binary_metrics([0, 2], [0.1, 0.2], 0.5)
    with pytest.raises(ValueError, match="expected 2 values"):
        M.binary_metrics([0, 1], [0.1], 0.5)
    with pytest.raises(DataError, match="no rows"):
        M.binary_metrics([], [], 0.5)
    with pytest.raises(DataError, match="both benign"):
        M.roc_curve([1, 1], [0.1, 0.2])
    with pytest.raises(ConfigError):
        M.threshold_for_fpr([0.1], 1.5)


def test_multiclass_metrics() -> None:
    r = M.multiclass_metrics([0, 0, 1, 2], [0, 1, 1, 2], ["a", "b", "c"])
    assert r["accuracy"] == pytest.approx(0.75)
    assert r["per_class"]["b"]["precision"] == pytest.approx(0.5)
    assert r["confusion"] == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]


def test_metrics_module_does_not_import_sklearn() -> None:
    import subprocess
    import sys

    code = "import sys, hamad_plugin.offline.metrics; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_save_eval_plots(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from hamad_plugin.offline.plots import plot_model_bars, save_eval_plots

    y, s = _known()
    paths = save_eval_plots(y, s, 0.5, tmp_path / "p", "known")
    names = sorted(p.name for p in paths)
    assert names == ["confusion_matrix.png", "pr.png", "roc.png", "score_hist.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # single class: no ROC/PR, still a confusion matrix and histogram
    single = save_eval_plots(np.zeros(3), np.array([0.1, 0.2, 0.3]), 0.5, tmp_path / "s", "one")
    assert sorted(p.name for p in single) == ["confusion_matrix.png", "score_hist.png"]
    bar = plot_model_bars({"a": {"f1": 0.9}, "b": {"f1": None}}, tmp_path / "b.png", "t", ["f1"])
    assert bar.stat().st_size > 0
