"""Fleet learning (``hamad fleet``): the steps' arithmetic, a two-gateway round, and Flower."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import simulate_to

pytest.importorskip("sklearn")
pytest.importorskip("xgboost")

from hamad_plugin.core.features import FeatureConfig, FeatureSchema  # noqa: E402
from hamad_plugin.errors import DataError  # noqa: E402
from hamad_plugin.offline import fleet  # noqa: E402

SMALL = fleet.FleetConfig(rf_trees=6, xgb_trees=12, gate_rounds=2, gate_epochs=40)


def _xy(seed: int, n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0.8).astype(int)
    return X, y


def test_a_forest_survives_its_wire_form_exactly() -> None:
    from sklearn.ensemble import RandomForestClassifier

    X, y = _xy(1)
    rf = RandomForestClassifier(n_estimators=7, max_depth=5, random_state=0).fit(X, y)
    p = fleet.forest_to_payload(rf)
    assert all(isinstance(v, np.ndarray) and v.dtype != object for v in p.values())
    back = fleet.forest_from_payloads([p], 5, cap=100)
    assert np.array_equal(back.predict_proba(X), rf.predict_proba(X))
    assert len(fleet.forest_from_payloads([p, p], 5, cap=3).estimators_) == 6  # 3 from each


def test_a_malformed_tree_is_refused_not_trusted() -> None:
    from sklearn.ensemble import RandomForestClassifier

    X, y = _xy(2)
    p = fleet.forest_to_payload(RandomForestClassifier(n_estimators=2).fit(X, y))
    p["rf.0.nodes"] = p["rf.0.nodes"][:-3]
    with pytest.raises(DataError, match="layout"):
        fleet.forest_from_payloads([p], 5, cap=10)
    q = fleet.forest_to_payload(RandomForestClassifier(n_estimators=2).fit(X, y))
    with pytest.raises(DataError, match="malformed"):
        fleet.forest_from_payloads([q], 3, cap=10)  # features beyond the schema


def test_merged_boosters_average_the_gateways_log_odds() -> None:
    from xgboost import XGBClassifier

    X, y = _xy(3)
    parts = []
    for seed in (0, 1, 2):
        Xi, yi = _xy(10 + seed)
        parts.append(XGBClassifier(n_estimators=8, max_depth=3, base_score=0.5).fit(Xi, yi))
    merged = fleet.merge_boosters([bytes(m.get_booster().save_raw("json")) for m in parts])
    margins = np.mean([m.predict(X, output_margin=True) for m in parts], axis=0)
    assert np.allclose(merged.predict(X, output_margin=True), margins, atol=1e-5)
    other = XGBClassifier(n_estimators=2, base_score=0.3).fit(X, y)
    with pytest.raises(DataError, match="base_score"):
        fleet.merge_boosters([bytes(other.get_booster().save_raw("json"))])


def test_the_trimmed_mean_bounds_one_liar() -> None:
    honest = np.array([[1.0, 2.0], [1.2, 2.1], [0.9, 1.9]])
    liar = np.array([[1e6, -1e6]])
    stack = np.vstack([honest, liar])
    assert np.abs(fleet.trimmed_mean(stack, 0)).max() > 1e5  # plain FedAvg follows it
    assert np.abs(fleet.trimmed_mean(stack, 1) - [1.1, 1.95]).max() < 0.2


def test_the_pooled_quantile_is_the_central_one() -> None:
    rng = np.random.default_rng(4)
    parts = [rng.beta(1, 30, size=n) for n in (5000, 12000, 800)]
    tops = [np.sort(p)[::-1][: int(np.ceil(len(p) * 0.05)) + 2] for p in parts]
    pooled = np.concatenate(parts)
    for q in (0.99, 0.999, 1 - 1e-4):
        got, exact = fleet.pooled_quantile(tops, [len(p) for p in parts], q)
        assert exact and got == np.quantile(pooled, q, method="higher")
    # A gateway that sent too few of its high scores is noticed, not silently trusted.
    short = [np.sort(p)[::-1][:3] for p in parts]
    assert fleet.pooled_quantile(short, [len(p) for p in parts], 0.99)[1] is False


@pytest.fixture(scope="module")
def gateways(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("fleet")
    out = []
    for seed in (61, 62, 63):
        p = d / f"gw{seed}.log"
        simulate_to(p, seed=seed, hosts=12, duration="3h", connections=3000)
        out.append(p)
    return out


def test_a_two_gateway_round_makes_a_model_that_serves(
    gateways: list[Path], tmp_path: Path
) -> None:
    from hamad_plugin.scoring.model import LoadedModel

    config = FeatureConfig()
    gws = [fleet.Gateway.load(p.stem, [p], config) for p in gateways[:2]]
    sent: list[str] = []
    local = fleet.run_local(gws)

    def send(step: str, per: list[fleet.Payload]) -> list[fleet.Payload]:
        sent.append(step)
        for p in per:  # only plain arrays travel: nothing a receiver would unpickle
            assert all(isinstance(v, np.ndarray) and v.dtype != object for v in p.values())
        return local(step, per)

    names = FeatureSchema.from_config(config).names
    ens, thr, model, log = fleet.run_fleet(send, 2, names, SMALL)
    assert sent == ["stats", "cov", "trees", "review", "novelty_c", "gate", "gate", "calibrate"]
    assert [r["step"] for r in log.rounds] == sent
    assert all(r["bytes_up"] > 0 and r["bytes_down"] > 0 for r in log.rounds)
    assert len(ens.models_["rf"].estimators_) == 2 * SMALL.rf_trees
    ev = fleet.evaluate(send, 2, model, SMALL)
    meta = [{"gateway": g.name, "files": g.files} for g in gws]
    evaluation = [
        {"gateway": g.name, **{k: float(v) for k, v in e.items()}}
        for g, e in zip(gws, ev, strict=True)
    ]
    d = fleet.write_model(tmp_path / "fleet", ens, thr, model, log, meta, config, SMALL, evaluation)

    served = LoadedModel.load(d)  # the same loader hamad serve uses: checks sha and schema
    X = np.vstack([g.test[0] for g in gws]).astype(np.float32)
    onnx_scores = served.predict(X)[0]
    assert np.allclose(onnx_scores, ens.predict_proba(X), atol=1e-4)
    assert served.manifest.threshold.threshold == pytest.approx(thr)
    card = json.loads((d / "metadata.json").read_text())["fleet"]
    assert [g["gateway"] for g in card["gateways"]] == [g.name for g in gws]
    assert all(len(f["sha256"]) == 64 for g in card["gateways"] for f in g["files"])
    # The threshold is the pooled benign quantile the central calibration would take.
    s = np.concatenate(
        [ens.predict_proba(g.calibration[0][g.calibration[1] == 0].astype(np.float32)) for g in gws]
    )
    q = np.quantile(s, 1 - SMALL.target_fpr, method="higher")
    assert thr == pytest.approx(min(np.nextafter(q, 2.0), 1.0), abs=1e-6)


def test_peer_review_leaves_out_a_gateway_that_trains_on_inverted_labels(
    gateways: list[Path],
) -> None:
    config = FeatureConfig()
    names = FeatureSchema.from_config(config).names
    gws = [fleet.Gateway.load(p.stem, [p], config, flip=(i == 1)) for i, p in enumerate(gateways)]
    ens, thr, model, log = fleet.run_fleet(fleet.run_local(gws), 3, names, SMALL)
    assert log.review["left_out"] == [1]
    assert len(ens.models_["rf"].estimators_) == 2 * SMALL.rf_trees  # the liar's trees are out
    X, y = gws[0].test
    assert np.mean(ens.predict_proba(X.astype(np.float32))[y == 1] >= thr) > 0.9
    off = fleet.FleetConfig(**{**SMALL.__dict__, "min_review_auc": 0.0})
    _, _, _, log_off = fleet.run_fleet(fleet.run_local(gws), 3, names, off)
    assert log_off.review["left_out"] == []  # the defence is what removed it


def test_the_cyclic_booster_is_trained_in_turn_on_every_kept_gateway(
    gateways: list[Path],
) -> None:
    config = FeatureConfig()
    names = FeatureSchema.from_config(config).names
    gws = [fleet.Gateway.load(p.stem, [p], config) for p in gateways[:2]]
    cfg = fleet.FleetConfig(**{**SMALL.__dict__, "xgb_cycles": 2})
    ens, _thr, _model, log = fleet.run_fleet(fleet.run_local(gws), 2, names, cfg)
    steps = [r["step"] for r in log.rounds]
    assert steps.count("boost") == 2 * 2  # two passes over two gateways
    n_trees = len(ens.models_["xgb"].get_booster().get_dump())
    assert n_trees == 2 * SMALL.xgb_trees  # the same size as the bagged booster
    X, y = gws[1].test
    assert np.mean(ens.predict_proba(X.astype(np.float32))[y == 1] >= _thr) > 0.5


def test_hamad_fleet_explains_a_bad_gateway_without_a_traceback(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hamad_plugin.cli import cli

    res = CliRunner().invoke(cli, ["fleet", "--gateway", "A", "--out", str(tmp_path / "m")])
    assert res.exit_code != 0 and "NAME=LOG" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(
        cli, ["fleet", "--gateway", f"A={tmp_path / 'none.log'}", "--out", str(tmp_path / "m")]
    )
    assert res.exit_code != 0 and "no such conn log" in res.output


@pytest.mark.skipif(
    importlib.util.find_spec("flwr") is None, reason="Flower is not installed (extra [fleet])"
)
def test_hamad_fleet_over_flower_on_loopback(gateways: list[Path], tmp_path: Path) -> None:
    """A real SuperLink and two SuperNodes over TLS: the model that comes back serves."""
    from hamad_plugin.scoring.model import LoadedModel

    out = tmp_path / "flower-model"
    args = [sys.executable, "-c", "from hamad_plugin.cli import main; main()", "fleet", "--out", str(out),
            "--rf-trees", "4", "--xgb-trees", "8", "--gate-rounds", "1"]  # fmt: skip
    for p in gateways[:2]:
        args += ["--gateway", f"{p.stem}={p}"]
    res = subprocess.run(args, capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "2 gateways, 7 rounds" in res.stdout
    assert "(TLS, throwaway CA)" in res.stderr
    m = LoadedModel.load(out)
    assert m.manifest.fleet is not None and len(m.manifest.fleet["gateways"]) == 2
