"""``hamad bench``: throughput, latency and memory of the scoring path.

Figures are printed, never asserted (a noisy machine must not fail a test).
Stages measured on the same records:

* parse     conn.log text -> ConnRecord (file read, decompression included)
* features  ConnRecord -> feature vector (streaming windows)
* score     feature matrix -> ONNX ensemble, batches of 1024
* end2end   file -> verdicts through :func:`hamad_plugin.offline.replay.replay`
* latency   Pipeline.score on 1 and on 64 connections (p50/p99 over repeats)
* memory    peak RSS of a fresh process that tracks the hosts of a simulated network

Input: a capture from the simulator (``hamad simulate``, fixed seed, see
:data:`BENCH_NETWORK`), or ``--data FILE`` looped to the requested size.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.records import ConnColumns
from ..core.settings import LearningSettings
from ..offline.ingest import read_conn_log

#: The simulated network of the throughput runs: a small office, one hour, every attack.
BENCH_NETWORK: dict[str, Any] = {"seed": 0, "hosts": 200, "duration": "1h"}
#: Connections per host in the memory run (a device appears in about half of them).
MEMORY_CONNECTIONS_PER_HOST = 3


@dataclass
class PerformanceFigures:
    """What ``hamad bench`` measured (throughput, latency, memory).

    :meth:`table` for people, :meth:`to_dict` for machines.
    """

    rows: list[tuple[str, str, str]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def add(self, key: str, label: str, value: float, unit: str) -> None:
        self.figures[key] = round(value, 3)
        self.rows.append((label, f"{value:,.1f}" if value >= 10 else f"{value:.3f}", unit))

    def table(self) -> str:
        w = max(len(r[0]) for r in self.rows)
        lines = [f"{'measure':<{w}}  {'value':>14}  unit", "-" * (w + 24)]
        lines += [f"{a:<{w}}  {b:>14}  {c}" for a, b, c in self.rows]
        return "\n".join(lines) + "\n\n" + goals_table(self.figures)

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
    """CPU seconds of this process spent in ``fn`` (one core's work), and its result."""
    t0 = time.process_time()
    res = fn()
    return time.process_time() - t0, res


def _paced_latency(pipe: Any, recs: list[Any], rate: float = 10_000, batch: int = 100,
                   seconds: float = 3.0) -> np.ndarray:  # fmt: skip
    """Milliseconds from a batch's arrival to its verdicts when ``rate`` conn/s arrive in
    batches of ``batch`` (Zeek's batching): scoring time plus any wait behind the batch
    before it. Arrival stands in for the connection's end (the transport is not timed)."""
    gap = batch / rate
    out = []
    start = time.perf_counter()
    for k in range(int(seconds / gap)):
        due = start + k * gap
        now = time.perf_counter()
        if now < due:
            time.sleep(due - now)
        j = (k * batch) % max(len(recs) - batch, 1)
        pipe.score(recs[j : j + batch])
        out.append((time.perf_counter() - due) * 1000)
    return np.asarray(out)


def _prepare_input(
    res: PerformanceFigures,
    data: str | None,
    connections: int,
    tmp: Path,
    echo: Callable[[str], None],
) -> tuple[Path, int]:
    """The conn log to measure on: ``data`` looped, or a simulated capture."""
    if data:
        echo(f"preparing {connections:,} connections from {Path(data).name} ...")
        path, n = _looped_file(Path(data), connections, tmp)
        res.figures["input"] = str(data)
    else:
        echo(f"simulating {connections:,} connections ...")
        path, n, rate = _simulated_file(connections, tmp)
        res.figures["input"] = _simulated_input(connections)
        res.add("simulate_rows_per_s", "simulate (write the input conn.log)", rate, "rows/s")
    res.figures["connections"] = n
    return path, n


def _stage_rates(
    res: PerformanceFigures, path: Path, n: int, model: str | None
) -> tuple[list[Any], Any]:
    """The csv anchor, then parse, features and model alone; returns the batches and pipeline."""
    from ..scoring.pipeline import Pipeline

    # Rates are per CPU-second of this process (time.process_time): on a shared
    # machine the wall clock also counts other jobs; the anchor is measured alike.
    res.add("csv_rows_per_s", "anchor: csv module reads the same file", _csv_rate(path),
            "rows/s")  # fmt: skip
    dt, parts = _timed(lambda: list(read_conn_log(path).batches(1024)))
    res.add("parse_conn_per_s", "parse (conn.log -> column batches)", n / dt, "conn/s")
    pipe = Pipeline.load(model)
    pipe.features(read_conn_log(path).batches(64).__next__().records())  # compile/load kernels
    pipe.reset_site()
    dt, Xs = _timed(lambda: [pipe.extractor.transform_columns(b) for b in parts])
    res.add("features_conn_per_s", "features (streaming windows)", n / dt, "conn/s")
    dt, _ = _timed(lambda: [pipe.score_matrix(X) for X in Xs])
    res.add("score_conn_per_s", "model alone (ONNX ensemble, batch 1024)", n / dt, "conn/s")
    res.add("evidence_conn_per_s", "behaviour evidence alone (scoring/behaviours.py)",
            n / _evidence_seconds(pipe, parts), "conn/s")  # fmt: skip
    res.add("model_vs_csv", "model alone / csv read rate (the ceiling)",
            res.figures["score_conn_per_s"] / res.figures["csv_rows_per_s"], "x")  # fmt: skip
    return parts, pipe


def _evidence_seconds(pipe: Any, parts: list[Any]) -> float:
    """CPU seconds of the behaviour evidence alone over ``parts``, in stream order (the
    windows are fed, untimed, before each batch's evidence is)."""
    pipe.reset_site()
    total = 0.0
    for b in parts:
        pipe.extractor.transform_columns(b)
        times = pipe.extractor.last_times
        t0 = time.process_time()
        pipe.evidence.check(b, times, True)
        total += time.process_time() - t0
    pipe.reset_site()
    return max(total, 1e-9)


def _end_to_end(res: PerformanceFigures, path: Path, n: int, pipe: Any) -> None:
    """``hamad replay``'s path: per CPU-second, wall clock, and writing every verdict."""
    from ..offline.replay import replay

    csv_rate = res.figures["csv_rows_per_s"]
    pipe.reset_site()
    w0, c0 = time.perf_counter(), time.process_time()
    replay([path], pipe, out=None, batch_size=1024, top_n=0)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    res.add("end2end_conn_per_s", "end to end (hamad replay path)", n / cpu, "conn/s")
    res.add("end2end_wall_conn_per_s", "end to end, wall clock", n / wall, "conn/s")
    res.add("end2end_vs_csv", "end to end / csv read rate", n / cpu / csv_rate, "x")
    pipe.reset_site()
    with open(os.devnull, "w") as null:
        dt, _ = _timed(lambda: replay([path], pipe, out=null, batch_size=1024, top_n=0))
    res.add("end2end_json_conn_per_s", "end to end, every verdict as JSON", n / dt, "conn/s")
    res.add("end2end_json_vs_csv", "end to end with JSON / csv read rate", n / dt / csv_rate, "x")


def _serve_path(res: PerformanceFigures, parts: list[Any], n: int, model: str | None) -> None:
    """``hamad serve``'s scoring path (learning on): throughput and latency percentiles."""
    from ..scoring.pipeline import Pipeline

    recs = parts[0].records() if len(parts) == 1 else ConnColumns.concat(parts).records()
    serve = Pipeline.load(model, learning=LearningSettings())
    serve.score(recs[:64])
    serve.reset_site()
    dt, _ = _timed(lambda: [serve.score(recs[i : i + 100]) for i in range(0, n, 100)])
    res.add("serve_conn_per_s", "serve scoring path (learning on, batches of 100)", n / dt,
            "conn/s")  # fmt: skip
    res.add("verdict_objects_conn_per_s", "serve: Verdict objects for the transports",
            n / _verdict_objects_seconds(serve, parts), "conn/s")  # fmt: skip
    serve.reset_site()
    lat = _paced_latency(serve, recs)
    res.add("latency_10k_p50_ms", "latency at 10k conn/s (100 per 10 ms), p50",
            float(np.percentile(lat, 50)), "ms")  # fmt: skip
    res.add("latency_10k_p99_ms", "latency at 10k conn/s (100 per 10 ms), p99",
            float(np.percentile(lat, 99)), "ms")  # fmt: skip
    lat1 = []
    for i in range(1000):
        t0 = time.perf_counter()
        serve.score(recs[i : i + 1])
        lat1.append((time.perf_counter() - t0) * 1000)
    res.add("latency_batch1_p99_ms", "latency of one connection alone, p99",
            float(np.percentile(lat1, 99)), "ms")  # fmt: skip


def _verdict_objects_seconds(serve: Any, parts: list[Any]) -> float:
    """CPU seconds to turn scored batches into the Verdict objects the transports send.
    (The batches are dropped on return: kept, their lists would slow every later
    garbage collection, and with it the latency run.)"""
    scored = [serve.score_columns(p) for p in parts]
    t0 = time.process_time()
    for v in scored:
        v.verdicts()
    return max(time.process_time() - t0, 1e-9)


def _edge(
    res: PerformanceFigures, path: Path, model: str | None, echo: Callable[[str], None]
) -> None:
    """The replay path on one pinned core with a bounded address space (when the tools exist)."""
    if not (shutil.which("taskset") and shutil.which("prlimit")):
        return
    echo("edge run: one core (taskset -c 0), address space <= 1 GiB (prlimit --as) ...")
    edge = _edge_run(path, model)
    res.add("edge_conn_per_s", "edge: end to end on one pinned core", edge["rate"], "conn/s")
    res.add("edge_peak_rss_mb", "edge: peak RSS", edge["peak_rss_mb"], "MB")


def _memory(res: PerformanceFigures, hosts: int, echo: Callable[[str], None]) -> None:
    """Peak RSS of a fresh process that tracks the hosts of a simulated network."""
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
    res.add("state_bytes_per_key", "of which the windows' numpy state", mem["state_bytes_per_key"],
            "bytes")  # fmt: skip


def run_bench(
    model: str | None = None,
    data: str | None = None,
    connections: int = 100_000,
    hosts: int = 1_000_000,
    echo: Callable[[str], None] = print,
) -> PerformanceFigures:
    """Run every stage and return the figures."""
    res = PerformanceFigures()
    res.figures["cpu_count"] = os.cpu_count()
    res.figures["load_average_at_start"] = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory() as td:
        path, n = _prepare_input(res, data, connections, Path(td), echo)
        parts, pipe = _stage_rates(res, path, n, model)
        _end_to_end(res, path, n, pipe)
        _serve_path(res, parts, n, model)
        res.add("peak_rss_mb", "peak RSS of this run", _peak_rss_mb(), "MB")
        _edge(res, path, model, echo)
        _shards(res, path, model, echo)
    if hosts:
        _memory(res, hosts, echo)
    res.figures["load_average_at_end"] = round(os.getloadavg()[0], 2)
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
        "import json,sys;from hamad_plugin.research.bench import memory_child;"
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
    from ..core.features import FeatureConfig, FeatureExtractor
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
        "state_bytes_per_key": fx.tables["src"].state_bytes_per_key,
        "peak_rss_mb": _peak_rss_mb(),
        "baseline_rss_mb": base,
    }


