"""Replay conn logs through exactly the live path, in constant memory.

Records are read lazily, scored in batches by a :class:`Pipeline` (features
-> ONNX ensemble -> threshold, the same object ``hamad serve`` uses), and
every verdict is written out as it is made. What is kept in memory does not
grow with the input: counters, the ``top_n`` highest-scoring anomalies (a
heap), and, for labelled input, exact confusion counts plus fixed-size score
histograms from which ROC-AUC and PR-AUC are approximated (4096 bins), and how
many rows of each (detailed) label were flagged (at most :data:`MAX_LABELS`
distinct labels are kept apart).
"""

from __future__ import annotations

import heapq
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

from ..core.records import ConnColumns, ConnRecord
from ..core.verdict import VerdictBatch
from ..scoring.incidents import NOTICE_MIN_CONNECTIONS
from ..scoring.pipeline import Pipeline
from .ingest import IngestStats, read_conn_log

_BINS = 4096
#: Distinct labels counted separately in the per-label breakdown; the rest share one row.
MAX_LABELS = 64
OTHER_LABELS = "(other labels)"


@dataclass
class LabelledCounts:
    """Exact confusion counts at the thresholds used, plus score histograms."""

    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0
    hist_pos: np.ndarray = field(default_factory=lambda: np.zeros(_BINS, np.int64))
    hist_neg: np.ndarray = field(default_factory=lambda: np.zeros(_BINS, np.int64))

    def add(self, y: np.ndarray, scores: np.ndarray, flags: np.ndarray) -> None:
        self.tp += int(np.sum(flags & (y == 1)))
        self.fp += int(np.sum(flags & (y == 0)))
        self.tn += int(np.sum(~flags & (y == 0)))
        self.fn += int(np.sum(~flags & (y == 1)))
        bins = np.clip((scores * _BINS).astype(np.int64), 0, _BINS - 1)
        self.hist_pos += np.bincount(bins[y == 1], minlength=_BINS)
        self.hist_neg += np.bincount(bins[y == 0], minlength=_BINS)

    def metrics(self) -> dict[str, Any]:
        """Precision/recall/F1/FPR (exact) and ROC-AUC/PR-AUC (histogram approximation)."""
        tp, fp, tn, fn = self.tp, self.fp, self.tn, self.fn

        def ratio(a: float, b: float) -> float | None:
            return a / b if b else None

        out: dict[str, Any] = {
            "n": tp + fp + tn + fn,
            "n_pos": tp + fn,
            "n_neg": tn + fp,
            "tp": tp,
            "fp": fp,
            "tn": tn,
            "fn": fn,
            "precision": ratio(tp, tp + fp),
            "recall": ratio(tp, tp + fn),
            "f1": ratio(2 * tp, 2 * tp + fp + fn) if tp + fn else None,
            "fpr": ratio(fp, fp + tn),
            "accuracy": ratio(tp + tn, tp + fp + tn + fn),
        }
        P, N = self.hist_pos.sum(), self.hist_neg.sum()
        if P and N:
            # Descending thresholds: cumulative positives/negatives above each bin edge.
            cp = np.cumsum(self.hist_pos[::-1]) / P
            cn = np.cumsum(self.hist_neg[::-1]) / N
            tpr = np.concatenate([[0.0], cp])
            fpr = np.concatenate([[0.0], cn])
            out["roc_auc_approx"] = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
            prec = np.cumsum(self.hist_pos[::-1]) / np.maximum(
                np.cumsum(self.hist_pos[::-1] + self.hist_neg[::-1]), 1
            )
            out["pr_auc_approx"] = float(np.sum(np.diff(tpr) * prec))
        else:
            out["roc_auc_approx"] = out["pr_auc_approx"] = None
        return out


@dataclass
class LabelBreakdown:
    """Rows and flagged rows per (class, detailed label): what was caught of each scenario.

    The key is the ``detailed-label`` column, or the ``label`` column when that is
    empty (Stratosphere puts the detail there). Bounded: after :data:`MAX_LABELS`
    distinct keys, new ones are pooled under :data:`OTHER_LABELS`.
    """

    counts: dict[tuple[bool, str], list[int]] = field(default_factory=dict)

    def add(self, malicious: bool, name: str, flagged: bool) -> None:
        self.add_many(malicious, name, 1, int(flagged))

    def add_many(self, malicious: bool, name: str, rows: int, flagged: int) -> None:
        key = (malicious, name)
        c = self.counts.get(key)
        if c is None:
            if len(self.counts) >= MAX_LABELS:
                key = (malicious, OTHER_LABELS)
            c = self.counts.setdefault(key, [0, 0])
        c[0] += rows
        c[1] += flagged

    def add_rows(self, malicious: np.ndarray, names: list[str], flagged: np.ndarray) -> None:
        """Count a batch of labelled rows (aligned arrays), one update per distinct label."""
        rows = zip(malicious.tolist(), names, flagged.tolist(), strict=True)
        for (m, name, f), c in Counter(rows).items():
            self.add_many(bool(m), name, c, c if f else 0)

    def rows(self) -> list[dict[str, Any]]:
        """Benign labels first, then malicious ones, each by row count (largest first)."""
        order = sorted(self.counts.items(), key=lambda kv: (kv[0][0], -kv[1][0], kv[0][1]))
        return [
            {"malicious": mal, "label": name, "rows": n, "flagged": f}
            for (mal, name), (n, f) in order
        ]


