"""The split code can never put a row in both train and test.

Unit checks on synthetic labels, then the real protocols: row indices are
disjoint and cover the data, and rows whose content is unique in the file
(hash of features + label) never appear on both sides.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA_ROOT as ROOT
from conftest import needs_data

from hamad_plugin.errors import ConfigError
from hamad_plugin.research.datasets import load_known_captures, load_unsw_nb15
from hamad_plugin.research.datasets.common import RawTable
from hamad_plugin.research.evaluation.protocols import nsl_kdd_protocols
from hamad_plugin.research.evaluation.splits import (
    leave_one_family_out,
    leave_one_group_out,
    stratified_holdout,
    stratified_kfold,
    stratified_subsample,
)


def _assert_partition(tr: np.ndarray, te: np.ndarray, n: int) -> None:
    assert len(np.intersect1d(tr, te)) == 0
    assert len(tr) + len(te) == n
    np.testing.assert_array_equal(np.union1d(tr, te), np.arange(n))


def test_holdout_is_disjoint_stratified_and_seeded() -> None:
    y = np.array([0] * 80 + [1] * 15 + [2] * 5)
    tr, te = stratified_holdout(y, 0.2, seed=3)
    _assert_partition(tr, te, len(y))
    assert Counter(y[te].tolist()) == {0: 16, 1: 3, 2: 1}
    tr2, te2 = stratified_holdout(y, 0.2, seed=3)
    np.testing.assert_array_equal(te, te2)
    assert not np.array_equal(te, stratified_holdout(y, 0.2, seed=4)[1])
    with pytest.raises(ConfigError):
        stratified_holdout(y, 1.0, 0)


def test_kfold_each_row_tested_exactly_once() -> None:
    y = np.array([0] * 50 + [1] * 23 + [2] * 2)
    seen = np.zeros(len(y), dtype=int)
    for tr, te in stratified_kfold(y, 5, seed=0):
        _assert_partition(tr, te, len(y))
        seen[te] += 1
        assert 0 < (y[te] == 1).sum() <= 5
    assert (seen == 1).all()


def test_leave_one_group_out() -> None:
    g = np.array(["a", "b", "a", "c", "b"])
    folds = list(leave_one_group_out(g))
    assert [f[0] for f in folds] == ["a", "b", "c"]
    for name, tr, te in folds:
        _assert_partition(tr, te, len(g))
        assert set(g[te]) == {name} and name not in set(g[tr])
    with pytest.raises(ConfigError):
        list(leave_one_group_out(["x", "x"]))


def test_leave_one_family_out_never_trains_on_the_held_out_family() -> None:
    fam = np.array(["BENIGN"] * 10 + ["DoS"] * 4 + ["DDoS"] * 3 + ["PortScan"] * 2 + ["Bot"])
    folds = list(leave_one_family_out(fam, "BENIGN", 0.2, seed=1, order=("DDoS", "DoS", "X")))
    # the given order first (absent "X" skipped), then the rest sorted; BENIGN never a fold
    assert [f[0] for f in folds] == ["DDoS", "DoS", "Bot", "PortScan"]
    benign_test = None
    for name, tr, te in folds:
        _assert_partition(tr, te, len(fam))
        assert name not in set(fam[tr].tolist())
        np.testing.assert_array_equal(np.flatnonzero(fam == name), te[fam[te] == name])
        assert set(fam[te].tolist()) == {name, "BENIGN"}
        bt = te[fam[te] == "BENIGN"]
        assert len(bt) == 2  # 20 % of 10 BENIGN rows
        if benign_test is None:
            benign_test = bt
        np.testing.assert_array_equal(bt, benign_test)  # the same BENIGN test rows every fold
        # every other row trains: the other families and the remaining 8 BENIGN
        assert len(tr) == len(fam) - (fam == name).sum() - 2
    assert benign_test is not None
    assert not np.array_equal(
        benign_test,
        next(leave_one_family_out(fam, "BENIGN", 0.2, seed=2))[2][:2],
    )
    with pytest.raises(ConfigError, match="attack families"):
        list(leave_one_family_out(fam[:14], "BENIGN", 0.2, 0))
    with pytest.raises(ConfigError, match="BENIGN"):
        list(leave_one_family_out(fam[9:], "BENIGN", 0.2, 0))


def test_cicids_improved_protocols_on_synthetic_rows(tmp_path: Path) -> None:
    from synth_datasets import write_cicids_improved

    from hamad_plugin.research.evaluation.protocols import cicids_improved_protocols

    d = write_cicids_improved(tmp_path, n=100)
    cv, lofo = cicids_improved_protocols(d, seed=0, n_splits=3)
    assert cv.layout == "standard" and lofo.layout == "held-out-family"
    assert "class-balanced" in cv.note and cv.class_names == list(cv.class_family)
    assert list(cv.class_family)[0] == "BENIGN" and cv.class_family["Portscan"] == "PortScan"
    tested = [f.test_index for f in cv.make_folds() if f.test_index is not None]
    np.testing.assert_array_equal(np.sort(np.concatenate(tested)), np.arange(100))
    folds = list(lofo.make_folds())
    assert lofo.n_folds == 4
    assert [f.name for f in folds] == ["DoS", "DDoS", "PortScan", "Brute Force"]
    labels = {"DoS": {"DoS Hulk"}, "DDoS": {"DDoS"}, "Brute Force": {"SSH-Patator"},
              "PortScan": {"Portscan", "Infiltration - Portscan"}}  # fmt: skip
    for f in folds:
        assert f.train_index is not None and f.test_index is not None
        assert len(np.intersect1d(f.train_index, f.test_index)) == 0
        (t,) = f.tests
        assert set(t.category.tolist()) == labels[f.name] | {"BENIGN"}
        assert not labels[f.name] & set(f.category.tolist())  # unseen in training
        assert (t.y == (t.category != "BENIGN")).all() and int((t.y == 0).sum()) == 10
        assert f.X.shape[1] == t.X.shape[1] and "Protocol=6" in f.feature_names


def test_subsample_keeps_every_class() -> None:
    y = np.array([0] * 990 + [1] * 10)
    idx = stratified_subsample(y, 100, 0)
    assert len(idx) == 100 and set(y[idx].tolist()) == {0, 1}
    assert len(np.unique(idx)) == len(idx)


def _unique_hashes_disjoint(table: RawTable, tr: np.ndarray, te: np.ndarray) -> int:
    """Rows whose content is unique in the table must not be on both sides; returns #unique."""
    h = table.row_hashes()
    counts = Counter(h.tolist())
    unique = np.asarray([counts[x] == 1 for x in h])
    both = set(h[tr][unique[tr]].tolist()) & set(h[te][unique[te]].tolist())
    assert not both, f"{len(both)} rows on both sides"
    return int(unique.sum())


