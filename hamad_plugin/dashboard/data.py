"""What the dashboard shows, computed without Streamlit (so it is unit-tested directly).

Sources:

* a Zeek log directory: ``hamad.log`` and ``notice.log`` (read by
  :mod:`hamad_plugin.dashboard.zeeklog`: TSV or JSON, rotated, compressed). Where it
  holds no ``hamad.log`` but ``hamad replay --out`` verdict files
  (``*.jsonl``), those are shown as hamad.log lines and the notices are derived
  from them as ``notice.zeek`` would raise them on its default options
  (:func:`notices_from_verdicts`), so ``make run`` has something to show
  without Zeek;
* the worker's Prometheus endpoint (``hamad serve --metrics-port``);
* a ``hamad eval`` output directory, the model's ``metadata.json`` and
  ``hamad learn status --json``.

Rotated files never change, so :class:`LogCache` re-reads a file only when
its size or modification time did: on a refresh only the current
``hamad.log`` is read again.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..core.manifest import ModelManifest
from .notices import notices_from_verdicts
from .zeeklog import LogStats, find_logs, read_log

#: The columns both logs start with: when, which connection, between whom.
_CONN_ID_COLUMNS: list[tuple[str, str]] = [
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
]
#: hamad.log's columns and Zeek types (docs/zeek.md, "hamad.log").
HAMAD_COLUMNS: list[tuple[str, str]] = [
    *_CONN_ID_COLUMNS,
    ("score", "double"),
    ("threshold", "double"),
    ("anomalous", "bool"),
    ("top_features", "vector[string]"),
    ("top_model", "string"),
    ("model_version", "string"),
    ("interim", "bool"),
    ("learning", "bool"),
    ("familiar", "bool"),
    ("behaviour", "string"),
    ("incident", "string"),
]
#: The notice.log columns HAMAD's notices fill (Zeek's others are unset for them).
NOTICE_COLUMNS: list[tuple[str, str]] = [
    *_CONN_ID_COLUMNS,
    ("proto", "enum"),
    ("note", "enum"),
    ("msg", "string"),
    ("sub", "string"),
    ("src", "addr"),
    ("dst", "addr"),
    ("p", "port"),
    ("n", "count"),
    ("actions", "set[enum]"),
    ("suppress_for", "interval"),
]
#: Renamed for display and joins (conn.log style without ``id.``).
_RENAME = {
    "id.orig_h": "orig_h",
    "id.orig_p": "orig_p",
    "id.resp_h": "resp_h",
    "id.resp_p": "resp_p",
}
#: The verdict frame's columns: hamad.log's, without ``id.``.
VERDICT_FIELDS = [_RENAME.get(name, name) for name, _ in HAMAD_COLUMNS]
NOTICE_FIELDS = [
    "ts",
    "note",
    "behaviour",
    "connections",
    "total",
    "incident",
    "uid",
    "src",
    "dst",
    "p",
    "orig_h",
    "resp_h",
    "resp_p",
    "score",
    "threshold",
    "top_model",
    "top_features",
    "model_version",
    "msg",
    "sub",
]
HAMAD_NOTES = (
    "HAMAD::Incident",
    "HAMAD::Anomalous_Connection",
    "HAMAD::Anomalous_Host",
    "HAMAD::Worker_Unavailable",
)


# --------------------------------------------------------------------------- reading logs


@dataclass
class LogCache:
    """Rows per file, re-read only when the file's size or mtime changed."""

    files: dict[Path, tuple[tuple[int, float], list[dict[str, Any]], LogStats]] = field(
        default_factory=dict
    )

    def rows(self, path: Path) -> tuple[list[dict[str, Any]], LogStats]:
        st = path.stat()
        sig = (st.st_size, st.st_mtime)
        hit = self.files.get(path)
        if hit is not None and hit[0] == sig:
            return hit[1], hit[2]
        stats = LogStats()
        rows = list(read_log(path, stats))
        self.files[path] = (sig, rows, stats)
        return rows, stats


