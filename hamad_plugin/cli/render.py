"""Text the commands print: metric tables, per-label tables, learning lines.

Pure functions of plain dicts, so every command prints one figure the same way."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from ..scoring.incidents import NOTICE_MIN_CONNECTIONS


def fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def metrics_table(rows: dict[str, dict[str, Any]]) -> str:
    cols = ["n", "n_pos", "precision", "recall", "f1", "fpr", "roc_auc", "pr_auc"]
    width = max([len(k) for k in rows] + [8])
    lines = [f"{'capture':<{width}}  " + "  ".join(f"{c:>9}" for c in cols)]
    for name, m in rows.items():
        vals = [m.get(c, m.get(f"{c}_approx")) for c in cols]
        lines.append(f"{name:<{width}}  " + "  ".join(f"{fmt(v):>9}" for v in vals))
    return "\n".join(lines)


def learning_line(ls: dict[str, Any], where: str) -> str:
    """One line on what the site learner did (replay, info, learn status)."""
    return (
        f"learning ({where}): {ls['phase']}, period {ls['period']}; {ls['learned']} connections "
        f"learned, {ls['kept_out']} kept out as malicious-looking, {ls['familiar_services']} "
        f"familiar services of {ls['services']}"
    )


def label_table(rows: list[dict[str, Any]], m: dict[str, Any]) -> list[str]:
    """Per (detailed) label: rows and how many were flagged; false alarms per 10,000 benign."""
    width = max([len(r["label"]) for r in rows] + [14])
    lines = [
        "per label (flagged = scored anomalous):",
        f"  {'class':<9}  {'label':<{width}}  {'rows':>8}  {'flagged':>8}  {'share':>8}",
    ]
    for r in rows:
        cls = "malicious" if r["malicious"] else "benign"
        share = f"{100.0 * r['flagged'] / r['rows']:.1f} %"
        lines.append(
            f"  {cls:<9}  {r['label']:<{width}}  {r['rows']:>8}  {r['flagged']:>8}  {share:>8}"
        )
    if m["n_neg"]:
        lines.append(
            f"false alarms: {m['fp']} of {m['n_neg']} benign rows = "
            f"{1e4 * m['fp'] / m['n_neg']:.1f} per 10,000 benign connections"
        )
    return lines


def service_line(key: tuple[str, str, int, str]) -> str:
    kind, addr, port, proto = key
    who = {"c": "client", "g": "group", "s": "site", "r": "server"}.get(kind, kind)
    return f"{who:<6} {addr or '(any)':<39} {f'{port}/{proto}':<11}"


def replay_summary(d: dict[str, Any], model_version: str, mode: str) -> list[str]:
    """What ``hamad replay`` prints about a run, from its summary dict."""
    lo, hi = d["threshold_range"]
    used = f"{lo:.4f}..{hi:.4f}" if d["connections"] else "-"
    lines = [
        f"model {model_version}: {d['connections']} connections in {d['seconds']:.2f} s "
        f"({d['connections_per_second']:,.0f}/s), {d['anomalous']} anomalous "
        f"(threshold {used}, mode {mode})"
    ]
    if d["malformed_lines"]:
        lines.append(
            f"skipped {d['malformed_lines']} malformed lines: " + "; ".join(d["malformed_examples"])
        )
    if d["time_jumps_clamped"]:
        lines.append(
            f"{d['time_jumps_clamped']} connections ended more than an hour after the one before "
            "them and were scored at the event clock instead (a bad timestamp must not move it); "
            f"{d['time_jumps_accepted']} such gaps were confirmed by the connections after them"
        )
    if d["top_anomalies"]:
        lines.append("top anomalies:")
        lines += [_anomaly_line(v) for v in d["top_anomalies"]]
    lines += [learning_line(ls, PurePath(ls["file"]).name) for ls in d["learning"]]
    if d["learning"]:
        lines.append(
            f"  {d['scored_while_learning']} connections scored while learning, "
            f"{d['familiar']} not flagged afterwards as familiar services"
        )
    lines += incident_lines(d["incidents"], d["incidents_noticed"])
    if "metrics" in d:
        lines += _labelled_lines(d)
    return lines


def incident_lines(incidents: list[dict[str, Any]], noticed: int, n: int = 10) -> list[str]:
    """The incidents of a replay, the largest first: what an operator would read."""
    if not incidents:
        return ["incidents: none"]
    lines = [
        f"incidents: {len(incidents)} ({noticed} raised as HAMAD::Incident on Zeek's defaults: "
        f"at least {NOTICE_MIN_CONNECTIONS} anomalous connections, after learning); largest:"
    ]
    for i in sorted(incidents, key=lambda x: (-x["connections"], x["first"]))[:n]:
        first, last = (_utc(i["first"]), _utc(i["last"]))
        lines.append(
            f"  {i['orig_h']:<15} {i['behaviour']:<17} {i['connections']:>6} conns to "
            f"{i['peers']:>4} responders ({', '.join(i['services'][:3])})  {first}..{last}  "
            f"score {i['score']:.3f}" + ("  (while learning)" if i["while_learning"] else "")
        )
    return lines


def _utc(ts: float) -> str:
    """24-hour UTC, the date only when it is not obvious."""
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%m-%d %H:%M")


def _anomaly_line(v: dict[str, Any]) -> str:
    feats = ", ".join(n for n, _ in v["top_features"])
    top_model = max(v["weights"], key=v["weights"].get) if v["weights"] else "-"
    return (
        f"  {v['score']:.3f}  {v['uid']}  {v['orig_h']}:{v['orig_p']} -> "
        f"{v['resp_h']}:{v['resp_p']}/{v['proto']}  [{feats}; weighed most: {top_model}]"
    )


def _labelled_lines(d: dict[str, Any]) -> list[str]:
    """Metrics of a labelled replay, per label, and after the learning period."""
    m = d["metrics"]
    keys = ("precision", "recall", "f1", "fpr", "roc_auc_approx", "pr_auc_approx")
    lines = [
        f"labelled rows: {m['n']} ({m['n_pos']} malicious, {m['n_neg']} benign, "
        f"{d['unlabelled_rows']} Background/unknown not scored)",
        "  " + "  ".join(f"{k}={fmt(m[k])}" for k in keys),
        f"  confusion: tp={m['tp']} fp={m['fp']} tn={m['tn']} fn={m['fn']}",
        *label_table(d["per_label"], m),
    ]
    a = d.get("metrics_after_learning")
    if a is not None:
        fa = f"{1e4 * a['fp'] / a['n_neg']:.1f}" if a["n_neg"] else "n/a"
        lines.append(
            f"after learning: {a['n']} labelled rows ({a['n_pos']} malicious, "
            f"{a['n_neg']} benign): recall={fmt(a['recall'])}, {a['fp']} false alarms "
            f"= {fa} per 10,000 benign"
        )
        if a["n"]:
            lines += ["  " + line for line in label_table(d.get("per_label_after_learning", []), a)]
    return lines
