"""Sharded scoring against one worker: how much the verdicts move (``hamad shards``).

A Zeek cluster with proxies splits the site between ``hamad serve`` shards by
originator (``Cluster::hrw_topic`` over the proxy pool, docs/zeek.md "Scaling
out"): every connection of one host reaches the same shard, so the features
keyed by originator, the pair features, the behaviour evidence, incidents and
what the site learner learns of a host are exactly what one worker computes.
The groups keyed by something other than the originator are not: the
responder's (``dst_*``: how many connections and distinct peers a responder
saw), the service's and the site's windows (what the ``*_share`` features are
relative to) each count only the shard's own originators' share of the
traffic, and each shard's adaptive threshold follows its own share of scores.
This module measures what that approximation costs on a log: the same file
scored once whole and once split into ``n`` shards, each shard a fresh
pipeline as a fresh ``hamad serve`` would be, compared connection by
connection and on the detection figures of labelled input.

Which shard a host lands on is a stable hash of its address here; Zeek's HRW
uses another function, but any split by originator has the same property, and
the figures below are reported for several shard counts so that no one split
is tuned on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.records import ConnColumns
from ..core.settings import Settings
from ..offline.ingest import read_conn_log
from ..offline.replay import label_malicious, noticed


def shard_of(addr: str, shards: int) -> int:
    """The shard of an originator: a stable hash of its address, modulo ``shards``."""
    digest = hashlib.blake2b(addr.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


@dataclass
class Scored:
    """What one run said of each connection, by uid, and its noticed incidents."""

    anomalous: dict[str, bool] = field(default_factory=dict)
    score: dict[str, float] = field(default_factory=dict)
    learning: dict[str, bool] = field(default_factory=dict)
    incidents: int = 0


@dataclass
class Labels:
    """The labels of a labelled log, by uid (the evaluator reads them; the detector never)."""

    malicious: dict[str, bool] = field(default_factory=dict)
    name: dict[str, str] = field(default_factory=dict)


def score_file(
    path: str | Path,
    make_pipeline: Callable[[], Any],
    shards: int,
    batch_size: int,
    labels: Labels | None = None,
    progress: Callable[[int], None] | None = None,
) -> Scored:
    """Score ``path`` on ``shards`` fresh pipelines, each fed only its originators' rows.

    ``shards=1`` is one worker. Batches keep the file's order within each shard,
    as a proxy passes its share of the stream on in arrival order.
    """
    pipes = [make_pipeline() for _ in range(shards)]
    pending: list[list[ConnColumns]] = [[] for _ in range(shards)]
    held = [0] * shards
    out = Scored()

    def run(k: int) -> None:
        batch = ConnColumns.concat(pending[k])
        pending[k], held[k] = [], 0
        v = pipes[k].score_columns(batch)
        for uid, a, s, lr in zip(
            v.uid, v.anomalous.tolist(), v.score.tolist(), v.learning.tolist(), strict=True
        ):
            out.anomalous[uid], out.score[uid], out.learning[uid] = bool(a), float(s), bool(lr)

    reader = read_conn_log(path)
    for cols in reader.batches(batch_size):
        if labels is not None:
            for uid, lab, det in zip(cols.uid, cols.label, cols.detailed_label, strict=True):
                mal = label_malicious(lab)
                if mal is not None:  # Background, Unknown: not labelled (as replay reads them)
                    labels.malicious[uid] = mal
                    labels.name[uid] = det or lab or ""
        if shards == 1:
            pending[0], held[0] = [cols], len(cols)
            run(0)
        else:
            by_shard: list[list[int]] = [[] for _ in range(shards)]
            for i, h in enumerate(cols.orig_h):
                by_shard[shard_of(h, shards)].append(i)
            for k, rows in enumerate(by_shard):
                if rows:
                    pending[k].append(cols.take(rows))
                    held[k] += len(rows)
                    if held[k] >= batch_size:
                        run(k)
        if progress is not None:
            progress(len(cols))
    for k in range(shards):
        if held[k]:
            run(k)
    out.incidents = sum(noticed(i.to_dict()) for p in pipes for i in p.incidents.incidents())
    return out


@dataclass
class Comparison:
    """One file: one worker against ``shards`` shards."""

    file: str
    shards: int
    connections: int
    #: Connections whose anomalous flag is the same in both runs.
    same_flag: int
    #: The same, among connections scored after learning in both runs.
    after_learning: int
    same_after_learning: int
    mean_abs_score_diff: float
    incidents: tuple[int, int]
    #: Per label (labelled input, after learning): rows, flagged by one worker, by shards.
    per_label: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    @property
    def agreement(self) -> float:
        return self.same_flag / self.connections if self.connections else 1.0

    @property
    def agreement_after_learning(self) -> float:
        n = self.after_learning
        return self.same_after_learning / n if n else 1.0

    def largest_move(self, min_rows: int = 100) -> float:
        """The largest change of an attack label's flagged share (recall), in percentage
        points, among labels with at least ``min_rows`` rows (one row of a six-row label
        is 17 points: noise, listed by :func:`table` instead)."""
        moves = [
            abs(b - a) * 100.0 / n
            for name, (n, a, b) in self.per_label.items()
            if n >= min_rows and name != "benign"
        ]
        return max(moves, default=0.0)

    def false_alarms(self) -> tuple[float, float]:
        """Benign connections flagged per 10,000 (after learning): one worker, shards."""
        n, a, b = self.per_label.get("benign", (0, 0, 0))
        return (a * 1e4 / n, b * 1e4 / n) if n else (0.0, 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "shards": self.shards,
            "connections": self.connections,
            "agreement": round(self.agreement, 5),
            "agreement_after_learning": round(self.agreement_after_learning, 5),
            "mean_abs_score_diff": round(self.mean_abs_score_diff, 5),
            "noticed_incidents": {"one": self.incidents[0], "sharded": self.incidents[1]},
            "largest_recall_move_points": round(self.largest_move(), 2),
            "false_alarms_per_10k": [round(x, 2) for x in self.false_alarms()],
            "per_label": {
                k: {"rows": n, "one": a, "sharded": b} for k, (n, a, b) in self.per_label.items()
            },
        }


def compare(path: str, one: Scored, split: Scored, shards: int, labels: Labels) -> Comparison:
    """Connection-by-connection agreement and per-label flagged counts of two runs."""
    uids = [u for u in one.anomalous if u in split.anomalous]
    same = sum(one.anomalous[u] == split.anomalous[u] for u in uids)
    after = [u for u in uids if not one.learning[u] and not split.learning[u]]
    same_after = sum(one.anomalous[u] == split.anomalous[u] for u in after)
    diff = [abs(one.score[u] - split.score[u]) for u in uids]
    per: dict[str, list[int]] = {}
    for u in after:
        if u not in labels.name:
            continue
        name = labels.name[u] if labels.malicious[u] else "benign"
        row = per.setdefault(name, [0, 0, 0])
        row[0] += 1
        row[1] += one.anomalous[u]
        row[2] += split.anomalous[u]
    return Comparison(
        file=path,
        shards=shards,
        connections=len(uids),
        same_flag=same,
        after_learning=len(after),
        same_after_learning=same_after,
        mean_abs_score_diff=float(np.mean(diff)) if diff else 0.0,
        incidents=(one.incidents, split.incidents),
        per_label={k: (v[0], v[1], v[2]) for k, v in sorted(per.items())},
    )


def run_shards(
    files: Iterable[str],
    settings: Settings,
    learn: bool,
    shard_counts: Iterable[int],
    progress: Callable[[int], None] | None = None,
) -> list[Comparison]:
    """Every file scored whole and split ``n`` ways for each ``n`` in ``shard_counts``."""
    from ..scoring.pipeline import Pipeline

    def make() -> Pipeline:
        return Pipeline.from_settings(settings, learn=learn)

    out = []
    for f in files:
        labels = Labels()
        one = score_file(f, make, 1, settings.batch_size, labels, progress)
        for n in shard_counts:
            split = score_file(f, make, n, settings.batch_size, None, progress)
            out.append(compare(f, one, split, n, labels))
    return out


def table(rows: list[Comparison]) -> list[str]:
    """The comparison as text lines (one per file and shard count, then per-label moves)."""
    lines = [
        f"{'file':<28} {'shards':>6} {'conns':>8} {'agree':>8} {'agree*':>8} "
        f"{'|dscore|':>9} {'incidents':>11} {'false/10k':>13} {'max move':>9}",
    ]
    for c in rows:
        fa = c.false_alarms()
        lines.append(
            f"{Path(c.file).name[:28]:<28} {c.shards:>6} {c.connections:>8} "
            f"{c.agreement * 100:>7.2f}% {c.agreement_after_learning * 100:>7.2f}% "
            f"{c.mean_abs_score_diff:>9.4f} {c.incidents[0]:>5}/{c.incidents[1]:<5} "
            f"{fa[0]:>6.1f}/{fa[1]:<6.1f} {c.largest_move():>7.2f}pt"
        )
    lines.append(
        "agree* = among connections scored after learning; incidents = noticed, one/sharded;"
    )
    lines.append("false/10k = benign flagged per 10,000 after learning, one/sharded; max move =")
    lines.append(
        "largest change of an attack label's recall (labels of >= 100 rows, after learning)."
    )
    for c in rows:
        for name, (n, a, b) in c.per_label.items():
            if a != b:
                lines.append(
                    f"  {Path(c.file).name[:28]} x{c.shards}: {name}: {a}/{n} -> {b}/{n} flagged"
                )
    return lines
