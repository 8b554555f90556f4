"""Shared fixtures: repo paths, bundled samples, a small ensemble trained once per session."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
NJRAT = SAMPLES / "njrat-ctu-botnet-230-1.first1000.conn.log.labeled.gz"
CTU42 = SAMPLES / "ctu-normal-42-day2.conn.log.labeled.gz"
ZEEK82_TSV = SAMPLES / "zeek82-slips-cc-periodic-2s.conn.log"
ZEEK82_JSON = SAMPLES / "zeek82-slips-cc-periodic-2s.conn.json.log"


def shared_datasets() -> Path | None:
    """../shared/datasets (or $HAMAD_DATA_ROOT) when present; tests using it say so."""
    env = os.environ.get("HAMAD_DATA_ROOT")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "datasets"]:
        if cand.is_dir():
            return cand
    return None


@pytest.fixture(scope="session")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real model (20 trees) trained on the bundled labelled samples (~10 s)."""
    pytest.importorskip("sklearn")
    pytest.importorskip("xgboost")
    from hamad_plugin.train import train_model

    out = tmp_path_factory.mktemp("models") / "small"
    train_model([NJRAT, CTU42], out, n_estimators=20, seed=0, name="small-test")
    return out


@pytest.fixture(scope="session")
def sample_matrix() -> tuple[np.ndarray, np.ndarray]:
    """Feature rows and labels of the CTU-42 sample (real traffic)."""
    from hamad_plugin.features import FeatureExtractor
    from hamad_plugin.ingest import read_conn_log

    recs = [r for r in read_conn_log(CTU42)]
    X = FeatureExtractor().transform(recs)
    y = np.array([r.is_malicious for r in recs])
    keep = np.array([v is not None for v in y])
    return X[keep], y[keep].astype(int)
