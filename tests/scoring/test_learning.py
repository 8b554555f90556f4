"""The learning period (issue 12): what is learned, the poisoning guards, the saved
state, and that replay and serve decide alike.

Learner behaviour is tested on hand-made batches (exact expectations); the
pipeline, replay, serve and CLI tests use the shipped model on simulated
captures. Every state file goes to a temp dir, never the user's state dir.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import simulate_to
from fake_zeek import serve_verdicts

from hamad_plugin.cli import cli
from hamad_plugin.core.records import ConnRecord
from hamad_plugin.core.settings import LearningSettings, load_settings
from hamad_plugin.core.threshold import AdaptiveThreshold
from hamad_plugin.errors import ConfigError
from hamad_plugin.scoring.learning import (
    SiteLearner,
    StateError,
    format_duration,
    load_state,
    parse_duration,
    save_state,
    state_path,
)

FEATURES = ["orig_bytes_log", "src_10s_log_count", "resp_multicast"]
MEMBERS = ["rf", "xgb", "novelty"]


# -- durations ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30min", 1800), ("6h", 21600), ("1d", 86400), ("2w", 1209600), ("0", 0),
     ("1.5h", 5400), (15, 15), (" 10 min ", 600)],
)  # fmt: skip
def test_durations_parse(text: Any, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "-1h", "5 parsecs", "", "1e400s"])
def test_bad_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(ConfigError, match="duration"):
        parse_duration(text)


def test_durations_print_short() -> None:
    assert [format_duration(x) for x in (86400, 21600, 1800, 90, 0.5)] == [
        "1d", "6h", "30min", "90s", "0.5s"]  # fmt: skip


# -- the learner on hand-made batches -----------------------------------------


def _learner(period: str = "100s", **kw: Any) -> SiteLearner:
    return SiteLearner(LearningSettings(period=period, **kw), "v1", "ab" * 32, FEATURES, MEMBERS)


def _rec(i: int, t: float, orig: str = "10.0.0.5", port: int = 8883) -> ConnRecord:
    return ConnRecord(ts=t, uid=f"C{i}", orig_h=orig, orig_p=40000 + i, resp_h="203.0.113.9",
                      resp_p=port, proto="tcp")  # fmt: skip


def _apply(
    lr: SiteLearner,
    times: list[float],
    *,
    flagged: bool = True,
    rf_xgb: float = 0.1,
    rate: float = 1.0,
    port: int = 8883,
    orig: str = "10.0.0.5",
    update: bool = True,
) -> Any:
    """One batch of connections of one service, all flagged (or not) by the threshold."""
    n = len(times)
    recs = [_rec(i, t, orig, port) for i, t in enumerate(times)]
    X = np.tile([5.0, rate, 0.0], (n, 1))
    members = np.tile([rf_xgb, rf_xgb, 0.9], (n, 1))
    scores = np.full(n, 0.9 if flagged else 0.1)
    clean = lr.clean(members)
    flags = np.full(n, flagged)
    return lr.apply(recs, np.asarray(times, float), X, scores, clean, flags, update)


def test_flagged_connections_stay_flagged_while_learning() -> None:
    lr = _learner()
    out = _apply(lr, [0.0, 1.0, 2.0, 3.0])
    assert out.learning.all() and out.flags.all() and not out.familiar.any()
    assert lr.summary()["phase"] == "learning" and lr.counts["learned"] == 4
    # learned although above the threshold: listed for the operator to review
    assert [k for k, _ in lr.review()] == [("c", "10.0.0.5", 8883, "tcp")]
    assert lr.summary()["learned_while_flagged"] == 1


def test_a_port_two_clients_learned_is_familiar_to_a_third_and_one_client_is_not_enough() -> None:
    lr = _learner()
    _apply(lr, [0.0, 1.0, 2.0], orig="10.0.0.1", port=443)
    _apply(lr, [3.0, 4.0], orig="10.0.0.2", port=443)
    _apply(lr, [5.0, 6.0, 7.0], orig="10.0.0.1", port=8009)  # one client only
    assert _apply(lr, [200.0], orig="10.0.0.9", port=443).familiar.all()
    assert not _apply(lr, [201.0], orig="10.0.0.9", port=8009).familiar.any()
    # much busier than the site ever used it: not familiar
    assert not _apply(lr, [202.0], orig="10.0.0.9", port=443, rate=9.0).familiar.any()
    # what both supervised members call malicious is not, on a port alone
    assert not _apply(lr, [203.0], orig="10.0.0.9", port=443, rf_xgb=0.9).familiar.any()


def test_a_responder_three_clients_learned_is_familiar_however_the_members_score_it() -> None:
    lr = _learner()
    for k, orig in enumerate(("10.0.0.1", "10.0.0.2", "10.0.0.3")):
        _apply(lr, [10.0 * k, 10.0 * k + 1], orig=orig, port=53)
    assert _apply(lr, [300.0], orig="10.0.0.9", port=53, rf_xgb=0.9).familiar.all()
    state = lr.to_dict()
    again = _learner()
    again.load_dict(state)
    assert again.site_clients == lr.site_clients
    assert _apply(again, [301.0], orig="10.0.0.8", port=53, rf_xgb=0.9).familiar.all()


def test_behaviour_evidence_is_never_learned_nor_familiar() -> None:
    lr = _learner()
    n = 4
    recs = [_rec(i, float(i)) for i in range(n)]
    X, members = np.tile([5.0, 1.0, 0.0], (n, 1)), np.tile([0.1, 0.1, 0.9], (n, 1))
    out = lr.apply(recs, np.arange(n, dtype=float), X, np.full(n, 0.9), lr.clean(members),
                   np.ones(n, bool), evident=np.ones(n, bool))  # fmt: skip
    assert lr.counts["learned"] == 0 and lr.counts["guarded_evidence"] == n and out.flags.all()


def test_a_service_learned_clean_is_familiar_afterwards_at_its_usual_rate() -> None:
    lr = _learner()
    _apply(lr, [0.0, 10.0, 20.0, 30.0], rate=2.0)
    out = _apply(lr, [150.0, 160.0], rate=2.5)
    assert not out.learning.any()
    assert out.familiar.all() and not out.flags.any()
    assert lr.counts["familiar"] == 2 and lr.summary()["phase"] == "adapting"
    # another client of the same port is not familiar: services are per client host
    other = _apply(lr, [170.0], orig="10.0.0.99")
    assert other.flags.all() and not other.familiar.any()


def test_a_flood_on_a_familiar_service_is_not_familiar() -> None:
    lr = _learner(rate_floor=5.0)
    _apply(lr, [0.0, 10.0, 20.0, 30.0], rate=1.0)  # learned peak log1p-rate 1.0
    out = _apply(lr, [150.0], rate=np.log1p(400.0))  # 400 per 10 s, far above e x peak
    assert out.flags.all() and not out.familiar.any()


def test_an_attack_running_during_learning_does_not_teach_itself_benign() -> None:
    lr = _learner()
    _apply(lr, [float(t) for t in range(50)], rf_xgb=0.97)  # RF and XGBoost: malicious
    assert lr.counts["kept_out"] == 50 and lr.counts["kept_out_flagged"] == 50
    assert lr.counts["learned"] == 0 and not lr.services
    out = _apply(lr, [150.0, 151.0], rf_xgb=0.97)
    assert out.flags.all() and not out.familiar.any()
    # only one supervised member says malicious: still clean (learned), as designed
    lr2 = _learner(guard=0.5)
    members = np.array([[0.9, 0.2, 0.9]])
    assert lr2.clean(members).tolist() == [True]


def test_after_learning_alarms_never_teach_themselves() -> None:
    lr = _learner()
    _apply(lr, [0.0])  # starts the clock
    for k in range(30):  # a new service, flagged every time after learning
        out = _apply(lr, [200.0 + k], port=6667)
        assert out.flags.all()
    assert ("c", "10.0.0.5", 6667, "tcp") not in lr.services
    # unflagged connections after learning are learned, slowly (a fifth each)
    for k in range(14):
        _apply(lr, [300.0 + k], port=5222, flagged=False)
    assert lr.services[("c", "10.0.0.5", 5222, "tcp")][0] == pytest.approx(14 * 0.2)
    assert _apply(lr, [400.0], port=5222).flags.all()  # 2.8 < min_count 3
    _apply(lr, [401.0], port=5222, flagged=False)
    assert _apply(lr, [402.0], port=5222).familiar.all()  # 3.0: familiar


@pytest.mark.parametrize("start", [0.0, 250.0, 750.0])
def test_a_beacon_that_starts_inside_learning_is_still_flagged_after_it(start: float) -> None:
    """With the periodic guard on, a regular check-in the supervised members do not
    recognise, starting at 0 %, 25 % or 75 % of the learning period, is never learned as the
    site's service; with it off (the default) it is."""
    lr = _learner(period="1000s", guard_periodic=True)
    _apply(lr, [0.0], orig="10.0.0.77", flagged=False)  # the site's first connection
    beacon = [start + 30.0 * k for k in range(int((2000 - start) / 30))]
    out = _apply(lr, beacon)
    after = ~out.learning
    assert after.sum() > 20 and out.flags[after].all() and not out.familiar.any()
    assert lr.counts["guarded_periodic"] >= len(beacon) - 10
    default = _learner(period="1000s")
    _apply(default, [0.0], orig="10.0.0.77", flagged=False)
    out = _apply(default, beacon)
    assert out.familiar[~out.learning].all() and default.counts["guarded_periodic"] == 0


