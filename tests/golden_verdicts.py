"""Verdicts of the scoring path before it was made fast (issue 15), and the driver that made them.

``tests/data/golden/<name>.npz`` holds, for a simulated capture, every verdict the
path computed at commit eed5c87 (before the fast path): score, threshold,
flags, explanation, attention weights and member scores. ``tests/scoring/test_pipeline.py``
drives today's code through the same three runs and requires the same verdicts.

Runs: ``replay`` (batches of 1024, no learning, as ``hamad replay``),
``learn`` (the same with a 10-minute learning period, as ``hamad replay
--learn 10min``) and ``serve`` (Zeek-sized batches of 1 to 300 records with
learning on, every fifth batch scored as interim summaries first, as
``hamad serve`` does).

Regenerate (only when a change is *meant* to change verdicts, and say so in
the commit): ``python tests/golden_verdicts.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from hamad_plugin.core.digest import file_sha256

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "data" / "golden"
#: The simulated capture (written by the test; its sha256 is stored with the verdicts).
SIMULATED = {"seed": 3, "connections": 12000, "hosts": 40, "duration": "1h"}
RUNS = ("replay", "learn", "serve")


def serve_batches(n: int, seed: int = 7) -> Iterator[tuple[int, int, bool]]:
    """(start, end, interim) of Zeek-sized batches; every fifth is first scored as interim."""
    rng = np.random.default_rng(seed)
    i = k = 0
    while i < n:
        j = min(n, i + int(rng.integers(1, 301)))
        if k % 5 == 4:
            yield i, j, True
        yield i, j, False
        i, k = j, k + 1


def pipeline(run: str) -> Any:
    from hamad_plugin.core.settings import LearningSettings
    from hamad_plugin.scoring.pipeline import Pipeline

    # The goldens were made before the learner held the threshold at the calibration by
    # default (learning.adapt_threshold, commit ab07488): they are today's adapt_threshold=true.
    learning = None if run == "replay" else LearningSettings(period="10min", adapt_threshold=True)
    return Pipeline.load(None, learning=learning)


Verdicts = dict[str, np.ndarray]


def from_verdicts(vs: list[Any], names: list[str]) -> Verdicts:
    """The arrays stored per run, from Verdict objects."""
    index = {n: i for i, n in enumerate(names)}
    k = max((len(v.top_features) for v in vs), default=0)
    top = np.full((len(vs), k), -1, np.int16)
    top_val = np.zeros((len(vs), k), np.float32)
    for r, v in enumerate(vs):
        for c, (name, val) in enumerate(v.top_features):
            top[r, c] = index[name]
            top_val[r, c] = val
    return {
        "uid": np.asarray([v.uid for v in vs]),
        "score": np.asarray([v.score for v in vs], np.float64),
        "threshold": np.asarray([v.threshold for v in vs], np.float64),
        "anomalous": np.asarray([v.anomalous for v in vs], bool),
        "learning": np.asarray([v.learning for v in vs], bool),
        "familiar": np.asarray([v.familiar for v in vs], bool),
        "interim": np.asarray([v.interim for v in vs], bool),
        "top": top,
        "top_val": top_val,
        "weights": np.asarray([list(v.weights.values()) for v in vs], np.float32),
        "members": np.asarray([list(v.member_scores.values()) for v in vs], np.float32),
    }


def run_records(
    run: str, path: Path, score: Callable[[Any, list[Any], bool], list[Any]]
) -> Verdicts:
    """Drive one run over ``path`` through ``score(pipe, records, update)``."""
    from hamad_plugin.offline.ingest import read_conn_log

    recs = list(read_conn_log(path))
    pipe = pipeline(run)
    out: list[Any] = []
    if run == "serve":
        for i, j, interim in serve_batches(len(recs)):
            vs = score(pipe, recs[i:j], not interim)
            for v in vs:
                v.interim = interim
            out += vs
    else:
        for i in range(0, len(recs), 1024):
            out += score(pipe, recs[i : i + 1024], True)
    return from_verdicts(out, pipe.model.feature_names)


def _old_score(pipe: Any, recs: list[Any], update: bool) -> list[Any]:
    return list(pipe.score(recs, update_state=update))


def captures(tmp: Path) -> dict[str, Path]:
    """The captures the goldens cover that exist here (the simulated one is written to tmp)."""
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import simulate_to

    sim = tmp / "sim.conn.log"
    simulate_to(sim, **SIMULATED)
    # Only simulated input: verdicts computed from the shared datasets are logs made
    # from them, which this repository does not hold.
    return {"sim": sim}


def main() -> None:
    import tempfile

    GOLDEN.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as td:
        for name, path in captures(Path(td)).items():
            arrays: dict[str, np.ndarray] = {"input_sha256": np.asarray(file_sha256(path))}
            for run in RUNS:
                for k, v in run_records(run, path, _old_score).items():
                    arrays[f"{run}.{k}"] = v
            np.savez_compressed(GOLDEN / f"{name}.npz", **arrays)  # type: ignore[arg-type]
            print(f"wrote {GOLDEN / name}.npz ({len(arrays['replay.score'])} verdicts per run)")


if __name__ == "__main__":
    main()
