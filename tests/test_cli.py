"""CLI smoke runs through click's CliRunner: replay, eval, train, info, bench, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CTU42, NJRAT, ZEEK82_TSV

from hamad_plugin.cli import cli


def run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_help_lists_every_command() -> None:
    res = run("--help")
    assert res.exit_code == 0
    for cmd in ("train", "eval", "replay", "bench", "info"):
        assert cmd in res.output


def test_replay_labelled_prints_metrics_and_writes_verdicts(tmp_path: Path) -> None:
    out = tmp_path / "v.jsonl"
    res = run("replay", str(NJRAT), "--out", str(out), "--top", "3")
    assert res.exit_code == 0, res.output
    assert "precision=" in res.output and "recall=" in res.output and "fpr=" in res.output
    lines = out.read_text().splitlines()
    assert len(lines) == 992
    v = json.loads(lines[0])
    for key in (
        "uid",
        "ts",
        "orig_h",
        "resp_h",
        "score",
        "threshold",
        "anomalous",
        "top_features",
        "weights",
    ):
        assert key in v


def test_replay_json_summary_counts_bad_lines(tmp_path: Path) -> None:
    src = ZEEK82_TSV.read_text().splitlines(keepends=True)
    broken = tmp_path / "broken.log"
    broken.write_text("".join(src[:20] + ["garbage\tline\n"] + src[20:]))
    res = run("replay", str(broken), "--json-summary", "--threshold", "0.99")
    assert res.exit_code == 0, res.output
    d = json.loads(res.output[res.output.index("{") :])
    assert d["connections"] == 299 and d["malformed_lines"] == 1
    assert d["threshold_range"] == [0.99, 0.99]


def test_eval_writes_metrics_and_pngs(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    res = run("eval", "--data", str(NJRAT), "--out", str(tmp_path))
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["overall_at_calibrated_threshold"]["n"] == 253
    for png in ("confusion_matrix.png", "roc.png", "pr.png", "score_hist.png"):
        assert (tmp_path / png).stat().st_size > 1000


def test_train_then_info(tmp_path: Path) -> None:
    pytest.importorskip("xgboost")
    out = tmp_path / "m"
    res = run(
        "train",
        "--data",
        str(NJRAT),
        "--data",
        str(CTU42),
        "--out",
        str(out),
        "--n-estimators",
        "5",
    )
    assert res.exit_code == 0, res.output
    assert "held-out test rows" in res.output and "ALL" in res.output
    res = run("info", "--model", str(out), "--features")
    assert res.exit_code == 0 and "src_10s_log_distinct_ports" in res.output


def test_bench_prints_table_and_json(tmp_path: Path) -> None:
    res = run(
        "bench", "--connections", "2000", "--hosts", "2000", "--json-out", str(tmp_path / "b.json")
    )
    assert res.exit_code == 0, res.output
    assert "end to end" in res.output
    d = json.loads((tmp_path / "b.json").read_text())
    assert d["end2end_conn_per_s"] > 0 and d["hosts_tracked"] == 2000


def test_expected_failures_are_clean_errors(tmp_path: Path) -> None:
    res = run("replay", str(tmp_path / "missing.log"))
    assert res.exit_code == 1 and "Error:" in res.output and "no such file" in res.output
    res = run("replay", str(NJRAT), "--model", str(tmp_path / "nomodel"))
    assert res.exit_code == 1 and "does not exist" in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("threshold: {mode: adaptive\n")
    res = run("replay", str(NJRAT), "--config", str(bad))
    assert res.exit_code == 2 and "not valid YAML" in res.output
    typo = tmp_path / "typo.yaml"
    typo.write_text("treshold: {mode: fixed}\n")
    res = run("replay", str(NJRAT), "--config", str(typo))
    assert res.exit_code == 2 and "Did you mean 'threshold'" in res.output
    notconn = tmp_path / "x.log"
    notconn.write_text("hello\n")
    res = run("replay", str(notconn))
    assert res.exit_code == 1 and "not a Zeek conn log" in res.output


def test_loco_writes_a_table(tmp_path: Path) -> None:
    pytest.importorskip("xgboost")
    out = tmp_path / "loco.md"
    res = run(
        "loco", "--data", str(NJRAT), "--data", str(CTU42), "--out", str(out), "--n-estimators", "5"
    )
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert "held out: njrat-ctu-botnet-230-1" in text and "held out: ctu-normal-42-day2" in text
    assert text.count("| RF alone |") == 2