def test_the_same_service_used_irregularly_is_learned() -> None:
    rng = np.random.default_rng(0)
    times = np.cumsum(rng.exponential(30.0, 60)).tolist()
    lr = _learner(period=f"{times[30]}s", guard_periodic=True)
    out = _apply(lr, times)
    after = ~out.learning
    assert after.sum() > 20 and out.familiar[after].mean() > 0.9


def test_failing_fanning_out_and_flooding_behaviour_is_never_learned() -> None:
    names = ["src_10s_log_count", "src_2m_fail_share", "src_2m_log_distinct_ports",
             "src_2m_log_distinct_peers", "dst_10s_log_count", "resp_multicast",
             "src_2m_log_count"]  # fmt: skip
    lr = SiteLearner(LearningSettings(period="100s"), "v1", "ab" * 32, names, MEMBERS)
    busy = np.log1p(12)
    rows = {  # one row per behaviour, every one of them flagged and clean
        "failing": ([0.0, 0.8, 0.0, 0.0, 0.0, 0.0, busy], "REJ"),
        "fanout": ([0.0, 0.0, np.log1p(40), 0.0, 0.0, 0.0, busy], "SF"),
        "flood": ([0.0, 0.0, 0.0, 0.0, np.log1p(500), 0.0, busy], "SF"),
        "ordinary": ([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, busy], "SF"),
        # A quiet client whose few connections fail (a retried HTTPS) is not a behaviour.
        "quietly failing": ([0.0, 0.8, 0.0, 0.0, 0.0, 0.0, np.log1p(3)], "REJ"),
    }
    rng = np.random.default_rng(1)
    for port, (name, (x, state)) in enumerate(rows.items()):
        times = np.cumsum(rng.exponential(10.0, 40))
        recs = [ConnRecord(ts=t, uid=f"C{name}{i}", orig_h=f"10.0.0.{port + 1}", orig_p=40000,
                           resp_h="203.0.113.9", resp_p=1000 + port, proto="tcp",
                           conn_state=state) for i, t in enumerate(times)]  # fmt: skip
        n = len(recs)
        members = np.tile([0.1, 0.1, 0.9], (n, 1))
        out = lr.apply(recs, times, np.tile(x, (n, 1)), np.full(n, 0.9), lr.clean(members),
                       np.ones(n, bool))  # fmt: skip
        after = ~out.learning
        assert after.any()
        if name in ("ordinary", "quietly failing"):
            assert out.familiar[after].all(), name
        else:
            assert not out.familiar.any() and out.flags.all(), name
            assert lr.counts[f"guarded_{name}"] == n, name


