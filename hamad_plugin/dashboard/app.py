"""The Streamlit app behind ``hamad dashboard`` (``streamlit run`` this file).

Settings come from the environment variable ``HAMAD_DASHBOARD`` (JSON:
``logs``, ``metrics``, ``eval``, ``model``, ``state_dir``, ``refresh``), which
the CLI sets; tests set it too. Everything computed lives in
:mod:`hamad_plugin.dashboard.data`; this file only lays it out.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import time
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from hamad_plugin.dashboard import data

PAGES = ("Live", "Alerts", "Hosts", "Model", "Evaluation")


def settings() -> dict[str, Any]:
    cfg: dict[str, Any] = json.loads(os.environ.get("HAMAD_DASHBOARD", "{}") or "{}")
    cfg.setdefault("logs", ".")
    cfg.setdefault("refresh", 5.0)
    return cfg


@st.cache_resource
def _log_cache() -> data.LogCache:
    return data.LogCache()


def load(cfg: dict[str, Any]) -> data.Logs:
    return data.load_logs(cfg["logs"], _log_cache())


@st.cache_data(ttl=60, show_spinner=False)
def _model_card(model: str | None) -> data.ModelCard:
    return data.model_card(model)


@st.cache_data(ttl=30, show_spinner=False)
def _learned(model: str | None, state_dir: str | None) -> dict[str, Any] | None:
    return data.learned_state(model, state_dir)


def when(ts: float) -> str:
    if ts is None or (isinstance(ts, float) and math.isnan(ts)):
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def num(x: float, fmt: str = ",.0f") -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def ago(ts: float) -> str:
    if math.isnan(ts):
        return ""
    s = time.time() - ts
    if s < 0:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            return f" ({s / size:.0f} {unit} ago)"
    return f" ({s:.0f} s ago)"


# --------------------------------------------------------------------------- Live


def page_live(cfg: dict[str, Any]) -> None:
    logs = load(cfg)
    s = data.summary(logs)
    st.header("Live")
    src = (
        "hamad.log + notice.log"
        if logs.source == "zeek"
        else "hamad replay verdicts (notices derived as notice.zeek raises them)"
    )
    nfiles = sum(len(v) for v in logs.files.values())
    st.caption(
        f"{cfg['logs']}: {src}, {nfiles} file{'s' if nfiles != 1 else ''}; last verdict for a "
        f"connection started {when(s['last_ts'])}{ago(s['last_ts'])}"
    )
    if logs.bad_lines or logs.damaged:
        st.warning(f"{logs.bad_lines} malformed lines skipped. " + " ".join(logs.damaged))
    c = st.columns(5)
    c[0].metric("Verdicts", num(s["final_verdicts"]))
    c[1].metric("Anomalous", num(s["anomalous"]))
    c[2].metric("Incidents", num(s["incidents"]), help=f"{s['notices']:,} HAMAD notices in all")
    c[3].metric("Threshold in force", num(s["threshold"], ".4f"))
    c[4].metric("Familiar (not flagged)", num(s["familiar"]))
    if s["while_learning"]:
        st.info(
            f"Learning the site: {s['while_learning']:,} verdicts were made while learning "
            f"(logged, no notices), the last for a connection at {when(s['learning_until'])}."
        )
    pm = data.per_minute(logs)
    if pm.empty:
        st.write("No verdicts yet.")
    else:
        left, right = st.columns(2)
        with left:
            st.subheader("Verdicts, anomalies and notices per minute")
            st.altair_chart(rate_chart(pm), width="stretch")
        with right:
            st.subheader("Threshold in force (shaded: learning period)")
            st.altair_chart(threshold_chart(pm), width="stretch")
        st.subheader("Score distribution")
        st.altair_chart(score_chart(data.score_histogram(logs)), width="stretch")
    worker_section(cfg)


#: Series colours: all verdicts, anomalous verdicts, notices.
COLOURS = {"verdicts": "#8da0b3", "anomalous": "#d62728", "notices": "#ff9f1c",
           "normal": "#4c78a8"}  # fmt: skip


def _legend_colour(field: str, names: list[str]) -> alt.Color:
    return alt.Color(f"{field}:N", sort=names, title=None, legend=alt.Legend(orient="bottom"),
                     scale=alt.Scale(domain=names, range=[COLOURS[n] for n in names]))  # fmt: skip


def time_axis(field: str) -> alt.X:
    """A time axis in 24-hour UTC, like every other time on these pages (a browser's
    default would be 12-hour local: "05:04" for 17:04 UTC)."""
    return alt.X(field, title="UTC", scale=alt.Scale(type="utc"),
                 axis=alt.Axis(format="%H:%M", labelOverlap=True))  # fmt: skip


def rate_chart(pm: pd.DataFrame) -> alt.Chart:
    names = ["verdicts", "anomalous", "notices"]
    df = pm.reset_index().melt("minute", names, "series", "count")
    chart: alt.Chart = (
        alt.Chart(df)
        .mark_line()
        .encode(
            x=time_axis("minute:T"),
            y=alt.Y("count:Q", title="per minute"),
            color=_legend_colour("series", names),
            strokeDash=alt.StrokeDash(
                "series:N",
                sort=names,
                legend=None,
                scale=alt.Scale(domain=names, range=[[1, 0], [1, 0], [5, 3]]),
            ),
        )
        .properties(height=260)
    )
    return chart


def score_chart(hist: pd.DataFrame) -> alt.Chart:
    names = ["normal", "anomalous"]
    df = hist.reset_index().melt("score", names, "verdict", "count")
    chart: alt.Chart = (
        alt.Chart(df[df["count"] > 0])
        .mark_bar()
        .encode(
            x=alt.X("score:O", title="score (bin start)"),
            y=alt.Y(
                "count:Q",
                title="verdicts (log scale)",
                scale=alt.Scale(type="symlog"),
                axis=alt.Axis(values=[0, 10, 100, 1000, 10000]),
            ),
            color=_legend_colour("verdict", names),
            xOffset=alt.XOffset("verdict:N", sort=names),
            tooltip=["score", "verdict", "count"],
        )
        .properties(height=260)
    )
    return chart


def threshold_chart(pm: pd.DataFrame) -> alt.LayerChart:
    df = pm.reset_index()
    df["learning_band"] = df["learning"].fillna(0) >= 0.5
    df["end"] = df["minute"] + pd.Timedelta(minutes=1)
    base = alt.Chart(df).encode(x=time_axis("minute:T"))
    # A rect with only x and x2 spans the whole height of the plot.
    band = (
        base.transform_filter("datum.learning_band")
        .mark_rect(color="#f4c542", opacity=0.35)
        .encode(x2="end:T")
    )
    line = base.mark_line(color="#1f77b4").encode(
        y=alt.Y(
            "threshold:Q",
            title="threshold",
            scale=alt.Scale(domain=[0.0, min(1.0, 1.5 * float(df["threshold"].max()))]),
        )
    )
    chart: alt.LayerChart = alt.layer(band, line).properties(height=260)
    return chart


def worker_section(cfg: dict[str, Any]) -> None:
    st.subheader("Worker health")
    url = cfg.get("metrics")
    if not url:
        st.caption(
            "Start `hamad serve --metrics-port PORT` and pass `--metrics "
            "http://127.0.0.1:PORT` to see the worker's queue, shedding and latency here."
        )
        return
    try:
        h = data.worker_health(data.scrape(url))
    except OSError as exc:
        st.error(f"Cannot reach the worker's metrics at {url}: {exc}")
        return
    c = st.columns(6)
    c[0].metric("Connected to Zeek", "yes" if h["connected"] else "NO")
    c[1].metric(
        "Queue depth",
        num(h["queue_depth"]),
        help=f"Summaries waiting; shedding starts at {num(h['queue_capacity'])}.",
    )
    c[2].metric("Shed", num(h["shed"]))
    c[3].metric("Lost", num(h["lost"]))
    c[4].metric(
        "Lag p50",
        secs(h["latency_p50"]),
        help="Connection end (ts + duration) to verdict sent, wall clock, median; "
        "includes Zeek's inactivity timeout. On a replay it is the age of the traffic.",
    )
    c[5].metric("Learning phase", h["learning_phase"] or "-")
    st.caption(
        f"{h['worker']}: model {h['model_version']}; summaries received "
        f"{num(h['received'])}, scored {num(h['scored'])}, rejected {num(h['rejected'])}, "
        f"scoring errors {num(h['scoring_errors'])}, reconnects {num(h['reconnects'])}; "
        f"threshold in force {num(h['threshold'], '.4f')}; worker latency p99 "
        f"{secs(h['worker_latency_p99'])}. Source: {url}"
    )


def secs(x: float) -> str:
    if x is None or math.isnan(x):
        return "-"
    if math.isinf(x):
        return "> 1 h"
    if x >= 120:
        return f"{x / 60:.1f} min"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.1f} s"


# --------------------------------------------------------------------------- Alerts


def page_alerts(cfg: dict[str, Any]) -> None:
    logs = load(cfg)
    st.header("Alerts")
    n = logs.notices
    if n.empty:
        st.write("No HAMAD notices in the logs.")
        return
    hosts = sorted(set(n["src"].dropna()) | set(n["dst"].dropna()))
    f1, f2 = st.columns([1, 2])
    # Keyed: a live refresh that brings new notices keeps what the operator picked.
    host = (
        f1.selectbox("Host", [""] + hosts, format_func=lambda h: h or "all hosts", key="host") or ""
    )
    lo, hi = _dt(n["ts"].min()), _dt(n["ts"].max())
    if hi > lo:
        rng = f2.slider(
            "Time (UTC)", min_value=lo, max_value=hi, value=(lo, hi), format="MM-DD HH:mm"
        )
    else:
        rng = (lo, hi)
    shown = data.alerts(logs, host, rng[0].timestamp(), rng[1].timestamp() + 1)
    incidents = int((shown["note"] == "HAMAD::Incident").sum())
    st.metric("Alerts shown", f"{len(shown):,} of {len(n):,}",
              help=f"{incidents:,} incidents (listed first), then the other notices")  # fmt: skip
    table = shown.assign(time=shown["ts"].map(when))[
        [
            "time",
            "note",
            "behaviour",
            "total",
            "src",
            "dst",
            "p",
            "score",
            "threshold",
            "top_model",
            "top_features",
            "uid",
        ]
    ]
    table = table.rename(columns={"total": "connections"})
    st.dataframe(table.astype(object).where(table.notna(), ""), hide_index=True, width="stretch",
                 height=280)  # fmt: skip
    if shown.empty:
        return
    labels = {
        i: f"{when(r.ts)}  {r.note.split('::')[1]}{_what(r)}  {r.src}{_to(r.dst, r.p)}  "
        f"score {r.score:.3f}"
        for i, r in shown.iterrows()
    }
    pick = st.selectbox("Open an alert", list(labels), format_func=labels.__getitem__, key="alert")
    r = shown.loc[pick]
    last = " (the host's last anomalous one)" if r["note"] == "HAMAD::Anomalous_Host" else ""
    uid = f", connection `{r['uid']}`{last}" if isinstance(r["uid"], str) else ""
    st.markdown(f"**{r['note']}** at {when(r['ts'])}{uid}")
    st.code(r["msg"], language=None, wrap_lines=True)
    c = st.columns(3)
    c[0].metric("Score", num(r["score"], ".3f"))
    c[1].metric("Threshold", num(r["threshold"], ".3f"))
    c[2].metric("Model weighed most", r["top_model"] or "-")
    host_of = r["src"] if isinstance(r["src"], str) else r["orig_h"]
    line, others = data.alert_context(
        logs, r["uid"] if isinstance(r["uid"], str) else None, host_of
    )
    cols = ["time"] + [c for c in data.VERDICT_FIELDS if c not in ("ts", "model_version")]
    if r["note"] == "HAMAD::Incident":
        inc = data.incident_verdicts(logs, r["incident"])
        st.markdown(f"Its connections in hamad.log ({len(inc):,}, oldest first):")
        verdict_table(inc, cols)
    if len(line):
        st.markdown("Its hamad.log line:")
        st.dataframe(line.assign(time=line["ts"].map(when))[cols], hide_index=True, width="stretch")
    st.markdown(f"Other verdicts of {host_of} ({len(others):,}, newest first):")
    verdict_table(others, cols)


def verdict_table(v: pd.DataFrame, cols: list[str], rows: int = 500) -> None:
    """The first ``rows`` hamad.log lines of ``v``, times in UTC."""
    head = v.head(rows)
    st.dataframe(head.assign(time=head["ts"].map(when))[cols], hide_index=True, width="stretch",
                 height=240)  # fmt: skip


def _what(r: Any) -> str:
    """`` (beacon, 27 connections)`` of an incident, or nothing."""
    if r.note != "HAMAD::Incident":
        return ""
    n = r.total if pd.notna(r.total) else r.connections
    return f" ({r.behaviour}, {int(n):,} connections)"


def _to(dst: Any, p: Any) -> str:
    """`` -> dst:port`` of a notice, or nothing (Anomalous_Host has neither)."""
    if not isinstance(dst, str):
        return ""
    return f" -> {dst}" + (f":{int(p)}" if pd.notna(p) else "")


def _dt(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(ts), dt.timezone.utc).replace(tzinfo=None)


# --------------------------------------------------------------------------- Hosts


def page_hosts(cfg: dict[str, Any]) -> None:
    logs = load(cfg)
    st.header("Hosts")
    st.caption("Hosts with the most anomalous connections (final verdicts).")
    left, right = st.columns(2)
    for col, column, title in ((left, "orig_h", "Originators"), (right, "resp_h", "Responders")):
        top = data.top_hosts(logs, column)
        with col:
            st.subheader(title)
            if top.empty:
                st.write("None anomalous.")
                continue
            st.altair_chart(host_chart(top), width="stretch")
            st.table(
                top.assign(
                    last_seen=top["last_seen"].dt.strftime("%m-%d %H:%M UTC"),
                    max_score=top["max_score"].map("{:.3f}".format),
                ).set_index("host")
            )
    top = data.top_hosts(logs, "orig_h", 5)
    if not top.empty:
        st.subheader("Top originators over time (anomalous connections per 10 minutes)")
        st.altair_chart(hosts_chart(data.hosts_over_time(logs, "orig_h", list(top["host"]))),
                        width="stretch")  # fmt: skip


def hosts_chart(over_time: pd.DataFrame) -> alt.Chart:
    df = over_time.reset_index().melt("time", var_name="host", value_name="anomalous")
    chart: alt.Chart = (
        alt.Chart(df)
        .mark_line(point=True)
        .encode(
            x=time_axis("time:T"),
            y=alt.Y("anomalous:Q", title="anomalous connections"),
            color=alt.Color("host:N", title="originator"),
            tooltip=[
                "host",
                alt.Tooltip("time:T", format="%Y-%m-%d %H:%M", formatType="utc", title="UTC"),
                "anomalous",
            ],
        )  # fmt: skip
        .properties(height=260)
    )
    return chart


def host_chart(top: pd.DataFrame) -> alt.Chart:
    chart: alt.Chart = (
        alt.Chart(top)
        .mark_bar(color=COLOURS["anomalous"])
        .encode(
            x=alt.X("anomalous:Q", title="anomalous connections"),
            y=alt.Y("host:N", sort="-x", title=None),
            tooltip=["host", "anomalous", "verdicts", "max_score"],
        )
        .properties(height=24 * len(top) + 40)
    )
    return chart


# --------------------------------------------------------------------------- Model


def page_model(cfg: dict[str, Any]) -> None:
    st.header("Model")
    try:
        card = _model_card(cfg.get("model"))
    except Exception as exc:  # noqa: BLE001 - shown to the operator instead of a traceback
        st.error(f"Cannot read the model: {exc}")
        return
    mf = card.manifest
    t = mf.threshold
    c = st.columns([2, 1, 1, 1])
    c[0].metric("Model version", mf.version)
    c[1].metric("Features", f"{len(mf.features.names)}")
    c[2].metric("Calibrated threshold", num(t.threshold, ".4f"))
    c[3].metric("Target FPR", f"{t.target_fpr:g}")
    st.caption(
        f"{card.dir}; created {mf.created} with hamad "
        f"{mf.hamad_version}; members {', '.join(mf.members)} fused "
        f"by {mf.fusion}; threshold mode {t.mode}; sha256 "
        f"{mf.model_sha256[:16]}..."
    )
    st.subheader("Learned state of this site")
    lr = _learned(cfg.get("model"), cfg.get("state_dir"))
    if lr is None:
        st.write(
            "Nothing learned yet for this model (no state file in the worker's state "
            "directory; pass --state-dir to point at it)."
        )
    else:
        k = st.columns(5)
        k[0].metric("Phase", lr.get("phase", "-"))
        k[1].metric("Learned", num(lr.get("learned", math.nan)))
        k[2].metric("Kept out", num(lr.get("kept_out", math.nan)))
        k[3].metric("Familiar services", num(lr.get("familiar_services", math.nan)))
        k[4].metric("Not flagged as familiar", num(lr.get("familiar", math.nan)))
        st.caption(
            f"{lr.get('state')}; period {lr.get('period')}, learning until network time "
            f"{when(lr['learning_until']) if lr.get('learning_until') else '-'}"
        )
    st.subheader("Provenance")
    files = mf.training.files if mf.training is not None else ()
    if files:
        st.table(
            pd.DataFrame(
                [
                    {
                        "capture": f.capture,
                        "path": f.path,
                        "sha256": f.sha256[:16],
                        "labelled rows": f.labelled_rows,
                    }
                    for f in files
                ]
            ).set_index("capture")
        )
    if mf.metrics:
        with st.expander("Held-out metrics recorded at training"):
            st.json(dict(mf.metrics))
    if mf.libraries:
        st.caption("Libraries: " + ", ".join(f"{k} {v}" for k, v in mf.libraries.items()))
    st.subheader("Features")
    names, descs = list(mf.features.names), list(mf.features.descriptions or ())
    st.dataframe(
        pd.DataFrame({"feature": names, "meaning": (descs + [""] * len(names))[: len(names)]}),
        hide_index=True,
        width="stretch",
        height=300,
    )
    if card.card:
        with st.expander("Model card"):
            st.markdown(card.card)


# --------------------------------------------------------------------------- Evaluation


def page_evaluation(cfg: dict[str, Any]) -> None:
    st.header("Evaluation")
    d = cfg.get("eval")
    if not d:
        st.write(
            "Run `hamad eval --data LABELLED_CONN_LOG --out DIR` and start the dashboard "
            "with `--eval DIR` to see its confusion matrix, ROC and PR curves here."
        )
        return
    try:
        ev = data.load_eval(d)
    except (OSError, ValueError) as exc:
        st.error(f"Cannot read {d}/metrics.json: {exc}")
        return
    m = ev["metrics"]
    o = m.get("overall_at_calibrated_threshold", {})
    st.caption(
        f"{d}: model {m.get('model')}, calibrated threshold "
        f"{num(m.get('threshold', {}).get('calibrated', math.nan), '.4f')}"
    )
    c = st.columns(5)
    names = {"precision": "Precision", "recall": "Recall", "f1": "F1", "fpr": "FPR",
             "roc_auc": "ROC-AUC"}  # fmt: skip
    for i, (k, label) in enumerate(names.items()):
        c[i].metric(label, num(o.get(k, math.nan), ".4f"))
    left, right = st.columns([2, 3])
    with left:
        st.markdown("Confusion (calibrated threshold)")
        st.table(
            pd.DataFrame(
                {
                    "pred. benign": [o.get("tn"), o.get("fn")],
                    "pred. malicious": [o.get("fp"), o.get("tp")],
                },
                index=["benign", "malicious"],
            )
        )
    with right:
        rows = {
            "at calibrated threshold": o,
            "as served": m.get("overall_as_served", {}),
            **m.get("per_file", {}),
        }
        keys = ["n", "n_pos", "precision", "recall", "f1", "fpr", "tp", "fp", "tn", "fn"]
        table = pd.DataFrame({k: [r.get(k) for r in rows.values()] for k in keys}, index=list(rows))
        st.table(table.map(lambda x: f"{x:.4f}" if isinstance(x, float) else x))
    cols = st.columns(2)
    for i, (title, path) in enumerate(ev["images"].items()):
        with cols[i % 2]:
            st.image(str(path), caption=title, width="stretch")


# --------------------------------------------------------------------------- main

RENDER = {
    "Live": page_live,
    "Alerts": page_alerts,
    "Hosts": page_hosts,
    "Model": page_model,
    "Evaluation": page_evaluation,
}


def main() -> None:
    st.set_page_config(page_title="HAMAD", page_icon=":shield:", layout="wide")
    cfg = settings()
    if "page" not in st.session_state:  # a link with ?page=alerts opens that page
        wanted = str(st.query_params.get("page", "live")).capitalize()
        st.session_state["page"] = wanted if wanted in PAGES else "Live"
    st.sidebar.title("HAMAD")
    page = st.sidebar.radio("Page", PAGES, key="page") or "Live"
    st.query_params["page"] = page.lower()
    live = st.sidebar.toggle(
        "Refresh live", value=float(cfg["refresh"]) > 0, disabled=page in ("Model", "Evaluation")
    )
    st.sidebar.caption(f"Logs: {cfg['logs']}")
    if cfg.get("metrics"):
        st.sidebar.caption(f"Worker metrics: {cfg['metrics']}")
    render = RENDER[page]
    if live and page not in ("Model", "Evaluation"):
        st.fragment(render, run_every=max(float(cfg["refresh"]), 1.0))(cfg)
    else:
        render(cfg)


main()
