"""``hamad bench``: throughput, latency and memory of the scoring path.

Figures are printed, never asserted (a noisy machine must not fail a test).
Stages measured on the same records:

* parse     conn.log text -> ConnRecord (file read, decompression included)
* features  ConnRecord -> feature vector (streaming windows)
* score     feature matrix -> ONNX ensemble, batches of 1024
* end2end   file -> verdicts through :func:`hamad_plugin.replay.replay`
* latency   Pipeline.score on 1 and on 64 connections (p50/p99 over repeats)
* memory    peak RSS of a fresh process that tracks ``hosts`` distinct hosts
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .ingest import read_conn_log
from .records import ConnRecord

SAMPLE = (
    Path(__file__).resolve().parent.parent / "samples" / "ctu-normal-42-day2.conn.log.labeled.gz"
)


@dataclass
class BenchResult:
    """Measured figures; :meth:`table` for people, :meth:`to_dict` for machines."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def add(self, key: str, label: str, value: float, unit: str) -> None:
        self.figures[key] = round(value, 3)
        self.rows.append((label, f"{value:,.1f}" if value >= 10 else f"{value:.3f}", unit))

    def table(self) -> str:
        w = max(len(r[0]) for r in self.rows)
        lines = [f"{'measure':<{w}}  {'value':>14}  unit", "-" * (w + 24)]
        lines += [f"{a:<{w}}  {b:>14}  {c}" for a, b, c in self.rows]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.figures)