def test_interim_summaries_are_judged_but_not_learned() -> None:
    lr = _learner()
    out = _apply(lr, [0.0, 1.0, 2.0], update=False)
    assert out.flags.all() and lr.counts["seen"] == 0 and not lr.services


def test_decisions_do_not_depend_on_batch_boundaries() -> None:
    rng = np.random.default_rng(5)
    n = 400
    times = np.sort(rng.uniform(0, 300, n))
    recs = [_rec(i, t, orig=f"10.0.0.{rng.integers(1, 6)}", port=int(rng.choice([80, 443, 8883])))
            for i, t in enumerate(times)]  # fmt: skip
    X = np.column_stack([rng.normal(5, 1, n), rng.uniform(0, 3, n), np.zeros(n)])
    members = np.column_stack([rng.uniform(0, 1, n), rng.uniform(0, 1, n), rng.uniform(0, 1, n)])
    flags = rng.uniform(0, 1, n) < 0.4

    def run(batch: int) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
        lr = _learner()
        f, fam = [], []
        for s in range(0, n, batch):
            sl = slice(s, s + batch)
            o = lr.apply(recs[sl], times[sl], X[sl], np.full(len(recs[sl]), 0.5),
                         lr.clean(members[sl]), flags[sl])  # fmt: skip
            f.append(o.flags)
            fam.append(o.familiar)
        return np.concatenate(f), np.concatenate(fam), lr.counts

    whole, b7, b100 = run(n), run(7), run(100)
    assert whole[1].any(), "the stream should make some services familiar"
    for other in (b7, b100):
        assert (other[0] == whole[0]).all() and (other[1] == whole[1]).all()
        assert other[2] == whole[2]


