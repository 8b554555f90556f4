"""``hamad bench``: throughput, latency and memory of the scoring path.

Figures are printed, never asserted (a noisy machine must not fail a test).
Stages measured on the same records:

* parse     conn.log text -> ConnRecord (file read, decompression included)
* features  ConnRecord -> feature vector (streaming windows)
* score     feature matrix -> ONNX ensemble, batches of 1024
* end2end   file -> verdicts through :func:`hamad_plugin.replay.replay`
* latency   Pipeline.score on 1 and on 64 connections (p50/p99 over repeats)
* memory    peak RSS of a fresh process that tracks the hosts of a simulated network

Input: a capture from the simulator (``hamad simulate``, fixed seed, see
:data:`BENCH_NETWORK`), or ``--data FILE`` looped to the requested size.
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

#: The simulated network of the throughput runs: a small office, one hour, every attack.
BENCH_NETWORK: dict[str, Any] = {"seed": 0, "hosts": 200, "duration": "1h"}
#: Connections per host in the memory run (a device appears in about half of them).
MEMORY_CONNECTIONS_PER_HOST = 3


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
    res.figures["cpu_count"] = os.cpu_count()
    with tempfile.TemporaryDirectory() as td:
        if data:
            echo(f"preparing {connections:,} connections from {Path(data).name} ...")
            path, n = _looped_file(Path(data), connections, Path(td))
            res.figures["input"] = str(data)
        else:
            echo(f"simulating {connections:,} connections ...")
            path, n, rate = _simulated_file(connections, Path(td))
            res.figures["input"] = _simulated_input(connections)
            res.add("simulate_rows_per_s", "simulate (write the input conn.log)", rate, "rows/s")
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
        _memory_config(hosts)  # bad --hosts: a clean error here, not in the child
        echo(f"memory run: a simulated network of {hosts:,} hosts in a fresh process ...")
        mem = _memory_run(hosts)
        res.figures["memory_input"] = _simulated_input(mem["connections"], hosts)
        res.add("hosts_tracked", "hosts tracked (memory run)", mem["hosts"], "hosts")
        res.add("hosts_rss_mb", "peak RSS with those hosts", mem["peak_rss_mb"], "MB")
        res.add("hosts_baseline_rss_mb", "RSS before feeding hosts", mem["baseline_rss_mb"], "MB")
        res.add("keys_tracked", "keys tracked (src + dst + pair)", mem["keys"], "keys")
        per_key = (mem["peak_rss_mb"] - mem["baseline_rss_mb"]) * 1048576 / max(mem["keys"], 1)
        res.add("bytes_per_key", "memory per tracked key", per_key, "bytes")
    return res


def _simulated_input(connections: int, hosts: int | None = None) -> str:
    """The command that makes the same input, for the JSON figures."""
    net = {**BENCH_NETWORK, **({"hosts": hosts} if hosts else {})}
    return (
        f"hamad simulate --seed {net['seed']} --connections {connections} "
        f"--hosts {net['hosts']} --duration {net['duration']}"
    )


def _memory_config(hosts: int) -> Any:
    from .simulate import make_config

    n = MEMORY_CONNECTIONS_PER_HOST * hosts
    return make_config(connections=n, **{**BENCH_NETWORK, "hosts": hosts})


def _simulated_file(n: int, tmp: Path) -> tuple[Path, int, float]:
    """A simulated TSV conn log of ``n`` connections; returns (path, n, rows/s written)."""
    from .simulate import make_config, simulate

    out = tmp / "bench.conn.log"
    with open(out, "wb", buffering=1 << 20) as fh:
        res = simulate(make_config(connections=n, **BENCH_NETWORK), fh)
    return out, res.rows, res.rate


def _memory_run(hosts: int) -> dict[str, Any]:
    code = (
        "import json,sys;from hamad_plugin.bench import memory_child;"
        f"print(json.dumps(memory_child({hosts})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def memory_child(hosts: int) -> dict[str, Any]:
    """Feed a simulated network of ``hosts`` devices through one extractor; report memory.

    ``MEMORY_CONNECTIONS_PER_HOST`` x hosts connections, generated in this process
    with the key cap set to hold every originator, responder and pair, so nothing is
    evicted. The baseline is taken after the simulator's per-device tables exist; its
    chunk buffers (one chunk of records at a time) still count towards the peak.
    """
    from .features import FeatureConfig, FeatureExtractor
    from .simulate import iter_records, make_plan

    plan = make_plan(_memory_config(hosts))
    n = plan.cfg.connections
    base = _peak_rss_mb()
    fx = FeatureExtractor(FeatureConfig(max_keys=n))
    for chunk in iter_records(plan):
        for i in range(0, len(chunk), 4096):
            fx.transform(chunk[i : i + 4096])
    keys = sum(fx.tracked_keys.values())
    return {
        "hosts": fx.tracked_keys["src"],
        "connections": n,
        "keys": keys,
        "peak_rss_mb": _peak_rss_mb(),
        "baseline_rss_mb": base,
    }
