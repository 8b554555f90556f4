"""The driver: windows to rows in Zeek's write order, written out or handed over as records.

Why it exists: :func:`simulate` streams a capture to a file and accounts for what it
wrote; :func:`iter_records` yields the very same connections as ConnRecords for
benchmarks. Both share :func:`_in_end_order`, the end-time ordering buffer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import IO

import numpy as np

from ...core.records import ConnRecord
from .addresses import _ip_text, is_local
from .config import SimConfig
from .plan import CHUNK_ROWS, Plan, make_plan
from .result import SimResult
from .rows import ROW
from .services import HISTORIES
from .traffic import window_rows
from .truth import ground_truth
from .writer import _table, _uids, _Vocab, _zeek_time, format_json, format_tsv, tsv_header
from .zeek import _IP_PROTO, _US, PROTOS, STATES, ZEEK_SERVICES


def _account(res: SimResult, rows: np.ndarray, end: np.ndarray) -> None:
    lab = rows["lab"].astype(np.intp)
    res.rows += len(rows)
    counts = np.bincount(lab, minlength=len(res.counts))
    res.counts += counts
    for j in np.flatnonzero(counts):
        ts = rows["ts"][lab == j]
        first = int(ts.min())
        res.first_ts[j] = first if res.first_ts[j] == 0 else min(int(res.first_ts[j]), first)
        res.last_ts[j] = max(int(res.last_ts[j]), int(ts.max()))
    res.last_end_us = max(res.last_end_us, int(end.max()))


def _in_end_order(plan: Plan) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(rows, uids, end times) in Zeek's write order, at most CHUNK_ROWS at a time.

    Rows of a window whose connection ends after the window wait for a later one, so
    ends never decrease (windows start where the previous ones end).
    """
    pending = np.zeros(0, ROW)
    n_win = len(plan.windows) - 1
    for k in range(n_win):
        rows = np.concatenate([pending, window_rows(plan, k)])
        end = rows["ts"] + np.maximum(rows["dur"], 0)
        edge = plan.start_us + round(float(plan.windows[k + 1]) * _US)
        done = np.ones(len(rows), bool) if k == n_win - 1 else end < edge
        idx = np.flatnonzero(done)
        idx = idx[np.argsort(end[idx], kind="stable")]
        emit, emit_end, pending = rows[idx], end[idx], rows[~done]
        uid_rng = np.random.default_rng([plan.cfg.seed, k, 2])
        for i in range(0, len(emit), CHUNK_ROWS):  # the last window flushes the buffer too
            part = emit[i : i + CHUNK_ROWS]
            yield part, _uids(uid_rng, len(part)), emit_end[i : i + CHUNK_ROWS]


def _labels(plan: Plan) -> list[str]:
    """detailed-label per row label code (0 = benign, ``-``)."""
    return ["-"] + [r.spec.label for r in plan.scenarios]


def simulate(
    cfg: SimConfig, out: IO[bytes], progress: Callable[[int], None] | None = None
) -> SimResult:
    """Write the simulated capture to ``out``; return counts and the ground truth.

    Rows leave in non-decreasing end time (``ts + duration``): Zeek logs a connection
    when it is over. Same config, same bytes.
    """
    t0 = time.perf_counter()
    plan = make_plan(cfg)
    vocab = _Vocab(detail=_table(_labels(plan)))
    fmt = format_tsv if cfg.fmt == "tsv" else format_json
    nlab = 1 + len(plan.scenarios)
    res = SimResult(
        counts=np.zeros(nlab, np.int64),
        first_ts=np.zeros(nlab, np.int64),
        last_ts=np.zeros(nlab, np.int64),
        last_end_us=plan.start_us,
    )
    if cfg.fmt == "tsv":
        out.write(tsv_header(cfg.start))
    for rows, uids, end in _in_end_order(plan):
        out.write(fmt(rows, uids, vocab))
        _account(res, rows, end)
        if progress is not None:
            progress(len(rows))
    if cfg.fmt == "tsv":
        close = max(res.last_end_us / _US, cfg.start + cfg.duration)
        out.write(f"#close\t{_zeek_time(close)}\n".encode("ascii"))
    res.seconds = time.perf_counter() - t0
    if res.rows != cfg.connections:  # the plan's counts are exact; anything else is a bug
        raise AssertionError(f"wrote {res.rows} rows, planned {cfg.connections}")
    res.truth = ground_truth(plan, res)
    return res


def iter_records(plan: Plan) -> Iterator[list[ConnRecord]]:
    """The connections :func:`simulate` writes for ``plan.cfg``, as ConnRecords, by chunk.

    For benchmarks that need many records without writing and parsing a file; what
    the reader makes of the written log is exactly this (a test checks it).
    """
    details: list[str | None] = [None, *_labels(plan)[1:]]
    svc: list[str | None] = [None, *ZEEK_SERVICES[1:]]
    hist: list[str | None] = [None, *HISTORIES[1:]]
    for rows, uids, _ in _in_end_order(plan):
        lab = rows["lab"].tolist()
        dur, ob, rb = rows["dur"].tolist(), rows["ob"].tolist(), rows["rb"].tolist()
        cols = zip(
            (rows["ts"] / _US).tolist(),
            uids.view("S18").ravel().astype(str).tolist(),
            (_ip_text(x) for x in rows["oh"].tolist()),
            rows["op"].tolist(),
            (_ip_text(x) for x in rows["rh"].tolist()),
            rows["rp"].tolist(),
            rows["proto"].tolist(),
            rows["svc"].tolist(),
            dur,
            ob,
            rb,
            rows["state"].tolist(),
            is_local(rows["oh"]).tolist(),
            is_local(rows["rh"]).tolist(),
            rows["hist"].tolist(),
            rows["opk"].tolist(),
            rows["oip"].tolist(),
            rows["rpk"].tolist(),
            rows["rip"].tolist(),
            lab,
            strict=True,
        )
        yield [
            ConnRecord(
                ts=ts, uid=uid, orig_h=oh, orig_p=op, resp_h=rh, resp_p=rp, proto=PROTOS[pr],
                service=svc[sv], duration=d / _US if d >= 0 else None,
                orig_bytes=o if o >= 0 else None, resp_bytes=r if r >= 0 else None,
                conn_state=STATES[st], local_orig=lo, local_resp=lr, missed_bytes=0,
                history=hist[h], orig_pkts=opk, orig_ip_bytes=oip, resp_pkts=rpk,
                resp_ip_bytes=rip, ip_proto=int(_IP_PROTO[pr]),
                label="Malicious" if lb else "Benign", detailed_label=details[lb],
            )
            for (ts, uid, oh, op, rh, rp, pr, sv, d, o, r, st, lo, lr, h, opk, oip, rpk, rip, lb)
            in cols
        ]  # fmt: skip
