"""The edge build (``hamad quantize``): int8 where it is safe, a model directory that serves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hamad_plugin.cli import cli
from hamad_plugin.errors import DataError, ModelError

pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def edge_model(tmp_path_factory: pytest.TempPathFactory, small_model: Path, sim_logs) -> Path:
    out = tmp_path_factory.mktemp("edge") / "small-int8"
    res = CliRunner().invoke(
        cli,
        ["quantize", "--model", str(small_model), "--out", str(out),
         "--calibration", str(sim_logs.other), "--rows", "4000"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "written to" in res.output and "flag(s) changed" in res.output
    return out


def test_the_novelty_projections_are_int8_and_nothing_else(edge_model: Path) -> None:
    import onnx

    g = onnx.load(str(edge_model / "model.onnx")).graph
    quantized = {n.input[0] for n in g.node if n.op_type == "DequantizeLinear"}
    assert any(name.startswith("nov_v") for name in quantized)  # the weights
    assert not any(name.startswith("gate_W") for name in quantized)
    # the float model's MatMuls are all still there (QDQ keeps the op, feeds it int8 values)
    assert sum(n.op_type == "MatMul" for n in g.node) == 3
    trees = [n for n in g.node if n.op_type.startswith("TreeEnsemble")]
    assert trees and not any(a.name == "nodes_hitrates" for t in trees for a in t.attribute)


def test_the_edge_build_is_a_model_directory_with_its_provenance(
    edge_model: Path, small_model: Path, sim_logs
) -> None:
    from hamad_plugin.scoring.model import LoadedModel

    src, edge = LoadedModel.load(small_model), LoadedModel.load(edge_model)
    assert edge.version == "small-test-int8"
    assert edge.feature_names == src.feature_names and edge.members == src.members
    assert edge.manifest.threshold == src.manifest.threshold
    q = edge.manifest.quantization
    assert q is not None and q["source_sha256"] == src.manifest.model_sha256
    assert q["calibration_rows"] == min(4000, sim_logs.rows) and q["calibration_from"] == [
        "sim-b.conn.log"
    ]
    assert (edge_model / "model.onnx").stat().st_size < (small_model / "model.onnx").stat().st_size


def test_scores_stay_close_to_the_float_model_on_rows_it_was_not_calibrated_on(
    edge_model: Path, small_model: Path, sample_matrix: tuple[np.ndarray, np.ndarray]
) -> None:
    from hamad_plugin.scoring.model import LoadedModel

    X, _ = sample_matrix
    src, edge = LoadedModel.load(small_model), LoadedModel.load(edge_model)
    (a, _, ma), (b, _, mb) = src.predict(X), edge.predict(X)
    trees = [i for i, m in enumerate(src.members) if m != "novelty"]
    assert np.array_equal(ma[:, trees], mb[:, trees])  # compaction is lossless
    # The novelty member's int8 error reaches the fused score through the gate: 0.005 at
    # most with onnxruntime 1.2x, 0.03 with 1.32 on these rows; flags are what matter.
    assert np.max(np.abs(a - b)) < 0.05
    assert np.median(np.abs(a - b)) < 1e-3
    thr = src.manifest.threshold.threshold
    assert np.mean((a >= thr) != (b >= thr)) < 0.005


def test_a_connection_scores_the_same_whatever_shares_its_batch(
    edge_model: Path, sample_matrix: tuple[np.ndarray, np.ndarray]
) -> None:
    """Static ranges: dynamic int8 would take each batch's own activation scale."""
    from hamad_plugin.scoring.model import LoadedModel

    X, _ = sample_matrix
    edge = LoadedModel.load(edge_model)
    batch = edge.predict(X[:300])[0]
    alone = np.array([edge.predict(X[i : i + 1])[0][0] for i in range(0, 300, 7)])
    assert np.allclose(alone, batch[::7], atol=1e-6)


def test_the_edge_build_serves_replay_unchanged(edge_model: Path, sim_logs) -> None:
    res = CliRunner().invoke(cli, ["replay", str(sim_logs.tsv), "--model", str(edge_model)])
    assert res.exit_code == 0, res.output
    assert "false alarms" in res.output


def test_a_tampered_edge_build_is_refused(edge_model: Path, tmp_path: Path) -> None:
    import shutil

    from hamad_plugin.scoring.model import LoadedModel

    bad = tmp_path / "bad"
    shutil.copytree(edge_model, bad)
    meta = json.loads((bad / "metadata.json").read_text())
    meta["quantization"] = ["not", "a", "mapping"]
    (bad / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="quantization must be a mapping"):
        LoadedModel.load(bad)


def test_calibration_needs_readable_connections(small_model: Path, tmp_path: Path) -> None:
    from hamad_plugin.offline.quantize import calibration_rows
    from hamad_plugin.scoring.model import LoadedModel

    empty = tmp_path / "empty.log"
    empty.write_text("")
    cfg = LoadedModel.load(small_model).feature_config
    with pytest.raises(DataError):
        calibration_rows([empty], cfg)
    res = CliRunner().invoke(
        cli, ["quantize", "--model", str(small_model), "--out", str(tmp_path / "o"),
              "--calibration", str(empty)],
    )  # fmt: skip
    assert res.exit_code != 0 and "Traceback" not in res.output and "Error:" in res.output


def test_the_edge_figures_compare_both_builds_on_the_same_rows(
    edge_model: Path, small_model: Path, sim_logs
) -> None:
    from hamad_plugin.research.edge import compare, markdown

    doc = compare(small_model, edge_model, [sim_logs.tsv], sim_logs.other)
    (c,) = doc["captures"]
    assert c["benign"] + c["malicious"] == sim_logs.rows
    assert c["float_false_per_10k"] >= 0 and c["flags_changed"] >= 0
    for build in ("float", "int8"):
        assert doc[build]["rows_per_s_batch_256"] > 0 and doc[build]["replay_conn_per_s"] > 0
    assert doc["int8"]["bytes"] < doc["float"]["bytes"]
    text = markdown(doc, "hamad edge ...")
    assert f"| {c['capture']} |" in text and "flag(s)" in text