def _csv_rate(path: Path, repeats: int = 3) -> float:
    """Rows per CPU-second of Python's csv module reading ``path``: this run's anchor.

    The best of ``repeats`` reads (a single read varied by 1.7x on the shared machine).
    """
    best = 0.0
    for _ in range(repeats):
        t0 = time.process_time()
        rows = 0
        with open(path, newline="") as fh:
            for _ in csv.reader(fh, delimiter="\t"):
                rows += 1
        best = max(best, rows / max(time.process_time() - t0, 1e-9))
    return best


def _edge_run(path: Path, model: str | None) -> dict[str, Any]:
    code = (
        "import json,sys;from hamad_plugin.research.bench import edge_child;"
        f"print(json.dumps(edge_child({str(path)!r}, {model!r})))"
    )
    cmd = [
        "taskset",
        "-c",
        "0",
        "prlimit",
        f"--as={EDGE_ADDRESS_SPACE}",
        sys.executable,
        "-c",
        code,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"the edge run failed: {out.stderr.strip()[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


#: The edge run's address-space limit. 512 MiB of *virtual* memory is less than numba
#: and onnxruntime reserve at import (resident memory stays far lower), so the edge run
#: bounds the address space at 1 GiB and reports the resident peak against 512 MB.
EDGE_ADDRESS_SPACE = 1 << 30


def edge_child(path: str, model: str | None) -> dict[str, Any]:
    """``hamad replay``'s path in this (pinned, limited) process: conn per CPU-second, peak RSS."""
    from ..offline.replay import replay
    from ..scoring.pipeline import Pipeline

    pipe = Pipeline.load(model)
    t0 = time.process_time()
    summ = replay([path], pipe, out=None, top_n=0)
    return {"rate": summ.connections / (time.process_time() - t0), "peak_rss_mb": _peak_rss_mb()}


def _shards(
    res: PerformanceFigures, path: Path, model: str | None, echo: Callable[[str], None]
) -> None:
    """Serve's scoring path as N shards split by originator, each a process on a core of
    its own, started together: does the site's rate grow with the shards?"""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if cores < SHARDS or not shutil.which("taskset"):
        return
    echo(f"shard run: serve's path as 1 and as {SHARDS} processes, one core each ...")
    one, one_cpu = _shard_run(path, model, 1)
    many, many_cpu = _shard_run(path, model, SHARDS)
    res.add("shard_one_conn_per_s", "serve path, one process (wall clock)", one, "conn/s")
    res.add("shards_conn_per_s", f"serve path, {SHARDS} shards by originator (wall clock)",
            many, "conn/s")  # fmt: skip
    res.add("shard_scaling", f"{SHARDS} shards / one process", many / one, "x")
    # Per CPU-second of each process, summed: what the shards would do with a core each.
    res.add("shard_scaling_cpu", f"{SHARDS} shards / one process, per CPU-second",
            many_cpu / one_cpu, "x")  # fmt: skip


#: Shards of the scaling run (one core each; the run is skipped on fewer cores).
SHARDS = 2


def _shard_run(path: Path, model: str | None, shards: int) -> tuple[float, float]:
    """Connections per wall-clock second of ``shards`` pinned processes started together
    (each says when it has loaded the model and read its share, then all are let go),
    and the sum of each one's connections per CPU-second."""
    procs = []
    for k in range(shards):
        code = (
            "import json;from hamad_plugin.research.bench import shard_child;"
            f"print(json.dumps(shard_child({str(path)!r}, {model!r}, {shards}, {k})))"
        )
        cmd = ["taskset", "-c", str(k), sys.executable, "-c", code]
        procs.append(
            subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        )
    for p in procs:
        assert p.stdout is not None
        p.stdout.readline()  # "ready" (or EOF if the child failed: reported below)
    outs = [p.communicate(b"go\n") for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        if p.returncode:
            raise RuntimeError(f"a shard run failed: {err.decode()[-2000:]}")
    got = [json.loads(o.decode().strip().splitlines()[-1]) for o, _ in outs]
    wall = sum(g["connections"] for g in got) / max(g["wall"] for g in got)
    return float(wall), float(sum(g["connections"] / max(g["cpu"], 1e-9) for g in got))


def shard_child(path: str, model: str | None, shards: int, k: int) -> dict[str, Any]:
    """Shard ``k`` of ``shards``: serve's scoring path (learning on, batches of 100) over
    the originators :func:`~hamad_plugin.research.shards.shard_of` gives it. Prints
    ``ready``, then starts when a line arrives on stdin."""
    from ..scoring.pipeline import Pipeline
    from .shards import shard_of

    cols = ConnColumns.concat(list(read_conn_log(path).batches(1024)))
    recs = cols.take([i for i, h in enumerate(cols.orig_h) if shard_of(h, shards) == k]).records()
    pipe = Pipeline.load(model, learning=LearningSettings())
    pipe.score(recs[:64])
    pipe.reset_site()
    print("ready", flush=True)
    sys.stdin.readline()
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, len(recs), 100):
        pipe.score(recs[i : i + 100])
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"connections": len(recs), "wall": wall, "cpu": cpu}


