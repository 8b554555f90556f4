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
    thr = AdaptiveThreshold(target_fpr=1e-3, min_samples=100).fit(benign())
    thr.upper = thr.threshold_ + 0.02
    thr.decide(np.full(50000, thr.threshold_ - 0.001))  # a flood just under the threshold
    assert thr.current() == pytest.approx(thr.threshold_ + 0.02)
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


def test_a_flagged_burst_does_not_make_the_threshold_deaf() -> None:
    """A flood the threshold flags never lifts it: a scan after it meets the same threshold."""
    thr = AdaptiveThreshold(target_fpr=1e-3, min_samples=500).fit(benign())
    thr.decide(benign(seed=5))
    before = thr.current()
    flags, _ = thr.decide(np.full(30000, 0.97))  # the flood: flagged throughout
    assert flags.all()
    assert thr.current() == pytest.approx(before, abs=0.01)
    thr.decide(benign(n=3000, seed=6))  # an hour of ordinary traffic
    scan = np.full(50, before + 0.05)
    flags, used = thr.decide(scan)
    assert flags.all() and used.max() < before + 0.02


def test_what_the_caller_calls_malicious_does_not_move_it_either() -> None:
    thr = AdaptiveThreshold(target_fpr=1e-3, min_samples=500).fit(benign())
    t0 = thr.current()
    high = np.full(20000, thr.threshold_ - 0.01)  # under the threshold, but not clean
    thr.decide(high, learn_from=np.zeros(len(high), dtype=bool))
    assert thr.current() == t0


def test_a_calibration_too_small_for_its_target_says_so() -> None:
    from hamad_plugin.core.manifest import ThresholdInfo

    rng = np.random.default_rng(0)
    small = ThresholdInfo.from_threshold(
        AdaptiveThreshold(target_fpr=1e-4).fit(rng.uniform(size=966))
    )
    note = small.resolution_note()
    assert note is not None and "highest of 966" in note and "at least 10000" in note
    enough = ThresholdInfo.from_threshold(
        AdaptiveThreshold(target_fpr=1e-3).fit(rng.uniform(size=1000))
    )
    assert enough.resolution_note() is None
