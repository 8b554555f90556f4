"""Novelty that knows the site: distance to how this network uses each service."""

from __future__ import annotations

import numpy as np

from hamad_plugin.scoring.site_novelty import MIN_ROWS, SiteNovelty, service_classes


def _site(rng: np.random.Generator, n: int) -> np.ndarray:
    """HTTPS sessions of one site: about 8 log-bytes out, 10 back, flags that never change."""
    return np.column_stack([rng.normal(8, 0.5, n), rng.normal(10, 0.5, n), np.ones(n)])


def test_unlike_this_site_scores_high_and_like_it_scores_low() -> None:
    rng = np.random.default_rng(0)
    nov = SiteNovelty(3)
    nov.learn(["tcp/443"] * 400, _site(rng, 400))
    assert not nov.ready
    nov.freeze()
    assert nov.ready
    usual = nov.score(["tcp/443"] * 200, _site(rng, 200))
    assert np.median(usual) < 0.3 and np.mean(usual > 0.5) < 0.05
    odd = nov.score(["tcp/443"], np.array([[2.0, 2.0, 0.0]]))  # tiny, empty, other flags
    assert odd[0] > 0.8


def test_services_not_learned_have_no_site_novelty() -> None:
    rng = np.random.default_rng(1)
    nov = SiteNovelty(3)
    nov.learn(["tcp/443"] * 400 + ["udp/123"] * (MIN_ROWS - 1), _site(rng, 400 + MIN_ROWS - 1))
    nov.freeze()
    out = nov.score(["udp/123", "tcp/22", "tcp/443"], _site(rng, 3))
    assert np.isnan(out[0]) and np.isnan(out[1]) and np.isfinite(out[2])


def test_service_classes_pool_high_ports() -> None:
    assert service_classes(["tcp", "udp", "tcp"], [443, 53, 51234]) == [
        "tcp/443",
        "udp/53",
        "tcp/high",
    ]
