"""packaging/grafana/hamad-dashboard.json only queries metrics that exist.

The worker's names come from a live WorkerMetrics registry, Zeek's from
zeek_scripts/telemetry.zeek (Zeek adds ``zeek_`` and ``_total`` to counters).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from fake_zeek import bytes_scorer

from hamad_plugin.worker.loop import Worker
from hamad_plugin.worker.prometheus import WorkerMetrics
from hamad_plugin.worker.transport.websocket import WebSocketTransport

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "packaging" / "grafana" / "hamad-dashboard.json"


def _exprs(obj: object) -> list[str]:
    if isinstance(obj, dict):
        return ([obj["expr"]] if isinstance(obj.get("expr"), str) else []) + [
            e for v in obj.values() for e in _exprs(v)
        ]
    if isinstance(obj, list):
        return [e for v in obj for e in _exprs(v)]
    return []


def _worker_names() -> set[str]:
    health = {"threshold": 0.1, "learning": "learning", "learning_services": 1,
              "time_jumps_clamped": 0, "time_jumps_accepted": 0, "learning_learned": 0,
              "learning_kept_out": 0, "learning_familiar": 0}  # fmt: skip
    m = WorkerMetrics(lambda: health)
    Worker(lambda: WebSocketTransport(), bytes_scorer(), metrics=m)
    m.refresh(force=True)
    return {s.name for fam in m.registry.collect() for s in fam.samples}


def _zeek_names() -> set[str]:
    text = (REPO / "zeek_scripts" / "telemetry.zeek").read_text()
    counters = set(re.findall(r'\["(\w+)"\] =', text)) | {"notices"}
    gauges = {"worker_available", "summaries_outstanding"}
    assert all(f'$name="hamad_{g}"' in text.replace(" ", "") for g in gauges)
    return {f"zeek_hamad_{c}_total" for c in counters} | {f"zeek_hamad_{g}" for g in gauges}


def test_the_grafana_dashboard_queries_only_existing_metrics() -> None:
    dash = json.loads(DASHBOARD.read_text())
    exprs = _exprs(dash["panels"])
    assert len(exprs) >= 20
    used = {n for e in exprs for n in re.findall(r"\b(?:zeek_)?hamad_\w+", e)}
    known = _worker_names() | _zeek_names()
    assert used - known == set()
    assert any(n.startswith("zeek_hamad_") for n in used) and "hamad_connected" in used
    assert dash["__inputs"][0]["pluginId"] == "prometheus"
