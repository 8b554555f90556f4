"""Shared fixtures: repo paths, simulated conn logs, a small ensemble trained once per session.

The repository ships no third-party captures. Tests that need conn logs use the
simulator's (``hamad simulate``), written to a session temp dir; tests that need real
captures read ``../shared/datasets`` via :func:`shared_datasets` and skip without it.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from zeek_install import ZEEK_INSTALL

from hamad_plugin.research.datasets import default_data_root

REPO = Path(__file__).resolve().parent.parent
#: Connections in each simulated capture (training reads them row by row: keep it small).
SIM_ROWS = 3000


def pytest_report_header() -> str:
    """Say which Zeek the real-Zeek tests run on (or why they skip)."""
    z = ZEEK_INSTALL
    if z is None:
        return "zeek: none found (PATH, zeek-config, /usr/local/zeek, /opt/zeek*): zeek tests skip"
    return f"zeek: {z.version} at {z.zeek} (found by {z.found_by})"


def pytest_configure(config: pytest.Config) -> None:
    """The found Zeek's bin first on PATH: btest, zkg, zeek-cut and zeek-config from it too."""
    if ZEEK_INSTALL is not None:
        os.environ["PATH"] = f"{ZEEK_INSTALL.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"


def shared_datasets() -> Path | None:
    """../shared/datasets (or $HAMAD_DATA_ROOT) when present; tests using it say so."""
    env = os.environ.get("HAMAD_DATA_ROOT")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "datasets"]:
        if cand.is_dir():
            return cand
    return None


#: The shared datasets where the product itself looks for them (``default_data_root``).
DATA_ROOT = default_data_root()
#: Skips a test that reads them when they are absent.
needs_data = pytest.mark.skipif(
    DATA_ROOT is None or not DATA_ROOT.is_dir(),
    reason="shared datasets not found: set HAMAD_DATA_ROOT or use <repo>/../shared/datasets",
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for peers the tests start)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def simulate_to(path: Path, fmt: str = "tsv", **kw: Any) -> dict[str, Any]:
    """Write a simulated conn log to ``path``; return its ground truth."""
    from hamad_plugin.research.simulate import make_config, simulate

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        return simulate(make_config(fmt=fmt, **kw), fh).truth


@dataclass(frozen=True)
class SimLogs:
    """Two labelled simulated captures (different seeds and networks), A also as JSON."""

    tsv: Path
    json: Path
    other: Path
    truth: dict[str, Any]
    rows: int = SIM_ROWS


@pytest.fixture(scope="session")
def sim_logs(tmp_path_factory: pytest.TempPathFactory) -> SimLogs:
    d = tmp_path_factory.mktemp("sim")
    truth = simulate_to(d / "sim-a.conn.log", seed=1, connections=SIM_ROWS, hosts=16)
    simulate_to(d / "sim-a.conn.json.log", "json", seed=1, connections=SIM_ROWS, hosts=16)
    simulate_to(d / "sim-b.conn.log", seed=2, connections=SIM_ROWS, hosts=24, duration="45m")
    (d / "sim-a.truth.json").write_text(json.dumps(truth))
    return SimLogs(d / "sim-a.conn.log", d / "sim-a.conn.json.log", d / "sim-b.conn.log", truth)


@pytest.fixture(scope="session")
def small_model(tmp_path_factory: pytest.TempPathFactory, sim_logs: SimLogs) -> Path:
    """A small real model (20 trees) trained on the two simulated captures (a few seconds)."""
    pytest.importorskip("sklearn")
    pytest.importorskip("xgboost")
    from hamad_plugin.offline.train import train_model

    out = tmp_path_factory.mktemp("models") / "small"
    train_model([sim_logs.tsv, sim_logs.other], out, n_estimators=20, seed=0, name="small-test")
    return out


@pytest.fixture(scope="session")
def sample_matrix(sim_logs: SimLogs) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows and labels of simulated capture A (every row is labelled)."""
    from hamad_plugin.core.features import FeatureExtractor
    from hamad_plugin.offline.ingest import read_conn_log

    recs = list(read_conn_log(sim_logs.tsv))
    X = FeatureExtractor().transform(recs)
    y = np.array([int(bool(r.is_malicious)) for r in recs])
    return X, y