@dataclass
class Logs:
    """The dashboard's view of a log directory."""

    verdicts: pd.DataFrame
    notices: pd.DataFrame
    #: Files read, per stream.
    files: dict[str, list[Path]]
    #: "zeek" (hamad.log + notice.log) or "replay" (verdicts.jsonl, notices derived).
    source: str
    bad_lines: int = 0
    damaged: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        """An incident's notice counts its connections when it was raised; the logs know
        them all: ``total`` is the anomalous hamad.log lines (final verdicts) with its id,
        and ``behaviour`` the one most of its named lines carry (a host's incident is
        noticed at its third connection, often before the guards named it a scan or a
        flood)."""
        n = self.notices
        ids = n["incident"]
        v = self.verdicts
        mine = v[v["anomalous"] & ~v["interim"]]
        total = ids.map(mine.groupby("incident").size())
        self.notices["total"] = total.where(ids.notna(), n["connections"])
        named = mine[(mine["behaviour"] != "") & (mine["behaviour"] != "anomalous")]
        most = ids.map(
            named.groupby("incident")["behaviour"].agg(lambda b: b.value_counts().index[0])
        )
        self.notices["behaviour"] = most.where(most.notna(), n["behaviour"])


def load_logs(root: str | Path, cache: LogCache | None = None) -> Logs:
    """Read ``hamad.log`` and ``notice.log`` (or replay verdicts) under ``root``."""
    cache = cache or LogCache()
    hamad_files = find_logs(root, "hamad")
    bad = 0
    damaged: list[str] = []
    if hamad_files:
        vrows: list[dict[str, Any]] = []
        for f in hamad_files:
            rows, st = cache.rows(f)
            # A row with a reason is a summary the worker could not score, not a verdict.
            vrows.extend(r for r in rows if not r.get("reason"))
            bad += st.bad_lines
            damaged += st.damaged
        nrows: list[dict[str, Any]] = []
        notice_files = find_logs(root, "notice")
        for f in notice_files:
            rows, st = cache.rows(f)
            nrows.extend(r for r in rows if str(r.get("note", "")).startswith("HAMAD::"))
            bad += st.bad_lines
            damaged += st.damaged
        return Logs(
            verdicts_frame(vrows),
            notices_frame(nrows),
            {"hamad": hamad_files, "notice": notice_files},
            "zeek",
            bad,
            damaged,
        )
    replay_files = sorted(Path(root).glob("*.jsonl")) if Path(root).is_dir() else []
    vrows = []
    for f in replay_files:
        rows, st = cache.rows(f)
        vrows.extend(hamad_row_from_verdict(r) for r in rows if "score" in r)
        bad += st.bad_lines
    notices = list(notices_from_verdicts(vrows))
    return Logs(
        verdicts_frame(vrows),
        notices_frame(notices),
        {"replay": replay_files},
        "replay",
        bad,
        damaged,
    )


def hamad_row_from_verdict(v: dict[str, Any]) -> dict[str, Any]:
    """A ``hamad replay --out`` JSON verdict as the hamad.log line Zeek would write for it."""
    weights = v.get("weights") or {}
    return {
        "ts": float(v["ts"]),
        "uid": v["uid"],
        "id.orig_h": v["orig_h"],
        "id.orig_p": v["orig_p"],
        "id.resp_h": v["resp_h"],
        "id.resp_p": v["resp_p"],
        "score": float(v["score"]),
        "threshold": float(v["threshold"]),
        "anomalous": bool(v["anomalous"]),
        "top_features": [f[0] if isinstance(f, list) else f for f in v.get("top_features", [])],
        "top_model": max(weights, key=lambda k: weights[k]) if weights else "",
        "model_version": v.get("model_version", ""),
        "interim": bool(v.get("interim")),
        "learning": bool(v.get("learning")),
        "familiar": bool(v.get("familiar")),
        "behaviour": v.get("behaviour") or "",
        "incident": v.get("incident") or "",
        "proto": v.get("proto", "tcp"),
    }


def _time(ts: pd.Series) -> pd.Series:
    return pd.to_datetime(ts, unit="s", utc=True)