def _peak_rss_mb() -> float:
    """Peak RSS of this process image (VmHWM; ru_maxrss survives exec on Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _looped_file(src: Path, n: int, tmp: Path) -> tuple[Path, int]:
    """A TSV conn log of about ``n`` connections made by repeating ``src``."""
    recs = list(read_conn_log(src))
    if not recs:
        raise ValueError(f"{src} has no connections to benchmark with")
    header = (
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
        "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\t"
        "orig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\t"
        "orig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n"
    )

    def f(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, bool):
            return "T" if v else "F"
        if isinstance(v, float):
            return f"{v:.6f}"
        return str(v)

    span = max(r.end_ts for r in recs) - min(r.ts for r in recs) + 1.0
    out = tmp / "bench.conn.log"
    written = 0
    with open(out, "w") as fh:
        fh.write(header)
        loop = 0
        while written < n:
            shift = loop * span
            for r in recs:
                fh.write(
                    "\t".join(
                        f(x)
                        for x in (
                            r.ts + shift,
                            r.uid,
                            r.orig_h,
                            r.orig_p,
                            r.resp_h,
                            r.resp_p,
                            r.proto,
                            r.service,
                            r.duration,
                            r.orig_bytes,
                            r.resp_bytes,
                            r.conn_state,
                            r.local_orig,
                            r.local_resp,
                            r.missed_bytes,
                            r.history,
                            r.orig_pkts,
                            r.orig_ip_bytes,
                            r.resp_pkts,
                            r.resp_ip_bytes,
                            None,
                        )
                    )
                    + "\n"
                )
                written += 1
                if written >= n:
                    break
            loop += 1
    return out, written


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    res = fn()
    return time.perf_counter() - t0, res


def run_bench(
    model: str | None = None,
    data: str | None = None,
    connections: int = 100_000,
    hosts: int = 1_000_000,
    echo: Callable[[str], None] = print,
) -> BenchResult:
    """Run every stage and return the figures."""
    from .pipeline import Pipeline
    from .replay import replay

    res = BenchResult()
    src = Path(data) if data else SAMPLE
    res.figures["input"] = str(src)
    res.figures["cpu_count"] = os.cpu_count()
    with tempfile.TemporaryDirectory() as td:
        echo(f"preparing {connections:,} connections from {src.name} ...")
        path, n = _looped_file(src, connections, Path(td))
        res.figures["connections"] = n
        dt, recs = _timed(lambda: list(read_conn_log(path)))
        res.add("parse_conn_per_s", "parse (conn.log -> records)", n / dt, "conn/s")
        pipe = Pipeline.load(model)
        dt, X = _timed(lambda: pipe.features(recs))
        res.add("features_conn_per_s", "features (streaming windows)", n / dt, "conn/s")

        def score_all() -> None:
            for i in range(0, len(X), 1024):
                pipe.score_matrix(X[i : i + 1024])

        dt, _ = _timed(score_all)
        res.add("score_conn_per_s", "score (ONNX ensemble, batch 1024)", n / dt, "conn/s")
        pipe.extractor.reset()
        summ = replay([path], pipe, out=None, batch_size=1024, top_n=0)
        res.add("end2end_conn_per_s", "end to end (file -> verdicts)", summ.rate, "conn/s")
        for size, reps in ((1, 2000), (64, 500)):
            lat = []
            for i in range(reps):
                j = (i * size) % max(len(recs) - size, 1)
                batch = recs[j : j + size]
                t0 = time.perf_counter()
                pipe.score(batch)
                lat.append((time.perf_counter() - t0) * 1000)
            arr = np.asarray(lat)
            res.add(
                f"latency_batch{size}_p50_ms",
                f"latency batch of {size}, p50",
                float(np.percentile(arr, 50)),
                "ms",
            )
            res.add(
                f"latency_batch{size}_p99_ms",
                f"latency batch of {size}, p99",
                float(np.percentile(arr, 99)),
                "ms",
            )
        res.add("peak_rss_mb", "peak RSS of this run", _peak_rss_mb(), "MB")
    if hosts:
        echo(f"memory run: {hosts:,} distinct hosts in a fresh process ...")
        mem = _memory_run(hosts)
        res.add("hosts_tracked", "hosts tracked (memory run)", mem["hosts"], "hosts")
        res.add("hosts_rss_mb", "peak RSS with those hosts", mem["peak_rss_mb"], "MB")
        res.add("hosts_baseline_rss_mb", "RSS before feeding hosts", mem["baseline_rss_mb"], "MB")
        res.add("keys_tracked", "keys tracked (src + dst + pair)", mem["keys"], "keys")
        per_key = (mem["peak_rss_mb"] - mem["baseline_rss_mb"]) * 1048576 / max(mem["keys"], 1)
        res.add("bytes_per_key", "memory per tracked key", per_key, "bytes")
    return res


def _memory_run(hosts: int) -> dict[str, Any]:
    code = (
        "import json,sys;from hamad_plugin.bench import memory_child;"
        f"print(json.dumps(memory_child({hosts})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def memory_child(hosts: int) -> dict[str, Any]:
    """Feed ``hosts`` connections from distinct originators to distinct responders.

    Every connection creates a new src, dst and pair key, so this is the
    worst case for the key tables (3 x hosts keys), with the cap set to hold them all.
    """
    from .features import FeatureConfig, FeatureExtractor

    base = _peak_rss_mb()
    fx = FeatureExtractor(FeatureConfig(max_keys=hosts))
    batch: list[ConnRecord] = []
    for i in range(hosts):
        a = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        b = f"172.{16 + ((i >> 16) & 15)}.{(i >> 8) & 255}.{i & 255}"
        rec = ConnRecord(
            ts=1e9 + i * 0.001,
            uid="C",
            orig_h=a,
            orig_p=40000,
            resp_h=b,
            resp_p=443,
            proto="tcp",
            conn_state="SF",
            duration=0.1,
            orig_bytes=100,
            resp_bytes=200,
        )
        batch.append(rec)
        if len(batch) == 1024:
            fx.transform(batch)
            batch = []
    fx.transform(batch)
    keys = sum(fx.tracked_keys.values())
    return {
        "hosts": fx.tracked_keys["src"],
        "keys": keys,
        "peak_rss_mb": _peak_rss_mb(),
        "baseline_rss_mb": base,
    }
