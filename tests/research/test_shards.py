"""``hamad shards``: scoring split by originator, compared with one worker."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from conftest import SimLogs

from hamad_plugin.cli import cli
from hamad_plugin.core.settings import load_settings
from hamad_plugin.research.shards import Labels, compare, score_file, shard_of


def _pipeline_factory(model: Path) -> Callable[[], Any]:
    from hamad_plugin.core.settings import with_overrides
    from hamad_plugin.scoring.pipeline import Pipeline

    s = with_overrides(load_settings(None), model=str(model))
    return lambda: Pipeline.from_settings(s, learn=False)


def _one_originator(src: Path, dst: Path) -> str:
    """``src`` cut down to its busiest originator's rows (header kept)."""
    lines = src.read_text().splitlines(keepends=True)
    rows = [ln for ln in lines if not ln.startswith("#")]
    host = Counter(ln.split("\t")[2] for ln in rows).most_common(1)[0][0]
    dst.write_text("".join(ln for ln in lines if ln.startswith("#") or ln.split("\t")[2] == host))
    return host


def test_shard_of_is_stable_and_spreads_hosts() -> None:
    hosts = [f"10.0.{i // 256}.{i % 256}" for i in range(2000)]
    first = [shard_of(h, 4) for h in hosts]
    assert first == [shard_of(h, 4) for h in hosts]
    counts = Counter(first)
    assert set(counts) == {0, 1, 2, 3}
    assert min(counts.values()) > 400  # about 500 each


def test_every_connection_is_scored_once_on_some_shard(
    sim_logs: SimLogs, small_model: Path
) -> None:
    make = _pipeline_factory(small_model)
    labels = Labels()
    one = score_file(sim_logs.tsv, make, 1, 256, labels)
    split = score_file(sim_logs.tsv, make, 3, 256)
    assert len(one.anomalous) == len(split.anomalous) == sim_logs.rows
    assert set(one.anomalous) == set(split.anomalous)
    c = compare(str(sim_logs.tsv), one, split, 3, labels)
    assert c.connections == sim_logs.rows
    assert 0.0 < c.agreement <= 1.0
    assert sum(n for n, _, _ in c.per_label.values()) == len(labels.name)


def test_one_originator_scores_the_same_on_any_number_of_shards(
    sim_logs: SimLogs, small_model: Path, tmp_path: Path
) -> None:
    """All of one host's connections land on one shard: nothing may change."""
    log = tmp_path / "one-host.conn.log"
    _one_originator(sim_logs.tsv, log)
    make = _pipeline_factory(small_model)
    one = score_file(log, make, 1, 64)
    split = score_file(log, make, 4, 64)
    assert len(one.score) > 50
    assert one.score == split.score
    assert one.anomalous == split.anomalous


def test_cli_prints_the_comparison(sim_logs: SimLogs, small_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "shards.json"
    args = ["shards", str(sim_logs.tsv), "--model", str(small_model), "--shards", "2",
            "--json-out", str(out)]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert "agree" in res.output
    (row,) = json.loads(out.read_text())
    assert row["shards"] == 2 and row["connections"] == sim_logs.rows
