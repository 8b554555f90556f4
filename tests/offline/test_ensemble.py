"""The fusion: the gate trained out of capture, and the choice that must not lose to a member."""

from __future__ import annotations

import numpy as np
import pytest

from hamad_plugin.offline.ensemble import (
    AttentionGate,
    _choose_fusion,
    _group_recall,
    protocol_columns,
)

MEMBERS = ("rf", "xgb", "novelty")


def _oof(seed: int = 0, n: int = 6000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Out-of-capture scores where RF separates, XGBoost is confidently wrong on a third of
    the attacks (what a capture it never saw does to it) and novelty is noise."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int64)
    rf = np.where(y == 1, rng.uniform(0.6, 1.0, n), rng.uniform(0.0, 0.4, n))
    xgb = np.where(y == 1, rng.uniform(0.7, 1.0, n), rng.uniform(0.0, 0.2, n))
    missed = (y == 1) & (rng.random(n) < 0.33)
    xgb[missed] = rng.uniform(0.0, 0.05, int(missed.sum()))
    nov = rng.uniform(0.0, 1.0, n)
    X = rng.normal(size=(n, 4))
    return X, np.column_stack([rf, xgb, nov]), y


def test_the_shipped_fusion_is_the_best_candidate_out_of_capture() -> None:
    X, S, y = _oof()
    gate = AttentionGate().fit(X, S, y)
    chosen, name, evidence = _choose_fusion(gate, X, S, y, MEMBERS, fpr=1e-3)
    assert set(evidence) == {"attention", "mean", "rf", "xgb"}
    fused = (chosen.weights(X, S) * S).sum(axis=1)
    best = max(v["recall"] for v in evidence.values())
    assert _group_recall(y, fused, None, 1e-3) == pytest.approx(best, abs=1e-3)
    assert evidence[name]["recall"] >= evidence["xgb"]["recall"] + 0.2
    assert name != "xgb"


def test_a_constant_gate_gives_every_row_the_same_weights() -> None:
    X, S, _ = _oof(n=50)
    w = AttentionGate.constant(X.shape[1], np.array([0.0, 1.0, 0.0])).weights(X, S)
    assert np.allclose(w, [[0.0, 1.0, 0.0]] * 50, atol=1e-9)
    mean = AttentionGate.constant(X.shape[1], np.ones(3)).weights(X, S)
    assert np.allclose(mean, 1 / 3)


def test_the_gate_only_looks_at_its_columns() -> None:
    X, S, y = _oof(n=2000)
    X[:, 2] = y * 3.0  # a feature that would give the labels away
    gate = AttentionGate(columns=[0]).fit(X, S, y)
    assert np.all(gate.coef_[1:4] == 0.0) and np.any(gate.coef_[0] != 0.0)


def test_protocol_columns_are_the_transport_and_service_indicators() -> None:
    names = ["log_duration", "proto_tcp", "proto_udp", "service_dns", "src_10s_log_count"]
    assert protocol_columns(names) == [1, 2, 3]
