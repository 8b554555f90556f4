"""``hamad dashboard``: what the pages compute (data.py) and show (Streamlit's AppTest).

The log directory is a simulated gateway capture scored by the replay pipeline
with a 15-minute learning period, written as zeekctl leaves it (one hamad.log
rotated and gzipped, the current one, notice.log as JSON). The browser test
(test_app_browser.py) does the same through a real ``hamad serve``.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "pandas", reason="the dashboard extra is not installed (pip install .[dashboard])"
)
pytest.importorskip("streamlit", reason="the dashboard extra is not installed")

from click.testing import CliRunner  # noqa: E402
from dashboard_logs import pipeline_log_dir, simulate  # noqa: E402

from hamad_plugin.cli import cli  # noqa: E402
from hamad_plugin.dashboard import APP, streamlit_command  # noqa: E402
from hamad_plugin.dashboard import data as d  # noqa: E402
from hamad_plugin.dashboard.notices import notices_from_verdicts  # noqa: E402
from hamad_plugin.dashboard.zeeklog import read_logs  # noqa: E402


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dash")
    return pipeline_log_dir(root / "logs", simulate(root / "sim.conn.log"))


def _png(path: Path) -> Path:
    """A 1x1 PNG (the Evaluation page shows whatever plots `hamad eval` wrote)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))  # fmt: skip
    return path


@pytest.fixture(scope="module")
def eval_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("eval")
    m = {"accuracy": 0.9, "precision": 0.6221, "recall": 0.7599, "f1": 0.6842, "fpr": 0.082,
         "roc_auc": 0.918, "tp": 573, "fp": 348, "tn": 3898, "fn": 181, "n": 5000, "n_pos": 754}  # fmt: skip
    (root / "metrics.json").write_text(json.dumps({
        "model": "test-model", "threshold": {"calibrated": 0.06, "mode": "adaptive"},
        "overall_at_calibrated_threshold": m, "overall_as_served": m, "per_file": {"x.log": m},
    }))  # fmt: skip
    for name in ("confusion_matrix.png", "roc.png"):
        _png(root / name)
    return root


def _truth(log_dir: Path) -> dict[str, Any]:
    """Counts straight from the files (not through data.py)."""
    hamad = list(read_logs(log_dir, "hamad"))
    notices = [json.loads(x) for x in (log_dir / "current" / "notice.log").read_text().splitlines()]
    return {
        "verdicts": len(hamad),
        "anomalous": sum(r["anomalous"] for r in hamad),
        "learning": sum(r["learning"] for r in hamad),
        "familiar": sum(r["familiar"] for r in hamad),
        "notices": len(notices),
        "incidents": sum(n["note"] == "HAMAD::Incident" for n in notices),
        # The Alerts page lists incidents first, the newest first.
        "first_alert": max(notices, key=lambda n: (n["note"] == "HAMAD::Incident", n["ts"])),
    }


# --------------------------------------------------------------------------- data


def test_the_log_dir_is_read_with_its_rotated_and_json_files(log_dir: Path) -> None:
    logs = d.load_logs(log_dir)
    t = _truth(log_dir)
    assert logs.source == "zeek" and len(logs.files["hamad"]) == 2
    assert logs.files["hamad"][0].name.endswith(".log.gz"), "oldest (the archive) first"
    s = d.summary(logs)
    assert s["final_verdicts"] == t["verdicts"] == 3000
    assert s["anomalous"] == t["anomalous"] and s["notices"] == t["notices"]
    assert s["while_learning"] == t["learning"] > 0 and s["familiar"] == t["familiar"]
    assert s["incidents"] == t["incidents"] > 0
    inc = logs.notices[logs.notices["note"] == "HAMAD::Incident"]
    assert (inc["total"] >= inc["connections"]).all() and (inc["total"] > inc["connections"]).any()
    assert s["incidents"] + s["connection_notices"] + s["host_notices"] == t["notices"]
    assert logs.verdicts["ts"].is_monotonic_increasing


def test_per_minute_and_histogram_add_up(log_dir: Path) -> None:
    logs = d.load_logs(log_dir)
    pm = d.per_minute(logs)
    assert pm["verdicts"].sum() == 3000
    assert pm["anomalous"].sum() == d.summary(logs)["anomalous"]
    assert pm["notices"].sum() == len(logs.notices)
    assert pm.index.to_series().diff().dropna().nunique() == 1, "every minute, gaps filled"
    h = d.score_histogram(logs)
    assert h.to_numpy().sum() == 3000