def test_memory_is_bounded_and_forgetting_is_counted() -> None:
    lr = _learner(max_services=20)
    for k in range(50):
        _apply(lr, [float(k)], port=1000 + k, orig=f"10.0.1.{k}")
    assert len(lr.services) <= 20 and lr.counts["forgotten"] >= 30


# -- the adaptive threshold ----------------------------------------------------


def _threshold() -> AdaptiveThreshold:
    t = AdaptiveThreshold(mode="adaptive", target_fpr=1e-3)
    return t.fit(np.random.default_rng(0).beta(2, 8, 5000))


def test_unclean_connections_cannot_lift_the_threshold() -> None:
    t = _threshold()
    before = t.current()
    flood = np.full(20_000, before - 0.01)  # just under the threshold: not flagged
    t.decide(flood, learn_from=np.zeros(len(flood), dtype=bool))
    assert t.current() == before
    t.decide(flood)  # the same flood, if it were learned from, moves it
    assert t.current() > before


def test_threshold_decisions_do_not_depend_on_batch_boundaries() -> None:
    s = np.random.default_rng(1).beta(2, 5, 3000)
    whole = _threshold().decide(s)
    t = _threshold()
    parts = [t.decide(s[i : i + 100]) for i in range(0, len(s), 100)]
    assert (np.concatenate([p[0] for p in parts]) == whole[0]).all()
    assert np.allclose(np.concatenate([p[1] for p in parts]), whole[1])


# -- the saved state -----------------------------------------------------------


def test_state_survives_a_restart(tmp_path: Path) -> None:
    lr, thr = _learner(), _threshold()
    _apply(lr, [0.0, 10.0, 20.0, 30.0])
    thr.decide(np.random.default_rng(2).uniform(0, 1, 600))
    path = state_path(tmp_path, "v1")
    save_state(path, lr, thr)
    lr2, thr2 = _learner(), _threshold()
    load_state(path, lr2, thr2)
    assert lr2.summary() == lr.summary() and lr2.services == lr.services
    assert thr2.current() == pytest.approx(thr.current())
    assert lr2.is_learning(50.0) and not lr2.is_learning(100.0)  # the period runs on from the start