def _us(figures: dict[str, Any], key: str) -> float:
    """Microseconds per connection of a stage measured in conn/s."""
    return 1e6 / max(float(figures.get(key, 0.0)), 1e-9)


def _why_replay(key: str) -> Callable[[dict[str, Any]], str]:
    def why(f: dict[str, Any]) -> str:
        budget = 1e6 / (0.20 * f["csv_rows_per_s"])
        parts = {k: _us(f, f"{k}_conn_per_s") for k in ("parse", "features", "evidence", "score")}
        rest = _us(f, key) - sum(parts.values())
        named = ", ".join(f"{k} {v:.1f}" for k, v in parts.items())
        json = ", JSON lines" if "json" in key else ""
        return (
            f"at 0.20 x csv a connection may take {budget:.1f} us end to end; today {named}, "
            f"threshold, learner, incidents{json} and accounting {rest:.1f} us"
        )

    return why


def _why_serve(f: dict[str, Any]) -> str:
    stages = ("evidence", "score", "features", "verdict_objects")
    named = ", ".join(f"{k.replace('_', ' ')} {_us(f, f'{k}_conn_per_s'):.1f}" for k in stages)
    rest = _us(f, "serve_conn_per_s") - sum(_us(f, f"{k}_conn_per_s") for k in stages)
    return (
        f"50k conn/s leaves 20 us per connection; today {named}, site learner, incidents "
        f"and records -> columns {rest:.1f} us"
    )