def test_the_cache_rereads_only_files_that_changed(log_dir: Path, tmp_path: Path) -> None:
    cache = d.LogCache()
    d.load_logs(log_dir, cache)
    archive = next(p for p in cache.files if p.name.endswith(".gz"))
    before = cache.files[archive][1]
    d.load_logs(log_dir, cache)
    assert cache.files[archive][1] is before


def test_notices_follow_notice_zeek_rules() -> None:
    def v(uid: str, t: float, resp: str, score: float = 0.9, **kw: Any) -> dict[str, Any]:
        return {"ts": t, "uid": uid, "id.orig_h": "10.0.0.9", "id.orig_p": 5, "id.resp_h": resp,
                "id.resp_p": 80, "score": score, "threshold": 0.5, "anomalous": score >= 0.5,
                "top_features": ["f1", "f2"], "top_model": "rf", "model_version": "m",
                "interim": False, "learning": False, "familiar": False, **kw}  # fmt: skip

    rows = [v("A", 0, "1.1.1.1"), v("B", 10, "1.1.1.1"),  # same pair and port: suppressed
            v("C", 20, "1.1.1.2", learning=True),  # while learning: no notice, not counted
            v("D", 30, "1.1.1.3", interim=True), v("E", 40, "1.1.1.4", score=0.2),
            v("F", 50, "1.1.1.5"), v("G", 60, "1.1.1.6"), v("H", 70, "1.1.1.7"),
            v("I", 4000, "1.1.1.1")]  # fmt: skip
    got = list(notices_from_verdicts(rows, host_threshold=5, notice_connections=True))
    conn = [n["uid"] for n in got if n["note"] == "HAMAD::Anomalous_Connection"]
    assert conn == ["A", "D", "F", "G", "H", "I"]
    host = [n for n in got if n["note"] == "HAMAD::Anomalous_Host"]
    assert len(host) == 1 and host[0]["sub"].startswith("last uid=H ")
    hf = d.notices_frame(host)
    assert hf.loc[0, "uid"] == "H" and hf.loc[0, "score"] == 0.9 and hf.loc[0, "top_model"] == "rf"
    first = got[0]
    assert first["msg"] == ("Anomalous connection 10.0.0.9 -> 1.1.1.1:80/tcp: score 0.900 >= "
                            "threshold 0.500; top features: f1, f2; model weighed most: rf")  # fmt: skip
    nf = d.notices_frame(got)
    assert nf.loc[0, "score"] == 0.9 and nf.loc[0, "top_features"] == "f1, f2"
    assert nf.loc[0, "top_model"] == "rf" and nf.loc[0, "model_version"] == "m"


def test_incidents_are_noticed_once_at_incident_min_connections() -> None:
    def v(uid: str, t: float, inc: str, score: float = 0.3, **kw: Any) -> dict[str, Any]:
        return {"ts": t, "uid": uid, "id.orig_h": "10.0.0.9", "id.orig_p": 5,
                "id.resp_h": f"1.1.1.{int(t) % 7}", "id.resp_p": 22, "score": score,
                "threshold": 0.5, "anomalous": True, "top_features": [], "top_model": "rf",
                "model_version": "m", "interim": False, "learning": False, "familiar": False,
                "behaviour": "password-guessing" if inc == "g" else "", "incident": inc,
                **kw}  # fmt: skip

    rows = [v("G1", 0, "g"), v("G2", 1, "g"), v("L1", 1.5, "g", learning=True),
            v("G3", 2, "g"), v("G4", 3, "g"),  # the third after learning raises it, once
            v("G5", 5000, "g"),  # past notice_suppression: still the same incident
            v("A1", 4, "a", 0.55), v("A2", 5, "a", 0.55), v("A3", 6, "a", 0.55)]  # fmt: skip
    got = list(notices_from_verdicts(rows, min_notice_score=0.6))
    assert [(n["note"], n["uid"]) for n in got] == [("HAMAD::Incident", "G3")]
    assert got[0]["msg"].startswith("10.0.0.9: password-guessing, 4 anomalous connections to ")
    assert got[0]["sub"] == "incident=g examples=G1,G2,L1 model=m" and got[0]["n"] == 4
    nf = d.notices_frame(got)
    assert nf.loc[0, "behaviour"] == "password-guessing" and nf.loc[0, "connections"] == 4
    assert nf.loc[0, "uid"] == "G3" and nf.loc[0, "score"] == 0.3
    # Without a behaviour, min_notice_score applies to the incident's highest score.
    assert [n["uid"] for n in notices_from_verdicts(rows)] == ["G3", "A3"]