def test_state_of_another_model_or_damaged_state_is_refused_and_changes_nothing(
    tmp_path: Path,
) -> None:
    lr, thr = _learner(), _threshold()
    _apply(lr, [0.0, 1.0, 2.0])
    path = state_path(tmp_path, "v1")
    save_state(path, lr, thr)
    other = SiteLearner(LearningSettings(), "v2", "cd" * 32, FEATURES, MEMBERS)
    with pytest.raises(StateError, match="learned with model 'v1'"):
        load_state(path, other, _threshold())
    doc = json.loads(path.read_text())
    doc["learner"]["services"][0][4] = "NaN?"
    path.write_text(json.dumps(doc))
    fresh = _learner()
    with pytest.raises(StateError, match="damaged"):
        load_state(path, fresh, _threshold())
    assert fresh.summary()["seen"] == 0 and not fresh.services
    path.write_text("{not json")
    with pytest.raises(StateError, match="not a readable"):
        load_state(path, fresh, _threshold())
    path.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(StateError, match="format"):
        load_state(path, fresh, _threshold())


def test_learning_needs_a_supervised_member() -> None:
    with pytest.raises(ConfigError, match="supervised member"):
        SiteLearner(LearningSettings(), "v", "x", FEATURES, ["novelty"])


def test_learning_settings_are_validated(tmp_path: Path) -> None:
    for body, match in (("period: soon", "duration"), ("guard: 1.5", "guard"),
                        ("min_count: 0", "min_count"), ("perod: 1d", "period")):  # fmt: skip
        cfg = tmp_path / "c.yaml"
        cfg.write_text(f"learning:\n  {body}\n")
        with pytest.raises(ConfigError, match=match):
            load_settings(str(cfg))
    cfg.write_text("learning:\n  period: 6h\n  state_dir: /tmp/x\n")
    s = load_settings(str(cfg))
    assert parse_duration(s.learning.period) == 21600 and s.learning.state_dir == "/tmp/x"


# -- replay, serve and the CLI on the shipped model ----------------------------


