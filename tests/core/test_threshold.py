"""Adaptive threshold: calibration, adaptation direction, bounds, fixed mode, override."""

from __future__ import annotations

import numpy as np
import pytest

from hamad_plugin.core.threshold import AdaptiveThreshold
from hamad_plugin.errors import ConfigError, DataError, NotFittedError


def benign(n: int = 20000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).beta(2, 20, n)


def test_calibration_hits_target_fpr_on_fresh_benign_data() -> None:
    thr = AdaptiveThreshold(mode="fixed", target_fpr=1e-2).fit(benign())
    fresh = benign(seed=1)
    fpr = float(np.mean(fresh >= thr.threshold_))
    assert 0.005 < fpr < 0.02


def test_fixed_mode_never_moves() -> None:
    thr = AdaptiveThreshold(mode="fixed", target_fpr=1e-3).fit(benign())
    t0 = thr.current()
    thr.decide(benign(seed=2) + 0.3)
    assert thr.current() == t0


def test_adaptive_rises_on_noisier_network_and_falls_on_quieter() -> None:
    cal = benign()
    up = AdaptiveThreshold(target_fpr=1e-3, min_samples=500).fit(cal)
    t0 = up.current()
    up.decide(np.clip(benign(seed=3) + 0.15, 0, 1))
    assert up.current() > t0 + 0.1
    down = AdaptiveThreshold(target_fpr=1e-3, min_samples=500).fit(cal)
    down.decide(benign(seed=4) * 0.3)
    assert down.current() < t0


def test_adaptation_is_bounded() -> None:
    thr = AdaptiveThreshold(target_fpr=1e-3, min_samples=100, upper=0.6).fit(benign())
    thr.decide(np.ones(50000))  # a flood of maximal scores
    assert thr.current() == pytest.approx(0.6)
    lo, _ = thr.bounds
    thr2 = AdaptiveThreshold(target_fpr=1e-3, min_samples=100).fit(benign())
    thr2.decide(np.zeros(50000))
    assert thr2.current() >= thr2.bounds[0] - 1e-12


def test_no_adaptation_before_min_samples() -> None:
    thr = AdaptiveThreshold(min_samples=10000).fit(benign())
    t0 = thr.current()
    thr.decide(np.ones(500))
    assert thr.current() == t0


def test_override_and_roundtrip() -> None:
    thr = AdaptiveThreshold(target_fpr=1e-3).fit(benign())
    again = AdaptiveThreshold.from_dict(thr.to_dict())
    assert again.threshold_ == thr.threshold_ and again.mode == "adaptive"
    pinned = AdaptiveThreshold.from_dict(thr.to_dict(), override=0.9, mode="fixed")
    assert pinned.current() == 0.9
    flags, used = pinned.decide(np.array([0.89, 0.9, 0.95]))
    assert flags.tolist() == [False, True, True] and set(used.tolist()) == {0.9}


def test_errors() -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        AdaptiveThreshold().current()
    with pytest.raises(ConfigError, match="mode"):
        AdaptiveThreshold(mode="magic").fit(benign())
    with pytest.raises(DataError, match="benign"):
        AdaptiveThreshold().fit(np.array([np.nan]))
    with pytest.raises(ConfigError, match="unusable"):
        AdaptiveThreshold.from_dict({"mode": "fixed"})
