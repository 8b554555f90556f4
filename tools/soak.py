#!/usr/bin/env python3
"""Soak: hours of summaries through a real Zeek into ``hamad serve``; memory, queue, latency.

A small Zeek script (written to a temporary directory, loaded after the HAMAD
package) makes connection summaries at a fixed rate on Zeek's own clock and
hands them to HAMAD exactly as finished connections are (``enqueue_summary``:
batching, transport, verdict handling, hamad.log, notices, accounting). First
a saturating minute measures what the worker scores per second; then the soak
offers ``--load`` (default 80 %) of that for ``--minutes``. Every ``--every``
seconds it samples the worker's RSS, queue depth and counters (its Prometheus
endpoint), Zeek's RSS, and the connection-end -> verdict latency Zeek itself
measures per verdict. It prints the figures (RSS slope after warm-up, queue,
p99 per interval, Zeek's final accounting) and writes them as JSON and a PNG.

    python3 tools/soak.py --minutes 60 --out soak/          # needs zeek (PATH or /opt/zeek*)
    python3 tools/soak.py --minutes 2 --transport broker --out /tmp/s

The summaries: 2,000 originators and 20,000 responders on eight services, sizes
and durations varied deterministically; after warm-up the worker's key tables
are full and stay at their bounds, so memory must stay flat.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
#: Upper edges (seconds) of the latency histogram the Zeek script keeps.
LAT_EDGES = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: The capacity ramp: offered summaries/s, each step this many seconds.
CAPACITY_STEPS = (1000.0, 2000.0, 3000.0, 4000.0, 5000.0, 6000.0, 7000.0, 8000.0, 10000.0, 12000.0)
CAPACITY_SECONDS = 40.0
#: RSS slope goal after warm-up, MB per hour (issue 26).
SLOPE_GOAL_MB_PER_H = 1.0

#: The Zeek side of the soak (placeholders LAT_EDGES and LAT_ZEROS filled in by the tool).
ZEEK_SCRIPT = Path(__file__).with_name("soak.zeek")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _find_zeek(given: str | None) -> str:
    if given:
        return given
    found = shutil.which("zeek")
    if found:
        return found
    builds = sorted(Path("/opt").glob("zeek*/bin/zeek")) + [Path("/usr/local/zeek/bin/zeek")]
    for z in reversed(builds):
        if z.exists():
            return str(z)
    raise SystemExit("no zeek found: put it on PATH or pass --zeek")


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


_TICK = os.sysconf("SC_CLK_TCK")


def _busy_s() -> float:
    """CPU seconds the whole machine has been busy (all cores, /proc/stat)."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(f[:8]) - f[3] - f[4]) / _TICK  # all but idle and iowait


def _cpu_s(pid: int) -> float:
    """CPU seconds of one process, all its threads (user + system)."""
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(f[11]) + int(f[12])) / _TICK


class _Cpu:
    """Cores used since the last sample by Zeek, the worker and everything else: a
    soak on a machine other work also loads says so in its own figures."""

    def __init__(self) -> None:
        self.last: tuple[float, float, float, float] | None = None

    def sample(self, zeek: int, worker: int) -> dict[str, float]:
        now = (time.monotonic(), _busy_s(), _cpu_s(zeek), _cpu_s(worker))
        last, self.last = self.last, now
        if last is None or now[0] <= last[0] or now[2] < last[2]:
            return {}
        dt = now[0] - last[0]
        z, w = (now[2] - last[2]) / dt, (now[3] - last[3]) / dt
        return {"zeek_cores": round(z, 3), "worker_cores": round(w, 3),
                "other_cores": round(max(0.0, (now[1] - last[1]) / dt - z - w), 3)}  # fmt: skip