def test_a_replay_output_dir_is_shown_with_derived_notices(tmp_path: Path) -> None:
    verdict = {"ts": 1.0, "orig_h": "10.0.0.1", "orig_p": 1, "resp_h": "10.0.0.2",
               "resp_p": 22, "proto": "tcp", "score": 0.8, "threshold": 0.1, "anomalous": True,
               "top_features": [["x", 1.0]], "weights": {"rf": 0.1, "xgb": 0.7, "novelty": 0.2},
               "member_scores": {}, "model_version": "m", "interim": False, "learning": False,
               "familiar": False, "behaviour": "", "incident": "10.0.0.1/anomalous/1"}  # fmt: skip
    lines = [json.dumps({**verdict, "uid": f"C{i}", "ts": 1.0 + i}) for i in range(3)]
    (tmp_path / "verdicts.jsonl").write_text("\n".join(lines) + "\n")
    logs = d.load_logs(tmp_path)
    assert logs.source == "replay" and len(logs.verdicts) == 3
    assert logs.verdicts.loc[0, "top_model"] == "xgb"
    assert list(logs.notices["note"]) == ["HAMAD::Incident"]


def test_alert_filters_and_context(log_dir: Path) -> None:
    logs = d.load_logs(log_dir)
    host = logs.notices["src"].mode()[0]
    shown = d.alerts(logs, host)
    assert len(shown) and ((shown["src"] == host) | (shown["dst"] == host)).all()
    assert shown["ts"].is_monotonic_decreasing
    uid = shown["uid"].dropna().iloc[0]
    line, others = d.alert_context(logs, uid, host)
    assert list(line["uid"]) == [uid] and uid not in set(others["uid"])
    assert ((others["orig_h"] == host) | (others["resp_h"] == host)).all()
    t = float(logs.notices["ts"].median())
    assert (d.alerts(logs, since=t)["ts"] >= t).all()


def test_top_hosts(log_dir: Path) -> None:
    logs = d.load_logs(log_dir)
    top = d.top_hosts(logs, "orig_h")
    v = logs.verdicts
    counts = v[v["anomalous"]].groupby("orig_h").size().sort_values(ascending=False)
    assert top.loc[0, "host"] == counts.index[0] and top.loc[0, "anomalous"] == counts.iloc[0]
    assert not d.hosts_over_time(logs, "orig_h", list(top["host"][:3])).empty


def test_scraped_worker_health_and_histogram_quantiles() -> None:
    samples = {
        "hamad_connected": 1.0, "hamad_queue_depth": 3.0, "hamad_queue_capacity": 10.0,
        "hamad_summaries_shed_total": 2.0, "hamad_learning_phase{phase=adapting}": 1.0,
        "hamad_learning_phase{phase=learning}": 0.0,
        "hamad_model_info{hamad_version=0.1.0,model_version=m1,transport=broker,worker=w}": 1.0,
        "hamad_verdict_latency_seconds_bucket{le=1.0}": 50.0,
        "hamad_verdict_latency_seconds_bucket{le=2.0}": 100.0,
        "hamad_verdict_latency_seconds_bucket{le=+Inf}": 100.0,
    }  # fmt: skip
    h = d.worker_health(samples)
    assert h["connected"] and h["queue_depth"] == 3 and h["shed"] == 2
    assert h["learning_phase"] == "adapting" and h["model_version"] == "m1"
    assert h["latency_p50"] == pytest.approx(1.0)
    assert h["latency_p99"] == pytest.approx(1.98)
    assert math.isnan(h["lost"])
    assert math.isnan(d.histogram_quantile({}, "x", 0.5))
    beyond = {"x_bucket{le=1.0}": 1.0, "x_bucket{le=+Inf}": 10.0}
    assert math.isinf(d.histogram_quantile(beyond, "x", 0.5)), "only a lower bound is known"


def test_eval_dir_and_model_card(eval_dir: Path) -> None:
    ev = d.load_eval(eval_dir)
    assert ev["metrics"]["model"] == "test-model"
    assert set(ev["images"]) == {"Confusion matrix", "ROC curve"}
    card = d.model_card(None)
    assert card.manifest.version and len(card.manifest.features.names) > 100


# --------------------------------------------------------------------------- AppTest


@pytest.fixture()
def app(log_dir: Path, eval_dir: Path, tmp_path: Path) -> Iterator[Any]:
    from streamlit.testing.v1 import AppTest

    cfg = {"logs": str(log_dir), "eval": str(eval_dir), "refresh": 0,
           "state_dir": str(tmp_path / "no-state")}  # fmt: skip
    old = os.environ.get("HAMAD_DASHBOARD")
    os.environ["HAMAD_DASHBOARD"] = json.dumps(cfg)
    try:
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.run()
        yield at
    finally:
        if old is None:
            os.environ.pop("HAMAD_DASHBOARD", None)
        else:
            os.environ["HAMAD_DASHBOARD"] = old


