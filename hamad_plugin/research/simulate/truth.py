"""The ground-truth JSON written next to the log: parameters, network, scenarios, counts.

Why it exists: evaluations score detections against it; it is built from the plan and
the counts :func:`~.run.simulate` kept, and written with a fixed layout.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import __version__
from .addresses import _ip_text, _public_ip
from .devices import _KIND_INDEX, DEVICE_KINDS
from .plan import Plan
from .zeek import _US

if TYPE_CHECKING:
    from .result import SimResult


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def ground_truth(plan: Plan, res: SimResult) -> dict[str, Any]:
    """The summary written next to the log: parameters, network, scenarios, label counts."""
    cfg = plan.cfg
    scen = []
    for r in plan.scenarios:
        j = r.index + 1
        target = {
            "fresh": "a new public address per connection",
            "victims": ", ".join(_ip_text(int(a)) for a in _public_ip(np.arange(4), r.salt)),
            "one": _ip_text(int(_public_ip(np.zeros(1, np.int64), r.salt)[0])),
            "nas": _ip_text(int(plan.host_ip(plan.by_kind[_KIND_INDEX["nas"]][:1])[0])),
            "gateway": _ip_text(plan.gateway),
        }[r.spec.target]
        scen.append(
            {
                "name": r.spec.name,
                "label": "Malicious",
                "detailed_label": r.spec.label,
                "actor": _ip_text(int(plan.host_ip(np.array([r.actor]))[0])),
                "actor_kind": r.spec.actor,
                "target": target,
                "start": _iso(cfg.start + r.offset),
                "start_offset_s": round(r.offset, 3),
                "interval_s": r.spec.interval,
                "connections": int(res.counts[j]),
                "first_ts": int(res.first_ts[j]) / _US if res.counts[j] else None,
                "last_ts": int(res.last_ts[j]) / _US if res.counts[j] else None,
                "about": r.spec.about,
            }
        )
    detailed: dict[str, int] = {"-": int(res.counts[0])}
    for r in plan.scenarios:
        detailed[r.spec.label] = detailed.get(r.spec.label, 0) + int(res.counts[r.index + 1])
    return {
        "generator": f"hamad simulate (hamad {__version__})",
        "note": "simulated traffic; detection figures on it are not evidence on real traffic",
        "seed": cfg.seed,
        "parameters": {
            "connections": cfg.connections,
            "hosts": cfg.hosts,
            "duration_s": cfg.duration,
            "start": _iso(cfg.start),
            "format": cfg.fmt,
            "scenarios": [f"{c.name}@{c.offset:g}s" for c in cfg.scenarios],
        },
        "network": {
            "lan": plan.lan,
            "gateway": _ip_text(plan.gateway),
            "hosts_by_kind": {
                k.name: int(len(h))
                for k, h in zip(DEVICE_KINDS, plan.by_kind, strict=True)
                if len(h)
            },
            "periodic_streams": int(len(plan.streams.host)),
            "periodic_connections": plan.n_periodic,
        },
        "capture": {"start": _iso(cfg.start), "end": _iso(cfg.start + cfg.duration)},
        "rows": res.rows,
        "labels": {"Benign": int(res.counts[0]), "Malicious": int(res.counts[1:].sum())},
        "detailed_labels": detailed,
        "scenarios": scen,
    }


def write_truth(path: str, truth: dict[str, Any]) -> None:
    with open(path, "w") as fh:
        json.dump(truth, fh, indent=1)
        fh.write("\n")
