"""The notices ``zeek_scripts/notice.zeek`` would raise for hamad.log rows.

Why a module of its own: the dashboard shows ``hamad replay`` output as Zeek
would have logged it, so it needs notice.log too; this is the one Python copy
of the script's notice rules (tested against the script's btest baselines'
formats in tests/dashboard/test_app.py).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Iterator
from typing import Any

from ..scoring.incidents import EXAMPLES, NOTICE_MIN_CONNECTIONS

#: An incident that lasts is noticed again after a day (``incidents_noticed``'s expiry).
REMIND = 86400.0


def notices_from_verdicts(
    rows: Iterable[dict[str, Any]],
    min_notice_score: float = 0.0,
    suppression: float = 3600.0,
    host_threshold: int = 0,
    host_window: float = 600.0,
    notice_while_learning: bool = False,
    incident_min_connections: int = NOTICE_MIN_CONNECTIONS,
    notice_connections: bool = False,
) -> Iterator[dict[str, Any]]:
    """The notices ``zeek_scripts/notice.zeek`` raises for these hamad.log rows.

    Same rules and message formats as the script on its default options (see
    docs/zeek.md, "Notices"); the notice's time is the connection's ``ts``
    (Zeek's is the network time the verdict arrived). An incident's counts
    are folded here from the rows that carry its id, as the worker folds them.
    """
    last: dict[tuple[str, ...], float] = {}
    windows: dict[str, list[float]] = {}  # orig -> [window start, count]
    incidents: dict[str, list[Any]] = {}  # id -> [count, peers, first, score, uids]
    noticed: dict[str, float] = {}  # incident id -> when it was noticed

    def raise_(key: tuple[str, ...], t: float) -> bool:
        prev = last.get(key)
        if prev is not None and t - prev < suppression:
            return False
        last[key] = t
        return True

    for r in rows:
        if not r["anomalous"]:
            continue
        t, orig, resp, rp = r["ts"], r["id.orig_h"], r["id.resp_h"], r["id.resp_p"]
        inc_id = r.get("incident") or ""
        inc = incidents.get(inc_id) if inc_id else None
        if inc_id and not r["interim"]:
            if inc is None:
                inc = incidents[inc_id] = [0, set(), t, 0.0, []]
            inc[0] += 1
            inc[1].add(resp)
            inc[3] = max(inc[3], r["score"])
            if len(inc[4]) < EXAMPLES:
                inc[4].append(r["uid"])
        if r["learning"] and not notice_while_learning:
            continue
        proto = r.get("proto", "tcp")
        model = r["top_model"] or "n/a"
        if (
            inc is not None
            and inc[0] >= incident_min_connections
            and (inc[3] >= min_notice_score or bool(r.get("behaviour")))
            and t - noticed.get(inc_id, -math.inf) >= REMIND
        ):
            # Once per incident and day, as the script's incidents_noticed set.
            noticed[inc_id] = t
            what = r.get("behaviour") or "anomalous"
            since = dt.datetime.fromtimestamp(inc[2], dt.timezone.utc).strftime(
                "%Y-%m-%d %H:%M:%S %z"
            )
            yield {
                "ts": t,
                "uid": r["uid"],
                "note": "HAMAD::Incident",
                "src": orig,
                "msg": f"{orig}: {what}, {inc[0]} anomalous connections to {len(inc[1])} "
                f"responders since {since} (e.g. {resp}:{rp}/{proto}), highest score "
                f"{inc[3]:.3f}",
                "sub": f"incident={inc_id} examples={','.join(inc[4])} model={r['model_version']}",
                "n": inc[0],
                "actions": ["Notice::ACTION_LOG"],
                "suppress_for": suppression,
            }
        if host_threshold > 0 and not r["interim"]:
            w = windows.get(orig)
            if w is None or t - w[0] > host_window:
                w = windows[orig] = [t, 0]
            w[1] += 1
            if w[1] == host_threshold and raise_(("host", orig), t):
                yield {
                    "ts": t,
                    "uid": None,
                    "note": "HAMAD::Anomalous_Host",
                    "src": orig,
                    "msg": f"{orig} originated {host_threshold} anomalous connections within "
                    f"{_zeek_interval(host_window)}",
                    "sub": f"last uid={r['uid']} score={r['score']:.3f} model={r['top_model']}",
                    "actions": ["Notice::ACTION_LOG"],
                    "suppress_for": suppression,
                }
        if (
            not notice_connections
            or r["score"] < min_notice_score
            or not raise_(("conn", orig, resp, str(rp)), t)
        ):
            continue
        feats = ", ".join(r["top_features"]) or "n/a"
        sub = f"score={r['score']:.3f} threshold={r['threshold']:.3f} model={model} " + (
            f"version={r['model_version']}"
        )
        sub += " interim" if r["interim"] else ""
        sub += " learning" if r["learning"] else ""
        yield {
            "ts": t,
            "uid": r["uid"],
            "id.orig_h": orig,
            "id.orig_p": r["id.orig_p"],
            "id.resp_h": resp,
            "id.resp_p": rp,
            "proto": proto,
            "note": "HAMAD::Anomalous_Connection",
            "msg": f"Anomalous connection {orig} -> {resp}:{rp}/{proto}: score "
            f"{r['score']:.3f} >= threshold {r['threshold']:.3f}; top features: {feats}; "
            f"model weighed most: {model}",
            "sub": sub,
            "src": orig,
            "dst": resp,
            "p": rp,
            "actions": ["Notice::ACTION_LOG"],
            "suppress_for": suppression,
        }


def _zeek_interval(seconds: float) -> str:
    """Zeek's rendering of an interval in ``fmt("%s")`` (``10.0 mins``)."""
    for unit, size in (("days", 86400), ("hrs", 3600), ("mins", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} secs"
