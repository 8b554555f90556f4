"""The fast path computes what the path before it computed (issue 15).

The verdicts of the scoring path as it was before it was made fast are stored
in ``tests/data/golden`` (see ``tests/golden_verdicts.py``). Today's code is
driven through the same runs, through both entry points (``Pipeline.score``
on records, as ``hamad serve`` calls it, and the columnar reader + scorer
``hamad replay`` uses), and must give the same flags, thresholds and
explanations, with scores, weights and member scores within 1e-6.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from golden_verdicts import (
    GOLDEN,
    RUNS,
    captures,
    from_verdicts,
    pipeline,
    run_records,
)

from hamad_plugin.core.digest import file_sha256

TOL = 1e-6


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return captures(tmp_path_factory.mktemp("golden"))


def _golden(name: str, path: Path) -> Any:
    gold = np.load(GOLDEN / f"{name}.npz")
    if str(gold["input_sha256"]) != file_sha256(path):
        pytest.skip(f"{name}: the capture is not the one the goldens were made from")
    return gold


def _compare(gold: Any, run: str, got: dict[str, np.ndarray]) -> None:
    def want(key: str) -> np.ndarray:
        return np.asarray(gold[f"{run}.{key}"])

    assert len(got["score"]) == len(want("score"))
    assert (got["uid"] == want("uid")).all()
    for key in ("anomalous", "learning", "familiar", "interim"):
        bad = np.flatnonzero(got[key] != want(key))
        assert not bad.size, f"{run}: {key} differs at rows {bad[:10]}"
    for key in ("score", "threshold", "weights", "members", "top_val"):
        diff = np.abs(got[key].astype(np.float64) - want(key).astype(np.float64))
        assert diff.max(initial=0.0) <= TOL, f"{run}: {key} differs by {diff.max():.3g}"
    # The explanation names the same features (a tie between two equal contributions
    # may list them in either order).
    same = (got["top"] == want("top")) | (np.abs(got["top_val"] - want("top_val")) <= TOL)
    assert same.all(), f"{run}: top features differ at rows {np.flatnonzero(~same.all(1))[:10]}"


def _records_path(pipe: Any, recs: list[Any], update: bool) -> list[Any]:
    return list(pipe.score(recs, update_state=update))


@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("name", ["sim"])
def test_records_path_gives_the_old_verdicts(name: str, run: str, inputs: dict[str, Path]) -> None:
    gold = _golden(name, inputs[name])
    _compare(gold, run, run_records(run, inputs[name], _records_path))


@pytest.mark.parametrize("run", ["replay", "learn"])
@pytest.mark.parametrize("name", ["sim"])
def test_replay_path_gives_the_old_verdicts(name: str, run: str, inputs: dict[str, Path]) -> None:
    """The columnar path ``hamad replay`` takes: batch reader -> score_columns."""
    from hamad_plugin.offline.ingest import read_conn_log

    gold = _golden(name, inputs[name])
    pipe = pipeline(run)
    parts = [pipe.score_columns(b) for b in read_conn_log(inputs[name]).batches(1024)]
    verdicts = [v for p in parts for v in p.verdicts()]
    _compare(gold, run, from_verdicts(verdicts, pipe.model.feature_names))
    # The JSON lines replay writes hold each verdict's dict, value for value.
    rows = list(range(0, len(parts[0]), 7))
    lines = parts[0].json_lines(rows).splitlines()
    assert [json.loads(x) for x in lines] == [parts[0].verdicts()[i].to_dict() for i in rows]
    labels: list[str | None] = [None] * len(parts[0])
    labels[0], labels[14] = "Malicious", "Benign"
    labelled = parts[0].json_lines(rows[:3], labels)
    assert [json.loads(x).get("label") for x in labelled.splitlines()] == [
        "Malicious",
        None,
        "Benign",
    ]


def _hostile_text() -> str:
    head = (
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
        "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\t"
        "orig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\t"
        "orig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n"
    )
    good = "1.{i}\tC{i}\t10.0.0.{h}\t{p}\t10.0.0.9\t80\ttcp\thttp\t0.5\t10\t20\tSF\tT\tF\t0\tShAdDaFf\t3\t100\t3\t200\t-\n"
    bad = [
        "1.5\tCx\t10.0.0.1\t70000\t10.0.0.9\t80\ttcp\t-\t-\t-\t-\tS0\t-\t-\t-\t-\t-\t-\t-\t-\t-\n",
        "-\tCy\t10.0.0.1\t1\t10.0.0.9\t80\ttcp\t-\t-\t-\t-\tS0\t-\t-\t-\t-\t-\t-\t-\t-\t-\n",
        "2.5\tCz\t10.0.0.1\t1\t10.0.0.9\t80\ttcp\t-\t-1\t-\t-\tS0\t-\t-\t-\t-\t-\t-\t-\t-\t-\n",
        "2.5\tCw\t10.0.0.1\t1\t10.0.0.9\t80\ttcp\t-\tinf\t1.5\t-\tS0\tX\t-\t-\t-\t-\t-\t-\t-\t-\n",
        "2.6\tCe\t10.0.0.1\t1\t10.0.0.9\t80\ttcp\tss\\x6c\t-\t-\t-\tS0\t-\t-\t-\t-\t-\t-\t-\t-\t-\n",
        "2.7\tCv\t-\t1\t10.0.0.9\t80\ttcp\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\n",
        "too\tfew\tcolumns\n",
        "\n",
        "x" * 70000 + "\n",
    ]
    body = [good.format(i=i, h=i % 7, p=1000 + i) for i in range(3000)]
    for k, line in enumerate(bad):
        body.insert(100 + 250 * k, line)
    body.insert(2000, "#close\t2025-01-01\n" + head)
    return (
        head
        + "".join(body)
        + "4.0\tClast\t10.0.0.1\t1\t10.0.0.9\t80\ttcp\t-\t-\t-\t-\tS0\t-\t-\t-\t-\t-\t-\t-\t-\t-"
    )


@pytest.mark.parametrize("size", [1, 7, 1024])
def test_batch_reader_reads_what_the_line_reader_reads(size: int, tmp_path: Path, sim_logs) -> None:
    from hamad_plugin.core.records import ConnColumns
    from hamad_plugin.offline.ingest import read_conn_log

    hostile = tmp_path / "hostile.conn.log"
    hostile.write_text(_hostile_text())
    for path in (hostile, sim_logs.tsv, sim_logs.json):
        lines = read_conn_log(path)
        want = ConnColumns.from_records(list(lines))
        cols = read_conn_log(path)
        parts = list(cols.batches(size))
        assert all(len(p) == size for p in parts[:-1])
        got = ConnColumns.concat(parts)
        assert np.array_equal(got.num, want.num, equal_nan=True)
        for name in ("uid", "proto", "conn_state", "history", "service", "orig_h", "resp_h",
                     "label", "detailed_label"):  # fmt: skip
            assert getattr(got, name) == getattr(want, name), name
        assert (cols.stats.lines, cols.stats.records, cols.stats.bad_lines, cols.stats.errors) == (
            lines.stats.lines, lines.stats.records, lines.stats.bad_lines, lines.stats.errors
        )  # fmt: skip