@dataclass
class ReplaySummary:
    """What a replay saw; printed by the CLI and returned to callers."""

    files: list[str]
    connections: int = 0
    anomalous: int = 0
    seconds: float = 0.0
    ingest: IngestStats = field(default_factory=IngestStats)
    labelled: LabelledCounts | None = None
    by_label: LabelBreakdown = field(default_factory=LabelBreakdown)
    unlabelled: int = 0
    top: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list)
    weights_sum: dict[str, float] = field(default_factory=dict)
    thresholds: tuple[float, float] = (1.0, 0.0)
    #: Connections stamped more than an hour past the event clock, scored at the clock.
    time_jumps_clamped: int = 0
    #: Gaps in the traffic believed after several connections confirmed them.
    time_jumps_accepted: int = 0
    #: With ``--learn``: the site learner's counters at the end of each file.
    learning: list[dict[str, Any]] = field(default_factory=list)
    #: Connections scored while the site was being learned.
    while_learning: int = 0
    #: Connections that reached the threshold but belong to a familiar service.
    familiar: int = 0
    #: Labelled rows scored after the learning period (with ``--learn``).
    after_learning: LabelledCounts | None = None
    #: The same rows per label: what was caught of each attack once learning was over.
    by_label_after: LabelBreakdown = field(default_factory=LabelBreakdown)
    #: Incidents the anomalous connections were folded into (:mod:`..scoring.incidents`).
    incidents: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.connections / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "files": self.files,
            "connections": self.connections,
            "anomalous": self.anomalous,
            "seconds": round(self.seconds, 3),
            "connections_per_second": round(self.rate, 1),
            "malformed_lines": self.ingest.bad_lines,
            "malformed_examples": [f"line {n}: {m}" for n, m in self.ingest.errors],
            "damaged_files": list(self.ingest.damaged),
            "time_jumps_clamped": self.time_jumps_clamped,
            "time_jumps_accepted": self.time_jumps_accepted,
            "threshold_range": [round(self.thresholds[0], 6), round(self.thresholds[1], 6)],
            "scored_while_learning": self.while_learning,
            "familiar": self.familiar,
            "learning": self.learning,
            "mean_attention_weights": {
                k: round(v / max(self.connections, 1), 4) for k, v in self.weights_sum.items()
            },
            "top_anomalies": [v for _, _, v in sorted(self.top, reverse=True)],
            "incidents": self.incidents,
            "incidents_noticed": sum(1 for i in self.incidents if noticed(i)),
        }
        if self.labelled is not None:
            d["metrics"] = self.labelled.metrics()
            d["unlabelled_rows"] = self.unlabelled
            d["per_label"] = self.by_label.rows()
        if self.after_learning is not None:
            d["metrics_after_learning"] = self.after_learning.metrics()
            d["per_label_after_learning"] = self.by_label_after.rows()
        return d


def noticed(incident: dict[str, Any], min_connections: int = NOTICE_MIN_CONNECTIONS) -> bool:
    """Whether Zeek raises ``HAMAD::Incident`` for it on its default options: enough
    anomalous connections (``HAMAD::incident_min_connections``), after the learning period."""
    return int(incident["connections"]) >= min_connections and not incident["while_learning"]