def verdicts_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """hamad.log rows -> one row per verdict, sorted by connection start."""
    df = pd.DataFrame(rows).rename(columns=_RENAME)
    for c in VERDICT_FIELDS:
        if c not in df:
            df[c] = pd.Series(dtype="object")
    df = df[VERDICT_FIELDS].copy()
    df["top_features"] = df["top_features"].map(
        lambda x: ", ".join(x) if isinstance(x, list) else (x or "")
    )
    for c in ("anomalous", "interim", "learning", "familiar"):
        df[c] = df[c].fillna(False).astype(bool)
    for c in ("score", "threshold", "ts"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    df["time"] = _time(df["ts"])
    return df.sort_values("ts", kind="stable").reset_index(drop=True)


_SUB = re.compile(
    r"score=(?P<score>[\d.]+) threshold=(?P<threshold>[\d.]+) model=(?P<model>\S+)"
    r"(?: version=(?P<version>\S+))?"
)
_FEATS = re.compile(r"top features: (?P<feats>.*?); model weighed most")
#: Anomalous_Host's $sub: the host's last anomalous connection.
_HOST_SUB = re.compile(r"last uid=(?P<uid>\S+) score=(?P<score>[\d.]+) model=(?P<model>\S*)")
#: Incident's $msg and $sub: behaviour, connections, highest score; the example uids.
_INCIDENT_MSG = re.compile(
    r"^\S+: (?P<behaviour>[\w-]+), (?P<n>\d+) anomalous connections.*highest score "
    r"(?P<score>[\d.]+)"
)
_INCIDENT_SUB = re.compile(
    r"incident=(?P<id>\S+) examples=(?P<uid>[^,\s]+)\S* model=(?P<version>\S*)"
)


def notices_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """HAMAD notices with the explanation taken apart (score, threshold, model, features).

    An ``Anomalous_Host`` notice has no connection of its own; its ``uid``, score
    and model are those of the host's last anomalous connection (from ``$sub``).
    An ``Incident``'s uid is its first example, its score the incident's highest.
    """
    out = []
    for r in rows:
        sub = str(r.get("sub") or "")
        msg = str(r.get("msg") or "")
        m = _SUB.search(sub)
        f = _FEATS.search(msg)
        h = None if m else _HOST_SUB.search(sub)
        i = _INCIDENT_MSG.search(msg) if r.get("note") == "HAMAD::Incident" else None
        e = _INCIDENT_SUB.search(sub) if i else None
        score = m["score"] if m else h["score"] if h else i["score"] if i else math.nan
        out.append(
            {
                "ts": r.get("ts"),
                "note": r.get("note"),
                "behaviour": i["behaviour"] if i else "",
                "connections": int(i["n"]) if i else (1 if m else math.nan),
                "total": math.nan,
                "incident": e["id"] if e else None,
                "uid": r.get("uid") or (h["uid"] if h else e["uid"] if e else None),
                "src": r.get("src"),
                "dst": r.get("dst"),
                "p": r.get("p"),
                "orig_h": r.get("id.orig_h"),
                "resp_h": r.get("id.resp_h"),
                "resp_p": r.get("id.resp_p"),
                "score": float(score),
                "threshold": float(m["threshold"]) if m else math.nan,
                "top_model": m["model"] if m else h["model"] if h else "",
                "model_version": (m["version"] or "") if m else e["version"] if e else "",
                "top_features": f["feats"] if f else "",
                "msg": msg,
                "sub": sub,
            }
        )
    df = pd.DataFrame(out, columns=NOTICE_FIELDS)
    df["ts"] = pd.to_numeric(df["ts"], errors="coerce")
    df["time"] = _time(df["ts"])
    return df.sort_values("ts", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- live figures


def summary(logs: Logs) -> dict[str, Any]:
    """Headline numbers of the Live page."""
    v = logs.verdicts
    final = v[~v["interim"]]
    n = logs.notices
    last = v["ts"].max() if len(v) else math.nan
    learning = v[v["learning"]]
    return {
        "verdicts": len(v),
        "final_verdicts": len(final),
        "anomalous": int(final["anomalous"].sum()),
        "familiar": int(final["familiar"].sum()),
        "while_learning": int(final["learning"].sum()),
        "notices": len(n),
        "incidents": int((n["note"] == "HAMAD::Incident").sum()),
        "connection_notices": int((n["note"] == "HAMAD::Anomalous_Connection").sum()),
        "host_notices": int((n["note"] == "HAMAD::Anomalous_Host").sum()),
        "threshold": float(v["threshold"].iloc[-1]) if len(v) else math.nan,
        "first_ts": float(v["ts"].min()) if len(v) else math.nan,
        "last_ts": float(last),
        "learning_until": float(learning["ts"].max()) if len(learning) else math.nan,
        "model_versions": sorted(set(v["model_version"].dropna())),
    }


def per_minute(logs: Logs) -> pd.DataFrame:
    """Verdicts, anomalies, notices, threshold and learning share per minute."""
    v = logs.verdicts
    if v.empty:
        return pd.DataFrame(columns=["verdicts", "anomalous", "notices", "threshold", "learning"])
    final = v[~v["interim"]]
    g = final.groupby(final["time"].dt.floor("min"))
    out = pd.DataFrame(
        {
            "verdicts": g.size(),
            "anomalous": g["anomalous"].sum().astype(int),
            "threshold": g["threshold"].median(),
            "learning": g["learning"].mean(),
        }
    )
    n = logs.notices
    notices = n.groupby(n["time"].dt.floor("min")).size() if len(n) else pd.Series(dtype=int)
    out["notices"] = notices.reindex(out.index).fillna(0).astype(int)
    full = pd.date_range(out.index.min(), out.index.max(), freq="min")
    out = out.reindex(full)
    for c in ("verdicts", "anomalous", "notices"):
        out[c] = out[c].fillna(0).astype(int)
    out.index.name = "minute"
    return out


def score_histogram(logs: Logs, bins: int = 20) -> pd.DataFrame:
    """Verdicts per score bin (final verdicts), split by anomalous or not."""
    import numpy as np

    v = logs.verdicts[~logs.verdicts["interim"]]
    edges = np.linspace(0.0, 1.0, bins + 1)
    labels = [f"{a:.2f}" for a in edges[:-1]]
    out = pd.DataFrame(index=pd.Index(labels, name="score"))
    for name, part in (("normal", v[~v["anomalous"]]), ("anomalous", v[v["anomalous"]])):
        counts, _ = np.histogram(part["score"].clip(0, 1), bins=edges)
        out[name] = counts
    return out


def top_hosts(logs: Logs, column: str, n: int = 10) -> pd.DataFrame:
    """The ``n`` hosts (``orig_h`` or ``resp_h``) with most anomalous final verdicts."""
    v = logs.verdicts[~logs.verdicts["interim"]]
    if v.empty:
        return pd.DataFrame(columns=["host", "anomalous", "verdicts", "max_score", "last_seen"])
    g = v.groupby(column)
    df = pd.DataFrame(
        {
            "anomalous": g["anomalous"].sum().astype(int),
            "verdicts": g.size(),
            "max_score": g["score"].max(),
            "last_seen": g["time"].max(),
        }
    )
    df = df[df["anomalous"] > 0].sort_values(["anomalous", "max_score"], ascending=False)
    return df.head(n).rename_axis("host").reset_index()


def hosts_over_time(logs: Logs, column: str, hosts: list[str], freq: str = "10min") -> pd.DataFrame:
    """Anomalous final verdicts per ``freq`` for each of ``hosts``."""
    v = logs.verdicts
    v = v[~v["interim"] & v["anomalous"] & v[column].isin(hosts)]
    if v.empty:
        return pd.DataFrame()
    t = v["time"].dt.floor(freq)
    return v.groupby([t, v[column]]).size().unstack(fill_value=0).rename_axis("time")


def alerts(
    logs: Logs, host: str = "", since: float | None = None, until: float | None = None
) -> pd.DataFrame:
    """Notices, newest first, filtered by host (source, destination or originator) and time."""
    n = logs.notices
    if host:
        n = n[
            (n["src"] == host) | (n["dst"] == host) | (n["orig_h"] == host) | (n["resp_h"] == host)
        ]
    if since is not None:
        n = n[n["ts"] >= since]
    if until is not None:
        n = n[n["ts"] <= until]
    # Incidents first (an operator reads those), then the rest; newest first in each.
    first = (n["note"] != "HAMAD::Incident").astype(int)
    return (
        n.assign(_first=first)
        .sort_values(["_first", "ts"], ascending=[True, False], kind="stable")
        .drop(columns="_first")
    )


def incident_verdicts(logs: Logs, incident: str) -> pd.DataFrame:
    """The hamad.log lines of an incident (the ``incident`` its notice names)."""
    v = logs.verdicts
    return v[v["incident"] == incident].sort_values("ts", kind="stable")


def alert_context(
    logs: Logs, uid: str | None, host: str | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An alert's hamad.log line(s) (by uid) and the other verdicts of its host."""
    v = logs.verdicts
    line = v[v["uid"] == uid] if uid else v.iloc[0:0]
    others = (
        v[((v["orig_h"] == host) | (v["resp_h"] == host)) & (v["uid"] != uid)]
        if host
        else (v.iloc[0:0])
    )
    return line, others.sort_values("ts", ascending=False)


# --------------------------------------------------------------------------- worker metrics


def scrape(url: str, timeout: float = 3.0) -> dict[str, float]:
    """The samples of a Prometheus endpoint: ``name{label=value,...}`` -> value.

    Raises ``OSError`` when the endpoint cannot be reached.
    """
    from prometheus_client.parser import text_string_to_metric_families

    if not url.rstrip("/").endswith("/metrics"):
        url = url.rstrip("/") + "/metrics"
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        text = resp.read().decode("utf-8", "replace")
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[s.name + (f"{{{labels}}}" if labels else "")] = float(s.value)
    return out


def histogram_quantile(samples: dict[str, float], name: str, q: float) -> float:
    """Estimate a quantile from a scraped histogram's buckets (as PromQL does)."""
    buckets = []
    for key, value in samples.items():
        m = re.fullmatch(re.escape(name) + r"_bucket\{le=([^,}]+)\}", key)
        if m:
            le = math.inf if m.group(1) == "+Inf" else float(m.group(1))
            buckets.append((le, value))
    buckets.sort()
    if not buckets or buckets[-1][1] == 0:
        return math.nan
    rank = q * buckets[-1][1]
    prev_le, prev_c = 0.0, 0.0
    for le, c in buckets:
        if c >= rank:
            if math.isinf(le):
                return math.inf  # beyond the last bucket: only a lower bound is known
            return prev_le + (le - prev_le) * ((rank - prev_c) / (c - prev_c) if c > prev_c else 1)
        prev_le, prev_c = le, c
    return math.nan


def worker_health(samples: dict[str, float]) -> dict[str, Any]:
    """The Live page's worker figures from a scrape of ``hamad serve --metrics-port``."""

    def g(name: str) -> float:
        return samples.get(name, math.nan)

    info = next((k for k in samples if k.startswith("hamad_model_info{")), "")
    labels = dict(re.findall(r"(\w+)=([^,}]*)", info))
    phase = next(
        (
            p
            for p in ("learning", "adapting", "off")
            if samples.get(f"hamad_learning_phase{{phase={p}}}") == 1
        ),
        "",
    )
    return {
        "connected": g("hamad_connected") == 1,
        "queue_depth": g("hamad_queue_depth"),
        "queue_capacity": g("hamad_queue_capacity"),
        "received": g("hamad_summaries_received_total"),
        "scored": g("hamad_summaries_scored_total"),
        "shed": g("hamad_summaries_shed_total"),
        "rejected": g("hamad_summaries_rejected_total"),
        "lost": g("hamad_verdicts_lost_total"),
        "scoring_errors": g("hamad_scoring_errors_total"),
        "reconnects": g("hamad_reconnects_total"),
        "threshold": g("hamad_threshold"),
        "learning_phase": phase,
        "model_version": labels.get("model_version", ""),
        "worker": labels.get("worker", ""),
        "latency_p50": histogram_quantile(samples, "hamad_verdict_latency_seconds", 0.5),
        "latency_p99": histogram_quantile(samples, "hamad_verdict_latency_seconds", 0.99),
        "worker_latency_p99": histogram_quantile(samples, "hamad_worker_latency_seconds", 0.99),
    }


# --------------------------------------------------------------------------- model, evaluation


@dataclass(frozen=True)
class ModelCard:
    """What the Model page shows: the model's manifest, its directory, its model card."""

    dir: str
    manifest: ModelManifest
    #: The README.md next to the model (or of its models folder); "" if there is none.
    card: str


def model_card(model: str | None) -> ModelCard:
    """The model's validated metadata.json, its directory and the model card text if any."""
    from ..scoring.model import read_manifest, resolve_model_dir

    d = resolve_model_dir(model)
    manifest = read_manifest(d / "metadata.json")
    card = next((p for p in (d / "README.md", d.parent / "README.md") if p.is_file()), None)
    return ModelCard(str(d), manifest, card.read_text() if card else "")


def learned_state(model: str | None, state_dir: str | None) -> dict[str, Any] | None:
    """``hamad learn status --json`` for this model and state directory (None if nothing)."""
    cmd = [
        sys.executable,
        "-c",
        "from hamad_plugin.cli import main; main()",
        "learn",
        "status",
        "--json",
    ]
    if model:
        cmd += ["--model", model]
    if state_dir:
        cmd += ["--state-dir", state_dir]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    text = out.stdout.strip()
    if out.returncode != 0 or not text.startswith("{"):
        return None
    result: dict[str, Any] = json.loads(text)
    return result


EVAL_IMAGES = {
    "confusion_matrix.png": "Confusion matrix",
    "roc.png": "ROC curve",
    "pr.png": "Precision-recall curve",
    "score_hist.png": "Score distributions",
}


def load_eval(directory: str | Path) -> dict[str, Any]:
    """A ``hamad eval --out`` directory: metrics.json and the plots that exist."""
    d = Path(directory)
    metrics = json.loads((d / "metrics.json").read_text())
    images = {title: d / name for name, title in EVAL_IMAGES.items() if (d / name).is_file()}
    return {"metrics": metrics, "images": images}