@pytest.mark.slow
@needs_data
def test_real_nsl_kdd_holdout_protocol_is_disjoint() -> None:
    assert ROOT is not None
    # tests capped: this checks the KDDTrain+ 80/20 split, the official test files are separate
    protocols = {p.key: p for p in nsl_kdd_protocols(ROOT / "nsl-kdd", seed=0, max_test=50)}
    hold = protocols["nsl-kdd-holdout"]
    print("files:", [s["file"] for s in hold.sources])
    (fold,) = list(hold.make_folds())
    assert fold.train_index is not None and fold.test_index is not None
    _assert_partition(fold.train_index, fold.test_index, 125_973)
    assert len(fold.y) == len(fold.train_index) and len(fold.tests[0].y) == len(fold.test_index)
    # the encoded training rows are exactly the rows at train_index (no leakage via take)
    from hamad_plugin.research.datasets import load_nsl_kdd

    full = load_nsl_kdd(ROOT / "nsl-kdd", "train")
    np.testing.assert_array_equal(fold.y, full.y[fold.train_index])
    np.testing.assert_array_equal(fold.X[:, :38], full.numeric[fold.train_index].astype(np.float32))
    n_unique = _unique_hashes_disjoint(full, fold.train_index, fold.test_index)
    assert n_unique > 100_000