def _why_memory(f: dict[str, Any]) -> str:
    keys = f["keys_tracked"] / max(f["hosts_tracked"], 1)
    return (
        f"{f['bytes_per_key']:.0f} B per key x {keys:.1f} keys per host; the windows' state "
        f"alone is {f.get('state_bytes_per_key', 0):.0f} B per key (float64 sums, 128-bit sketches)"
    )


def _why_latency(f: dict[str, Any]) -> str:
    return (
        f"the serve path ran {f['serve_conn_per_s']:,.0f} conn/s in this run, "
        "too close to the 10k offered, so batches queue"
    )


def _why_scaling(f: dict[str, Any]) -> str:
    cpu = f.get("shard_scaling_cpu", float("nan"))
    return (
        f"{f['shard_one_conn_per_s']:,.0f} -> {f['shards_conn_per_s']:,.0f} conn/s by the wall "
        f"clock, {cpu:.2f} x per CPU-second: "
        + ("the work divides; what is missing is CPU time the shards did not get (the other "
           f"processes on {SHARDS} cores; load average at start {f['load_average_at_start']})"
           if cpu >= 0.9 * SHARDS else "the shards do more work per connection than one process")
    )  # fmt: skip


#: The goals ``hamad bench`` prints its figures beside (issue 25; latency and edge from
#: issue 15): text, figure, goal, met?, and why not (computed from this run's stages).
GOALS: tuple[
    tuple[str, str, str, Callable[[dict[str, Any]], bool], Callable[[dict[str, Any]], str]], ...
] = (
    ("hamad replay / csv read of the same file", "end2end_vs_csv", ">= 0.20",
     lambda f: f["end2end_vs_csv"] >= 0.20, _why_replay("end2end_conn_per_s")),
    ("hamad replay --out (every verdict as JSON) / csv read", "end2end_json_vs_csv", ">= 0.20",
     lambda f: f["end2end_json_vs_csv"] >= 0.20, _why_replay("end2end_json_conn_per_s")),
    ("serve scoring path, one process (conn/s)", "serve_conn_per_s", ">= 50000",
     lambda f: f["serve_conn_per_s"] >= 50_000, _why_serve),
    (f"{SHARDS} shards / one process (site rate)", "shard_scaling", f">= {0.9 * SHARDS:.1f}",
     lambda f: f["shard_scaling"] >= 0.9 * SHARDS, _why_scaling),
    ("peak RSS in the memory run (1M hosts unless --hosts), no eviction (MB)", "hosts_rss_mb",
     "<= 256",
     lambda f: f["hosts_rss_mb"] <= 256, _why_memory),
    ("latency at 10k conn/s (100 per 10 ms batch), p99 (ms)", "latency_10k_p99_ms", "<= 20",
     lambda f: f["latency_10k_p99_ms"] <= 20, _why_latency),
    ("edge: peak RSS on one core (MB)", "edge_peak_rss_mb", "<= 512",
     lambda f: f["edge_peak_rss_mb"] <= 512, lambda f: "see the edge run"),
)  # fmt: skip


def goals_table(figures: dict[str, Any]) -> str:
    """The goals, each beside the measured figure, met / not met and, if not, why.

    Zeek's own CPU cost (goal <= 5 %) is measured where a Zeek exists, by
    ``tools/zeek_overhead.py``, which prints its figure against the same goal.
    """
    lines = [f"{'goal':<70}{'measured':>11}{'goal':>10}  met"]
    for text, key, want, ok, why in GOALS:
        if key not in figures:
            continue
        met = ok(figures)
        lines.append(f"{text:<70}{figures[key]:>11,.2f}{want:>10}  {'yes' if met else 'NO'}")
        if not met:
            lines.append(f"    why not: {why(figures)}")
    lines.append("Zeek-side CPU cost <= 5 %: tools/zeek_overhead.py (needs a Zeek)")
    return "\n".join(lines)