@pytest.fixture(scope="module")
def site_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated gateway capture: 2 h, attacks starting after the first half hour."""
    p = tmp_path_factory.mktemp("learn") / "site.conn.log"
    simulate_to(p, seed=11, connections=2500, hosts=14, duration="2h")
    return p


def _replay(site_log: Path, tmp_path: Path, *extra: str) -> tuple[list[dict[str, Any]], str]:
    out = tmp_path / "v.jsonl"
    res = CliRunner().invoke(
        cli, ["replay", str(site_log), "--learn", "30min", "--out", str(out), *extra]
    )
    assert res.exit_code == 0, res.output
    return [json.loads(x) for x in out.read_text().splitlines()], res.output


def test_replay_learns_then_judges(site_log: Path, tmp_path: Path) -> None:
    verdicts, text = _replay(site_log, tmp_path, "--state-dir", str(tmp_path / "st"))
    learning = [v["learning"] for v in verdicts]
    first_after = learning.index(False)
    assert all(learning[:first_after]) and not any(learning[first_after:])
    t0 = verdicts[0]["ts"]
    assert all(v["ts"] + 0 >= t0 for v in verdicts[first_after:])
    assert not any(v["familiar"] for v in verdicts[:first_after])
    # learning holds the threshold at the shipped calibration (learning.adapt_threshold)
    assert len({v["threshold"] for v in verdicts}) == 1
    assert "connections scored while learning" in text and "after learning:" in text
    # what it learned is saved, and the CLI reads it back
    st = str(tmp_path / "st")
    res = CliRunner().invoke(cli, ["learn", "status", "--state-dir", st, "--json"])
    assert res.exit_code == 0, res.output
    summ = json.loads(res.output)
    assert summ["phase"] == "adapting" and summ["learned"] > 0 and summ["services"] > 0
    assert summ["seen"] == len(verdicts)
    res = CliRunner().invoke(cli, ["info", "--state-dir", st])
    assert res.exit_code == 0 and "learned" in res.output
    png = tmp_path / "drift.png"
    res = CliRunner().invoke(cli, ["drift", "--state-dir", st, "--png", str(png)])
    assert res.exit_code == 0, res.output
    assert "top drifting features" in res.output and png.stat().st_size > 5000
    res = CliRunner().invoke(cli, ["learn", "reset", "--state-dir", st])
    assert res.exit_code == 0 and "removed" in res.output
    res = CliRunner().invoke(cli, ["learn", "status", "--state-dir", st])
    assert res.exit_code == 0 and "nothing learned yet" in res.output


def test_replay_without_learn_is_todays_behaviour(site_log: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["replay", str(site_log), "--state-dir", str(tmp_path)])
    assert res.exit_code == 2 and "--learn" in res.output
    res = CliRunner().invoke(cli, ["replay", str(site_log), "--learn", "soon"])
    assert res.exit_code != 0 and "not a duration" in res.output and "Traceback" not in res.output


def test_learning_silences_the_sites_recurring_services(site_log: Path, tmp_path: Path) -> None:
    """Benign false alarms after learning drop, and the attacks are still caught."""
    learned, _ = _replay(site_log, tmp_path)
    plain = tmp_path / "p.jsonl"
    res = CliRunner().invoke(cli, ["replay", str(site_log), "--out", str(plain)])
    assert res.exit_code == 0, res.output
    base = {v["uid"]: v for v in map(json.loads, plain.read_text().splitlines())}
    labels = {}
    from hamad_plugin.offline.ingest import read_conn_log

    for r in read_conn_log(site_log):
        labels[r.uid] = r.is_malicious
    after = [v for v in learned if not v["learning"]]
    fa_learned = sum(v["anomalous"] for v in after if labels[v["uid"]] is False)
    fa_base = sum(base[v["uid"]]["anomalous"] for v in after if labels[v["uid"]] is False)
    tp_learned = sum(v["anomalous"] for v in after if labels[v["uid"]])
    tp_base = sum(base[v["uid"]]["anomalous"] for v in after if labels[v["uid"]])
    assert fa_learned <= fa_base
    assert any(v["familiar"] for v in after) or fa_base == 0
    assert tp_learned >= 0.8 * tp_base, (tp_learned, tp_base)


def _serve_scores(site_log: Path, state_dir: Path, period: str) -> dict[str, dict[str, Any]]:
    """Send the capture to a real ``hamad serve`` process as Zeek would (batches of 100)."""
    from hamad_plugin.offline.ingest import read_conn_log

    got = serve_verdicts(list(read_conn_log(site_log)), "--learning-period", period,
                         "--state-dir", str(state_dir))  # fmt: skip
    return {u: {"score": v[6], "anomalous": v[8], "learning": v[13], "familiar": v[14]}
            for u, v in got.items()}  # fmt: skip


def test_replay_names_the_behaviours_and_lists_the_incidents(
    site_log: Path, tmp_path: Path
) -> None:
    verdicts, output = _replay(site_log, tmp_path)
    named = {v["behaviour"] for v in verdicts if v["anomalous"] and not v["learning"]}
    assert {"password-guessing", "scan", "dns-tunnel"} <= named
    assert all(v["incident"] for v in verdicts if v["anomalous"])
    assert not any(v["incident"] for v in verdicts if not v["anomalous"])
    m = re.search(r"^incidents: (\d+) \((\d+) raised as HAMAD::Incident", output, re.M)
    assert m and int(m[1]) >= int(m[2]) > 0, output
    raised = {}
    for v in verdicts:
        if v["incident"] and not v["learning"]:
            raised[v["incident"]] = raised.get(v["incident"], 0) + 1
    assert int(m[2]) == sum(1 for n in raised.values() if n >= 3)


@pytest.mark.slow
def test_serve_and_replay_decide_alike_and_serve_saves_its_state(
    site_log: Path, tmp_path: Path
) -> None:
    replayed, _ = _replay(site_log, tmp_path)
    served = _serve_scores(site_log, tmp_path / "state", "30min")
    assert len(served) == len(replayed)
    for v in replayed:
        s = served[v["uid"]]
        assert abs(s["score"] - v["score"]) <= 1e-6, v["uid"]
        assert (s["anomalous"], s["learning"], s["familiar"]) == (
            v["anomalous"], v["learning"], v["familiar"]), v["uid"]  # fmt: skip
    assert sum(v["learning"] for v in replayed) > 0 and sum(v["familiar"] for v in replayed) > 0
    files = list((tmp_path / "state").glob("learning-*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["learner"]["counts"]["seen"] == len(
        replayed
    )


def test_a_restarted_worker_resumes_learning_and_reset_starts_over(
    site_log: Path, tmp_path: Path
) -> None:
    from hamad_plugin.offline.ingest import read_conn_log
    from hamad_plugin.worker.scorer import PipelineScorer

    settings = load_settings(None)
    settings = replace(settings, learning=replace(settings.learning, state_dir=str(tmp_path),
                                                   period="1d"))  # fmt: skip
    recs = list(read_conn_log(site_log))
    first = PipelineScorer(settings)
    first.score(recs[:1000])
    first.save()
    started = first.pipe.learner.started  # type: ignore[union-attr]
    again = PipelineScorer(settings)  # a restart: same state dir
    lr = again.pipe.learner
    assert lr is not None and lr.started == started and lr.counts["seen"] == 1000
    assert all(v.learning for v in again.score(recs[1000:1100]))
    assert again.health()["learning"] == "learning"
    # hamad learn reset while it runs: the file goes, the next save starts over
    res = CliRunner().invoke(cli, ["learn", "reset", "--state-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    again.save()
    assert lr.counts["seen"] == 0 and lr.started is None
    # a damaged state file is moved aside and learning starts from scratch
    again.state_path.write_text("{damaged")
    third = PipelineScorer(settings)
    assert third.pipe.learner is not None and third.pipe.learner.counts["seen"] == 0
    assert again.state_path.with_name(again.state_path.name + ".unusable").exists()


def test_a_learned_service_of_a_responder_most_hosts_use_can_be_familiar_however_it_scores() -> (
    None
):
    """The site's resolver: its service was learned clean, and later queries that RF and
    XGBoost both call malicious (its busy counts look like a flood target to them) are
    familiar; the same scores towards a responder few hosts use stay flagged."""
    names = ["src_10s_log_count", "dst_30m_host_share", "dst_30m_log_distinct_peers",
             "resp_multicast"]  # fmt: skip
    lr = SiteLearner(LearningSettings(period="100s"), "v1", "ab" * 32, names, MEMBERS)
    rng = np.random.default_rng(2)

    def batch(times: np.ndarray, share: float, rf_xgb: float, resp: str, hosts: int = 8) -> Any:
        recs = [ConnRecord(ts=t, uid=f"C{resp}{t}", orig_h="10.0.0.5", orig_p=40000,
                           resp_h=resp, resp_p=53, proto="udp") for t in times]  # fmt: skip
        n = len(recs)
        X = np.tile([0.5, share, np.log1p(hosts), 0.0], (n, 1))
        members = np.tile([rf_xgb, rf_xgb, 0.5], (n, 1))
        return lr.apply(recs, times, X, np.full(n, 0.9), lr.clean(members), np.ones(n, bool))

    batch(np.cumsum(rng.exponential(10.0, 20)), 0.9, 0.1, "10.0.0.1")  # learned clean
    later = 300.0 + np.cumsum(rng.exponential(10.0, 10))
    assert batch(later, 0.9, 0.9, "10.0.0.1").familiar.all()
    assert not batch(later + 200, 0.1, 0.9, "10.0.0.1").familiar.any()
    # on a one-host network every responder is "most of the site's": not shared
    assert not batch(later + 400, 1.0, 0.9, "10.0.0.1", hosts=1).familiar.any()


#: The guards' features, and a quiet and a fanning-out client's values of them.
GUARD_NAMES = ["src_10s_log_count", "src_2m_fail_share", "src_2m_log_distinct_ports",
               "src_2m_log_distinct_peers", "dst_10s_log_count", "resp_multicast",
               "src_2m_log_count"]  # fmt: skip
QUIET = [0.5, 0.0, 0.0, 0.0, 0.5, 0.0, float(np.log1p(3))]
FANOUT = [0.5, 0.0, float(np.log1p(40)), 0.0, 0.5, 0.0, float(np.log1p(40))]


def test_a_scanning_clients_ordinary_exchanges_may_be_familiar_its_probes_never() -> None:
    """The client-level guards mark a scanning host's every connection; its ordinary
    business on a service it learned is still judged (a DNS answer, and its resolver
    refusing once), its probes of new hosts, its exchanges on services nobody learned
    and anything with evidence are not."""
    lr = SiteLearner(LearningSettings(period="100s"), "v1", "ab" * 32, GUARD_NAMES, MEMBERS)
    quiet, fanout = QUIET, FANOUT

    def batch(t0: float, x: list[float], rows: list[tuple[str, int, str, int | None]],
              evident: bool = False) -> Any:  # fmt: skip
        recs = [ConnRecord(ts=t0 + i, uid=f"C{t0}-{i}", orig_h="10.0.0.5", orig_p=40000 + i,
                           resp_h=resp, resp_p=port, proto="tcp", conn_state=state,
                           orig_bytes=size, resp_bytes=size) for i, (resp, port, state, size)
                in enumerate(rows)]  # fmt: skip
        n = len(recs)
        members = np.tile([0.1, 0.1, 0.9], (n, 1))
        return lr.apply(recs, np.array([r.ts for r in recs]), np.tile(x, (n, 1)),
                        np.full(n, 0.9), lr.clean(members), np.ones(n, bool),
                        evident=np.full(n, evident))  # fmt: skip

    resolver = "10.0.0.1"
    batch(0.0, quiet, [(resolver, 53, "SF", 60)] * 20)  # learned: DNS to the resolver
    out = batch(
        200.0,
        fanout,
        [
            (resolver, 53, "SF", 60),
            (resolver, 53, "REJ", None),
            ("10.0.0.7", 53, "S0", None),
            (resolver, 8443, "SF", 900),
        ],
    )
    assert out.familiar.tolist() == [True, True, False, False]  # fmt: skip
    out = batch(300.0, fanout, [(resolver, 53, "SF", 60)], evident=True)
    assert not out.familiar.any() and out.flags.all()
    # An hour after its last completed exchange, the resolver's refusal is a probe again.
    out = batch(300.0 + 3601.0, fanout, [(resolver, 53, "REJ", None)])
    assert not out.familiar.any()


def test_a_client_that_misbehaved_while_learning_is_not_trusted_with_its_own_services(
    tmp_path: Path,
) -> None:
    """A suspect (guarded while learning) taught its own services itself, its C&C among
    them: while it misbehaves afterwards only the site's services make it familiar. The
    suspects survive a restart."""
    lr = SiteLearner(LearningSettings(period="100s"), "v1", "ab" * 32, GUARD_NAMES, MEMBERS)
    quiet, fanout = QUIET, FANOUT

    def batch(t0: float, x: list[float], rows: list[tuple[str, str, int]]) -> Any:
        recs = [ConnRecord(ts=t0 + i, uid=f"C{t0}-{i}", orig_h=orig, orig_p=40000 + i,
                           resp_h=resp, resp_p=port, proto="tcp", conn_state="SF",
                           orig_bytes=300, resp_bytes=300) for i, (orig, resp, port)
                in enumerate(rows)]  # fmt: skip
        n = len(recs)
        members = np.tile([0.1, 0.1, 0.9], (n, 1))
        return lr.apply(recs, np.array([r.ts for r in recs]), np.tile(x, (n, 1)),
                        np.full(n, 0.9), lr.clean(members), np.ones(n, bool))  # fmt: skip

    bot, peer = "10.0.0.5", "10.0.0.6"
    # While learning: the bot's C&C (its own service), HTTPS that it and a peer use (the
    # site's), then a burst of fan-out: the bot is a suspect; the peer fans out afterwards.
    batch(0.0, quiet, [(bot, "198.51.100.66", 6667)] * 8 + [(bot, "198.51.100.1", 443)] * 4
          + [(peer, "198.51.100.2", 443)] * 4 + [(peer, "198.51.100.3", 5222)] * 8)  # fmt: skip
    batch(50.0, fanout, [(bot, "198.51.100.9", 8000 + i) for i in range(5)])
    assert lr.suspects == {bot}
    out = batch(200.0, fanout, [(bot, "198.51.100.66", 6667), (bot, "198.51.100.7", 443),
                                (peer, "198.51.100.3", 5222)])  # fmt: skip
    assert out.familiar.tolist() == [False, True, True]
    again = SiteLearner(LearningSettings(period="100s"), "v1", "ab" * 32, GUARD_NAMES, MEMBERS)
    again.load_dict(json.loads(json.dumps(lr.to_dict())))
    assert again.suspects == {bot}