@pytest.mark.slow
@needs_data
def test_real_unsw_kfold_and_inner_validation_split_are_disjoint() -> None:
    assert ROOT is not None
    t = load_unsw_nb15(ROOT / "unsw-nb15", "test")
    print("file:", t.sources[0]["file"])
    seen = np.zeros(len(t), dtype=int)
    for tr, te in stratified_kfold(t.category, 5, seed=0):
        _assert_partition(tr, te, len(t))
        seen[te] += 1
        # the runner's fit/validation split lives inside the training rows only
        fit, val = stratified_holdout(t.y[tr], 0.2, seed=0)
        assert len(np.intersect1d(tr[fit], te)) == 0 and len(np.intersect1d(tr[val], te)) == 0
        assert len(np.intersect1d(tr[fit], tr[val])) == 0
    assert (seen == 1).all()
    tr, te = next(stratified_kfold(t.category, 5, seed=0))
    _unique_hashes_disjoint(t, tr, te)


@pytest.mark.slow
@needs_data
def test_real_leave_one_capture_out_never_trains_on_the_test_capture() -> None:
    assert ROOT is not None
    tables = load_known_captures(ROOT)
    print("files:", [tb.sources[0]["file"] for tb in tables])
    groups = np.concatenate([tb.groups for tb in tables])
    names = []
    for name, tr, te in leave_one_group_out(groups):
        _assert_partition(tr, te, len(groups))
        assert set(groups[te].tolist()) == {name}
        assert name not in set(groups[tr].tolist())
        names.append(name)
    assert names == ["iot23-34-1", "iot23-4-1", "iot23-5-1", "strat-001", "strat-008", "strat-010"]


def test_protocol_folds_on_synthetic_data_are_disjoint(tmp_path: Path) -> None:
    from synth_datasets import write_data_root

    from hamad_plugin.research.evaluation.protocols import conn_log_protocol, unsw_protocol

    root = write_data_root(tmp_path, n=90)
    p = unsw_protocol(root / "unsw-nb15", seed=0, n_splits=3)
    tested = []
    for fold in p.make_folds():
        assert fold.train_index is not None and fold.test_index is not None
        assert len(np.intersect1d(fold.train_index, fold.test_index)) == 0
        tested.append(fold.test_index)
    np.testing.assert_array_equal(np.sort(np.concatenate(tested)), np.arange(90))
    c = conn_log_protocol(root, seed=0)
    for fold in c.make_folds():
        assert fold.train_index is not None and fold.test_index is not None
        assert len(np.intersect1d(fold.train_index, fold.test_index)) == 0
        assert fold.X_alt is not None and fold.X_alt.shape[0] == fold.X.shape[0]


def test_gate_folds_hold_whole_families_out_and_keep_benign_on_both_sides() -> None:
    from sklearn.model_selection import GroupKFold

    from hamad_plugin.research.evaluation.protocols import out_of_family_groups

    fam = np.array(["BENIGN"] * 600 + ["DoS"] * 300 + ["PortScan"] * 200 + ["Botnet"] * 20)
    groups = out_of_family_groups(fam, "BENIGN")
    assert set(groups.tolist()) == {"DoS", "PortScan", "Botnet"}
    assert (groups[fam != "BENIGN"] == fam[fam != "BENIGN"]).all()
    for tr, va in GroupKFold(n_splits=3).split(fam, groups=groups):
        attacks_tr, attacks_va = set(fam[tr]) - {"BENIGN"}, set(fam[va]) - {"BENIGN"}
        assert attacks_va and not attacks_tr & attacks_va
        assert (fam[tr] == "BENIGN").any() and (fam[va] == "BENIGN").any()