def _metrics(port: int) -> dict[str, float]:
    """The worker's counters and gauges (names without labels; histograms left out)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = re.match(r"^(hamad_[a-z_]+?)(_total)?(\{[^}]*\})? ([0-9.eE+-]+|NaN)$", line)
        if m and "bucket" not in m.group(1) and m.group(3) is None:
            out[m.group(1)] = float(m.group(4))
    return out


def _zeek_script(tmp: Path) -> Path:
    text = ZEEK_SCRIPT.read_text().replace("LAT_ZEROS", ", ".join(["0"] * (len(LAT_EDGES) + 1)))
    text = text.replace("LAT_EDGES", ", ".join(str(e) for e in LAT_EDGES))
    path = tmp / "soak.zeek"
    path.write_text(text)
    return path


def _run_zeek(zeek: str, args: argparse.Namespace, port: int, rate: float, seconds: float,
              cwd: Path, on_line: Any, every: float | None = None) -> list[str]:  # fmt: skip
    """One Zeek run: the package, the soak script, at ``rate`` for ``seconds``."""
    cwd.mkdir(parents=True, exist_ok=True)
    every = every or args.every
    script = _zeek_script(cwd)
    pkg = str(REPO / "zeek_scripts" / ("websocket.zeek" if args.transport == "websocket" else ""))
    cmd = [zeek, pkg, str(script), f"HAMAD::listen_port={port}/tcp",
           f"HAMAD::soak_rate={rate}", f"HAMAD::soak_duration={seconds}sec",
           f"HAMAD::soak_every={every}sec", *args.extra]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        on_line(line.rstrip("\n"), proc.pid)
    proc.wait()
    if proc.returncode:
        err = proc.stderr.read() if proc.stderr else ""
        raise SystemExit(f"zeek failed ({proc.returncode}): {err[-2000:]}")
    return lines


def _parse(line: str) -> dict[str, Any] | None:
    if not line.startswith("SOAK t="):
        return None
    d: dict[str, Any] = {}
    for part in line[5:].split():
        k, _, v = part.partition("=")
        d[k] = [int(x) for x in v.split(",")] if k == "lat" else float(v)
    return d


def _quantile(hist: list[int], q: float) -> float:
    """Upper edge of the bucket holding quantile ``q`` (inf past the last edge)."""
    total = sum(hist)
    if not total:
        return float("nan")
    acc = 0
    for edge, n in zip((*LAT_EDGES, float("inf")), hist, strict=True):
        acc += n
        if acc >= q * total:
            return edge
    return float("inf")


def _slope_mb_per_hour(t: list[float], y: list[float]) -> float:
    n = len(t)
    if n < 2:
        return float("nan")
    mt, my = sum(t) / n, sum(y) / n
    var = sum((a - mt) ** 2 for a in t)
    return 3600.0 * sum((a - mt) * (b - my) for a, b in zip(t, y, strict=True)) / var


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--load", type=float, default=0.8, help="share of measured capacity")
    ap.add_argument("--rate", type=float, default=0.0, help="offer this rate (skip capacity)")
    ap.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--warmup", type=float, default=10.0, help="minutes left out of the slope")
    ap.add_argument("--transport", choices=["websocket", "broker"], default="websocket")
    ap.add_argument("--zeek", default=None)
    ap.add_argument("--extra", action="append", default=[], help="extra Zeek arguments")
    ap.add_argument("--out", required=True, help="directory for soak.json and soak.png")
    args = ap.parse_args(argv)
    zeek = _find_zeek(args.zeek)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    port, mport = _free_port(), _free_port()
    worker = subprocess.Popen(
        [sys.executable, "-c", "from hamad_plugin.cli import main; main()", "serve",
         "--transport", args.transport, "--port", str(port), "--metrics-port", str(mport),
         "--max-backoff", "0.5", "--state-dir", str(out / "state")],
        stderr=open(out / "worker.log", "w"),  # noqa: SIM115 - closed with the process
    )  # fmt: skip
    samples: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory() as tmpdir:
            tmp = Path(tmpdir)
            rate = args.rate or _capacity(zeek, args, port, mport, tmp) * args.load
            print(f"soak: {rate:,.0f} summaries/s for {args.minutes:g} min "
                  f"({args.transport}, {zeek})", flush=True)  # fmt: skip
            t0 = time.monotonic()
            cpu = _Cpu()
            batches = {"sum": 0.0, "count": 0.0}

            def batch_ms(m: dict[str, float]) -> float | None:
                """Mean wall time of one scoring call since the last sample (ms)."""
                s_, n_ = (
                    m.get(f"hamad_scoring_batch_duration_seconds_{k}") for k in ("sum", "count")
                )
                if s_ is None or n_ is None or n_ <= batches["count"]:
                    return None
                out = (s_ - batches["sum"]) / (n_ - batches["count"]) * 1000
                batches.update(sum=s_, count=n_)
                return round(out, 2)

            def sample(line: str, zeek_pid: int) -> None:
                d = _parse(line)
                if d is None:
                    return
                m = _metrics(mport)
                d.update(wall=time.monotonic() - t0, worker_rss_mb=_rss_mb(worker.pid),
                         zeek_rss_mb=_rss_mb(zeek_pid), queue=m.get("hamad_queue_depth"),
                         shed=m.get("hamad_summaries_shed"),
                         scored=m.get("hamad_summaries_scored"),
                         received=m.get("hamad_summaries_received"), batch_ms=batch_ms(m),
                         **cpu.sample(zeek_pid, worker.pid))  # fmt: skip
                samples.append(d)
                print(f"  t={d['t']:7.0f}s worker {d['worker_rss_mb']:6.1f} MB, zeek "
                      f"{d['zeek_rss_mb']:6.1f} MB, queue {d['queue']}, outstanding "
                      f"{d['outstanding']:.0f}, p99 <= {_quantile(d['lat'], 0.99)} s",
                      flush=True)  # fmt: skip

            lines = _run_zeek(zeek, args, port, rate, args.minutes * 60, tmp / "soak", sample)
            reporter = (tmp / "soak" / "reporter.log").read_text(errors="replace")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    stop = [ln for ln in reporter.splitlines() if "HAMAD: summaries built" in ln]
    result = _summarise(samples, rate, args, stop, lines)
    (out / "soak.json").write_text(json.dumps({"samples": samples, **result}, indent=1) + "\n")
    _plot(samples, result, out / "soak.png")
    for k, v in result.items():
        print(f"{k}: {v}")
    return 0


def _capacity(zeek: str, args: argparse.Namespace, port: int, mport: int, tmp: Path) -> float:
    """The highest offered rate Zeek and the worker sustain together on this machine.

    Steps of :data:`CAPACITY_STEPS` summaries/s, :data:`CAPACITY_SECONDS` each: a step is
    sustained when Zeek made what was offered (within 5 %), the worker shed nothing and
    every summary was answered by the end. (Offering far more than that and counting what
    is scored measures the overload path instead: shedding a flood costs the worker most
    of its time, so it scores less than at the edge of its capacity.)
    """
    best = 0.0
    for k, rate in enumerate(CAPACITY_STEPS):
        seen: list[dict[str, Any]] = []
        shed0 = _metrics(mport).get("hamad_summaries_shed", 0.0)

        def note(line: str, _pid: int, seen: list[dict[str, Any]] = seen) -> None:
            d = _parse(line)
            if d is not None:
                seen.append(d)

        _run_zeek(zeek, args, port, rate, CAPACITY_SECONDS, tmp / f"capacity{k}", note, 5.0)
        shed = _metrics(mport).get("hamad_summaries_shed", 0.0) - shed0
        made = seen[-1]["made"] if seen else 0
        ok = made >= 0.95 * rate * CAPACITY_SECONDS and shed == 0 and seen[-1]["outstanding"] <= 0
        print(f"capacity: {rate:>8,.0f}/s offered: made {made / CAPACITY_SECONDS:,.0f}/s, shed "
              f"{shed:,.0f}, left unanswered {seen[-1]['outstanding'] if seen else '?'}: "
              f"{'sustained' if ok else 'not sustained'}", flush=True)  # fmt: skip
        if not ok:
            break
        best = rate
    if best == 0:
        raise SystemExit("capacity: not even the lowest step was sustained")
    return best


def _summarise(samples: list[dict[str, Any]], rate: float, args: argparse.Namespace,
               stop: list[str], lines: list[str]) -> dict[str, Any]:  # fmt: skip
    warm = [s for s in samples if s["t"] >= args.warmup * 60 and s["t"] <= args.minutes * 60]
    p99 = [_quantile(s["lat"], 0.99) for s in warm if sum(s["lat"])]
    queue = [s["queue"] for s in warm if s["queue"] is not None]
    slope = _slope_mb_per_hour([s["t"] for s in warm], [s["worker_rss_mb"] for s in warm])
    zslope = _slope_mb_per_hour([s["t"] for s in warm], [s["zeek_rss_mb"] for s in warm])
    last = samples[-1] if samples else {}
    made = last.get("made", 0)
    return {
        "offered_per_s": round(rate, 1),
        "achieved_per_s": round(made / max(args.minutes * 60, 1), 1),
        "minutes": args.minutes,
        "transport": args.transport,
        "worker_rss_slope_mb_per_h_after_warmup": round(slope, 3),
        "zeek_rss_slope_mb_per_h_after_warmup": round(zslope, 3),
        "worker_rss_mb_first_last": [round(warm[0]["worker_rss_mb"], 1),
                                     round(warm[-1]["worker_rss_mb"], 1)] if warm else [],
        "queue_max_after_warmup": max(queue) if queue else None,
        "p99_latency_s_median_of_intervals": sorted(p99)[len(p99) // 2] if p99 else None,
        "p99_latency_s_worst_interval": max(p99) if p99 else None,
        "shed": last.get("shed"),
        "other_cores_max_after_warmup": max((s.get("other_cores", 0.0) for s in warm),
                                            default=None),
        "other_cores_mean_after_warmup": round(sum(s.get("other_cores", 0.0) for s in warm)
                                               / max(len(warm), 1), 3),
        "zeek_stop_line": stop[-1].split("HAMAD: ", 1)[-1] if stop else "",
        "memory_goal_met": bool(warm) and slope < SLOPE_GOAL_MB_PER_H,
    }  # fmt: skip


def _plot(samples: list[dict[str, Any]], result: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no PNG", file=sys.stderr)
        return
    t = [s["t"] / 60 for s in samples]
    fig, ax = plt.subplots(4, 1, figsize=(9, 10), sharex=True)
    ax[0].plot(t, [s["worker_rss_mb"] for s in samples], label="hamad serve")
    ax[0].plot(t, [s["zeek_rss_mb"] for s in samples], label="zeek")
    ax[0].set_ylabel("RSS (MB)")
    ax[0].legend(loc="lower right")
    ax[0].set_title(f"soak: {result['offered_per_s']:,.0f} summaries/s offered, "
                    f"{result['transport']}; worker RSS slope after warm-up "
                    f"{result['worker_rss_slope_mb_per_h_after_warmup']:+.2f} MB/h")  # fmt: skip
    ax[1].plot(t, [s["queue"] or 0 for s in samples], label="worker queue depth")
    ax[1].plot(t, [s["outstanding"] for s in samples], label="Zeek: outstanding")
    ax[1].set_ylabel("summaries")
    ax[1].legend(loc="upper right")
    ax[2].step(t, [_quantile(s["lat"], 0.99) for s in samples], where="post", label="p99")
    ax[2].step(t, [_quantile(s["lat"], 0.5) for s in samples], where="post", label="p50")
    ax[2].set_yscale("log")
    ax[2].set_ylabel("conn end -> verdict (s,\nbucket upper edge)")
    ax[2].legend(loc="upper right")
    for key, label in (("zeek_cores", "zeek"), ("worker_cores", "hamad serve"),
                       ("other_cores", "everything else")):  # fmt: skip
        ax[3].plot(t, [s.get(key, float("nan")) for s in samples], label=label)
    ax[3].set_ylabel("CPU (cores)")
    ax[3].set_xlabel("minutes")
    ax[3].legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
