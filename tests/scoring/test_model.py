"""ONNX export parity, model loading, schema-mismatch refusal, the shipped model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import SimLogs

from hamad_plugin.errors import ModelError, SchemaError
from hamad_plugin.scoring.model import LoadedModel, default_model_dir
from hamad_plugin.scoring.pipeline import Pipeline


@pytest.mark.slow
def test_onnx_matches_native_ensemble_on_simulated_rows(sample_matrix, tmp_path: Path) -> None:
    """Tolerances: member scores 1e-5 (trees are exact in float32), fused score and
    attention weights 2e-3 (the gate runs in float64 natively, float32 in ONNX)."""
    pytest.importorskip("xgboost")
    from hamad_plugin.offline.ensemble import HamadEnsemble
    from hamad_plugin.scoring.model import open_session

    X, y = sample_matrix
    ens = HamadEnsemble(n_estimators=15, random_state=0).fit(X[::2], y[::2])
    path = tmp_path / "m.onnx"
    ens.export_onnx(str(path))
    sess = open_session(path)
    Xt = X[1::2]
    score, weights, members = sess.run(None, {"features": Xt})
    assert np.abs(members - ens.base_scores(Xt)).max() < 1e-5
    assert np.abs(weights - ens.attention_weights(Xt)).max() < 2e-3
    assert np.abs(score - ens.predict_proba(Xt)).max() < 2e-3
    assert np.allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    # The gate is not a constant: weights vary per sample.
    assert weights.std(axis=0).max() > 1e-3


@pytest.mark.slow
@pytest.mark.parametrize(
    "fusion,members", [("mean", ("rf", "xgb", "novelty")), ("attention", ("rf",))]
)
def test_ablation_variants_export(sample_matrix, tmp_path: Path, fusion: str, members) -> None:
    pytest.importorskip("xgboost")
    from hamad_plugin.offline.ensemble import HamadEnsemble
    from hamad_plugin.scoring.model import open_session

    X, y = sample_matrix
    ens = HamadEnsemble(members=members, fusion=fusion, n_estimators=5).fit(X[:2000], y[:2000])
    ens.export_onnx(str(tmp_path / "m.onnx"))
    score, weights, _ = open_session(tmp_path / "m.onnx").run(None, {"features": X[2000:2500]})
    assert np.abs(score - ens.predict_proba(X[2000:2500])).max() < 2e-3
    assert np.allclose(weights, 1.0 / len(members), atol=1e-6)


@pytest.mark.slow
def test_trained_model_metadata_is_complete(small_model: Path, sim_logs: SimLogs) -> None:
    meta = json.loads((small_model / "metadata.json").read_text())
    for key in ("version", "created", "features", "threshold", "training", "metrics", "libraries"):
        assert key in meta
    files = meta["training"]["files"]
    assert [f["path"] for f in files] == [sim_logs.tsv.name, sim_logs.other.name]
    assert all(len(f["sha256"]) == 64 for f in files)
    assert meta["training"]["split"]["method"] == "time-ordered per capture"
    assert meta["metrics"]["heldout_test"]["overall"]["n"] == meta["training"]["split"]["test_rows"]


@pytest.mark.slow
def test_schema_mismatch_is_refused_with_what_differs(small_model: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(small_model, bad)
    meta = json.loads((bad / "metadata.json").read_text())
    meta["features"]["names"][3] = "renamed_feature"
    (bad / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(SchemaError, match="renamed_feature"):
        LoadedModel.load(bad)
    meta = json.loads((small_model / "metadata.json").read_text())
    meta["features"]["hash"] = "0000"
    (bad / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(SchemaError, match="hash"):
        LoadedModel.load(bad)


@pytest.mark.slow
def test_missing_or_broken_model_files(small_model: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        LoadedModel.load(tmp_path / "nope")
    d = tmp_path / "partial"
    shutil.copytree(small_model, d)
    (d / "model.onnx").unlink()
    with pytest.raises(ModelError, match="no model.onnx"):
        LoadedModel.load(d)
    shutil.copy(small_model / "model.onnx", d / "model.onnx")
    (d / "metadata.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        LoadedModel.load(d)
    (d / "metadata.json").write_text((small_model / "metadata.json").read_text())
    (d / "model.onnx").write_bytes(b"garbage")
    with pytest.raises(ModelError, match="not the model its metadata describes"):
        LoadedModel.load(d)


def test_shipped_default_model_loads_and_scores(sim_logs: SimLogs) -> None:
    from hamad_plugin.offline.ingest import read_conn_log

    assert (default_model_dir() / "model.onnx").is_file(), "models/default must be committed"
    pipe = Pipeline.load()
    recs = list(read_conn_log(sim_logs.tsv))[:200]
    verdicts = pipe.score(recs)
    assert len(verdicts) == 200
    v = verdicts[0]
    assert 0.0 <= v.score <= 1.0 and set(v.weights) == {"rf", "xgb", "novelty"}
    assert abs(sum(v.weights.values()) - 1.0) < 1e-4 and len(v.top_features) == 3
    assert v.model_version == pipe.model_version


def test_shipped_model_is_packaged_for_non_editable_installs() -> None:
    """zkg's build_command runs `pip install .`: the model must be in the wheel's data files."""
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python >= 3.11")

    from conftest import REPO

    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    files = meta["tool"]["setuptools"]["data-files"]["share/hamad/models/default"]
    assert sorted(files) == ["models/default/metadata.json", "models/default/model.onnx"]
    assert all((REPO / f).is_file() for f in files)


# -- trust: model.onnx bound to its metadata, every metadata value validated ----------


def _copy_default(tmp_path: Path) -> Path:
    dst = tmp_path / "m"
    shutil.copytree(default_model_dir(), dst)
    return dst


def test_a_model_whose_weights_were_edited_is_refused(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    mdir = _copy_default(tmp_path)
    model = onnx.load(str(mdir / "model.onnx"))
    init = next(i for i in model.graph.initializer if numpy_helper.to_array(i).size > 1)
    arr = numpy_helper.to_array(init).copy()
    arr.flat[0] = arr.flat[0] + 1
    init.CopyFrom(numpy_helper.from_array(arr, init.name))
    onnx.save(model, str(mdir / "model.onnx"))
    with pytest.raises(ModelError, match="changed after export"):
        LoadedModel.load(mdir)


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda m: m["threshold"].update(threshold=5.0), "threshold"),
        (lambda m: m["threshold"].update(threshold=float("nan")), "threshold"),
        (lambda m: m["threshold"].update(threshold=-0.5), "threshold"),
        (lambda m: m["threshold"].update(n_bins=0), "n_bins"),
        (lambda m: m.update(members=["rf"]), "outputs 3 members"),
        (lambda m: m.update(members=["rf", "gbm"]), "members"),
        (lambda m: m["explain"].update(mean=m["explain"]["mean"][:5]), "explain.mean"),
        (lambda m: m["features"].update(names=[]), "features.names"),
        (lambda m: m["features"]["config"].update(scales="abc"), "features.config"),
        (lambda m: m.pop("model_sha256"), "model_sha256"),
    ],
)
def test_unusable_metadata_is_one_clear_error(tmp_path: Path, edit, message: str) -> None:
    mdir = _copy_default(tmp_path)
    meta = json.loads((mdir / "metadata.json").read_text())
    edit(meta)
    (mdir / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=message):
        LoadedModel.load(mdir)


def test_non_utf8_metadata_is_one_clear_error(tmp_path: Path) -> None:
    mdir = _copy_default(tmp_path)
    (mdir / "metadata.json").write_bytes(b'{"format": "\xff\xfe"}')
    with pytest.raises(ModelError, match="not UTF-8"):
        LoadedModel.load(mdir)


def test_the_cli_reports_a_tampered_model_without_a_traceback(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hamad_plugin.cli import cli

    mdir = _copy_default(tmp_path)
    with open(mdir / "model.onnx", "ab") as fh:
        fh.write(b"\0")
    res = CliRunner().invoke(cli, ["info", "--model", str(mdir)])
    assert res.exit_code == 1
    assert res.output.startswith("Error:") and "changed after export" in res.output
    assert "Traceback" not in res.output