def batches(records: Iterable[ConnRecord], size: int) -> Iterator[list[ConnRecord]]:
    batch: list[ConnRecord] = []
    for r in records:
        batch.append(r)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def replay(
    paths: list[str | Path],
    pipeline: Pipeline,
    out: IO[str] | None = None,
    batch_size: int = 1024,
    top_n: int = 10,
    all_verdicts: bool = True,
    progress: Callable[[int], None] | None = None,
    reset_between_files: bool = True,
) -> ReplaySummary:
    """Stream files through ``pipeline``; write one JSON verdict per line to ``out``.

    ``reset_between_files`` starts each file with empty windows, as separate
    captures are unrelated traffic (turn off for rotated logs of one sensor);
    with a site learner each file is a new deployment that learns from its
    own first connection.
    """
    summary = ReplaySummary(files=[str(p) for p in paths])
    t0 = time.perf_counter()
    seq = 0
    lo, hi = 1.0, 0.0
    learn = pipeline.learner is not None
    for path in paths:
        if reset_between_files:
            if pipeline.learner is not None:
                pipeline.reset_site()
            else:
                pipeline.reset_windows()
        fx = pipeline.extractor
        jumps = (fx.time_jumps_clamped, fx.time_jumps_accepted)
        reader = read_conn_log(path)
        for batch in reader.batches(batch_size):
            verdicts = pipeline.score_columns(batch)
            _account(summary, batch, verdicts, out, all_verdicts, top_n, seq, learn)
            seq += len(batch)
            if len(verdicts):
                lo, hi = (
                    min(lo, float(verdicts.threshold[0])),
                    max(hi, float(verdicts.threshold[0])),
                )
            if progress is not None:
                progress(len(batch))
        summary.ingest.merge(reader.stats)
        summary.time_jumps_clamped += fx.time_jumps_clamped - jumps[0]
        summary.time_jumps_accepted += fx.time_jumps_accepted - jumps[1]
        if pipeline.learner is not None:
            summary.learning.append({"file": str(path), **pipeline.learner.summary()})
        summary.incidents += [i.to_dict() for i in pipeline.incidents.incidents()]
    summary.thresholds = (lo, hi)
    summary.seconds = time.perf_counter() - t0
    return summary


def _account(
    summary: ReplaySummary,
    batch: ConnColumns,
    verdicts: VerdictBatch,
    out: IO[str] | None,
    all_verdicts: bool,
    top_n: int,
    seq: int,
    learn: bool = False,
) -> None:
    """Fold one scored batch into the summary (and write its JSON lines) with numpy."""
    n = len(verdicts)
    summary.connections += n
    flags = verdicts.anomalous
    summary.while_learning += int(verdicts.learning.sum())
    summary.familiar += int(verdicts.familiar.sum())
    for k, w in zip(verdicts.member_names, verdicts.weights.sum(axis=0).tolist(), strict=True):
        summary.weights_sum[k] = summary.weights_sum.get(k, 0.0) + w
    summary.anomalous += int(flags.sum())
    top = summary.top
    if top_n:
        # Only anomalies that beat the heap's smallest can enter: dicts for those alone.
        floor = top[0][0] if len(top) >= top_n else -np.inf
        cand = np.flatnonzero(flags & (verdicts.score > floor))
        for i in cand.tolist():
            sc = float(verdicts.score[i])
            if len(top) < top_n:
                heapq.heappush(top, (sc, seq + i, verdicts.verdicts_at([i])[0].to_dict()))
            elif sc > top[0][0]:
                heapq.heapreplace(top, (sc, seq + i, verdicts.verdicts_at([i])[0].to_dict()))
    if out is not None:
        rows = range(n) if all_verdicts else np.flatnonzero(flags).tolist()
        out.write(verdicts.json_lines(list(rows), batch.label))
    labels = batch.label
    if not any(lab is not None for lab in labels):
        return
    mal = [label_malicious(lab) for lab in labels]
    keep = [i for i, m in enumerate(mal) if m is not None]
    summary.unlabelled += sum(1 for i, m in enumerate(mal) if m is None and labels[i] is not None)
    if not keep:
        return
    idx = np.asarray(keep)
    ys = np.asarray([mal[i] for i in keep], dtype=np.int64)
    names = [batch.detailed_label[i] or labels[i] or "" for i in keep]
    fl = flags[idx]
    summary.by_label.add_rows(ys, names, fl)
    if summary.labelled is None:
        summary.labelled = LabelledCounts()
    scores = verdicts.score[idx].astype(np.float64)
    summary.labelled.add(ys, scores, fl)
    if learn:
        if summary.after_learning is None:
            summary.after_learning = LabelledCounts()
        m2 = ~verdicts.learning[idx]
        summary.after_learning.add(ys[m2], scores[m2], fl[m2])
        kept = [n for n, a in zip(names, m2.tolist(), strict=True) if a]
        summary.by_label_after.add_rows(ys[m2], kept, fl[m2])


_LABEL_CACHE: dict[str, bool | None] = {}
_UNSEEN = object()


def label_malicious(label: str | None) -> bool | None:
    """:attr:`ConnRecord.is_malicious` of a label, cached (a capture has a few labels)."""
    if label is None:
        return None
    hit = _LABEL_CACHE.get(label, _UNSEEN)
    if hit is _UNSEEN:
        if len(_LABEL_CACHE) > 4096:
            _LABEL_CACHE.clear()
        hit = _LABEL_CACHE[label] = ConnRecord(0.0, "", "", 0, "", 0, "", label=label).is_malicious
    return cast("bool | None", hit)