def _open(at: Any, page: str) -> dict[str, str]:
    at.sidebar.radio[0].set_value(page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [h.value for h in at.header] == [page]
    return {m.label: m.value for m in at.metric}


def test_live_page(app: Any, log_dir: Path) -> None:
    t = _truth(log_dir)
    m = _open(app, "Live")
    assert m["Verdicts"] == f"{t['verdicts']:,}" and m["Anomalous"] == f"{t['anomalous']:,}"
    assert m["Incidents"] == f"{t['incidents']:,}"
    assert m["Familiar (not flagged)"] == f"{t['familiar']:,}"
    assert any("while learning" in i.value for i in app.info)
    assert any("--metrics" in c.value for c in app.caption), "tells how to add worker health"


def test_alerts_page_opens_an_alert_with_its_hamad_log_line(app: Any, log_dir: Path) -> None:
    t = _truth(log_dir)
    m = _open(app, "Alerts")
    assert m["Alerts shown"] == f"{t['notices']:,} of {t['notices']:,}"
    newest = t["first_alert"]
    assert newest["note"] == "HAMAD::Incident"
    # An incident's $sub: incident=<id> examples=<uids> model=...; its score in $msg.
    sub = dict(x.split("=", 1) for x in newest["sub"].split() if "=" in x)
    uid = newest["uid"]
    assert m["Score"] == newest["msg"].rsplit("highest score ", 1)[1]
    assert any(uid in md.value for md in app.markdown)
    inc = app.dataframe[1].value
    assert set(inc["incident"]) == {sub["incident"]}, "its connections"
    assert set(sub["examples"].split(",")) <= set(inc["uid"])
    assert uid in set(app.dataframe[2].value["uid"]), "its hamad.log line"
    host = newest["src"]
    app.selectbox[0].set_value(host).run()
    m = {x.label: x.value for x in app.metric}
    n_host = sum(1 for line in (log_dir / "current" / "notice.log").read_text().splitlines()
                 if host in (json.loads(line).get("src"), json.loads(line).get("dst")))  # fmt: skip
    assert m["Alerts shown"] == f"{n_host:,} of {t['notices']:,}"


def test_hosts_model_and_evaluation_pages(app: Any, log_dir: Path) -> None:
    _open(app, "Hosts")
    logs = d.load_logs(log_dir)
    top = d.top_hosts(logs, "orig_h")
    assert app.table[0].value.index[0] == top.loc[0, "host"]
    m = _open(app, "Model")
    manifest = d.model_card(None).manifest
    assert m["Model version"] == manifest.version
    assert m["Features"] == str(len(manifest.features.names))
    assert any("Nothing learned yet" in x.value for x in app.markdown)
    m = _open(app, "Evaluation")
    assert m["Precision"] == "0.6221" and m["ROC-AUC"] == "0.9180"
    conf = app.table[0].value
    assert (
        conf.loc["malicious", "pred. malicious"] == 573
        and conf.loc["benign", "pred. benign"] == 3898
    )


def test_cli_checks_its_options_and_the_extra(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["dashboard", "--logs", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "does not exist" in res.output
    cmd = streamlit_command("127.0.0.1", 8600)
    assert cmd[1:4] == ["-m", "streamlit", "run"] and "--server.headless" in cmd
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"


def test_an_incident_shows_the_behaviour_most_of_its_logged_connections_carry() -> None:
    """Zeek notices a host's incident at its third connection, before the guards named it:
    the Alerts page names it from hamad.log (most named lines), else as the notice did."""
    import pandas as pd

    rows = [("H/anomalous/1", "", True), ("H/anomalous/1", "", True), ("H/anomalous/1", "scan", True),
            ("H/anomalous/1", "scan", True), ("H/anomalous/1", "flood", True),
            ("H/anomalous/1", "flood", False), ("H/anomalous/1", "flood", False),
            ("G/anomalous/5", "", True)]  # fmt: skip
    verdicts = pd.DataFrame([{"incident": i, "behaviour": b, "anomalous": a, "interim": False}
                             for i, b, a in rows])  # fmt: skip
    notices = pd.DataFrame([{"incident": "H/anomalous/1", "behaviour": "anomalous", "connections": 3},
                            {"incident": "G/anomalous/5", "behaviour": "anomalous", "connections": 3},
                            {"incident": None, "behaviour": "", "connections": 1}])  # fmt: skip
    logs = d.Logs(verdicts=verdicts, notices=notices, files={}, source="zeek")
    assert logs.notices["behaviour"].tolist() == ["scan", "anomalous", ""]
    assert logs.notices["total"].tolist() == [5, 1, 1]
