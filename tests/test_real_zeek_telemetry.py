"""Both metrics endpoints in one real run: Zeek's own (Telemetry::metrics_port) carries
HAMAD's counters, the worker's (``hamad serve --metrics-port``) its own, and the two agree.

Skipped, with the reason, where no Zeek is installed (CI has none).
"""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_real_zeek import NO_ZEEK, SCRIPTS, ZEEK, free_port, make_trace, rows, worker

pytestmark = [
    pytest.mark.zeek,
    pytest.mark.skipif(ZEEK is None, reason=NO_ZEEK),
]


def scrape(port: int) -> dict[str, float]:
    """Sample name (with labels) -> value; {} while the endpoint is not up."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()) if k != "node")
            out[s.name + (f"{{{labels}}}" if labels else "")] = s.value
    return out


def test_hamad_counters_on_zeeks_prometheus_endpoint(tmp_path: Path) -> None:
    pcap = make_trace(tmp_path / "trace.pcap")
    run = tmp_path / "run"
    run.mkdir()
    # HAMAD leaves ending the run to a script that keeps Zeek running (as a live Zeek
    # would), so the endpoint can be scraped after the trace.
    (run / "keep.zeek").write_text("redef exit_only_after_terminate = T;\n")
    port, zeek_metrics, worker_metrics = free_port(), free_port(), free_port()
    with worker("auto", port, "--metrics-port", str(worker_metrics)):
        z = subprocess.Popen(
            [ZEEK or "zeek", "-C", "-r", str(pcap), "keep.zeek", str(SCRIPTS),
             f"HAMAD::listen_port={port}/tcp", f"Telemetry::metrics_port={zeek_metrics}/tcp",
             "HAMAD::learning_period=0secs"],
            cwd=run, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            seen: list[dict[str, float]] = []
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                m = scrape(zeek_metrics)
                sent = m.get("zeek_hamad_summaries_sent_total", 0)
                if sent and m.get("zeek_hamad_verdicts_received_total") == sent:
                    seen.append(m)
                    if len(seen) >= 2 and seen[-2]["zeek_hamad_summaries_sent_total"] == sent:
                        break  # the trace is done and every verdict is in
                time.sleep(1)
            w = scrape(worker_metrics)
        finally:
            z.send_signal(signal.SIGTERM)
            _, err = z.communicate(timeout=60)
    assert seen, f"no HAMAD counters on Zeek's endpoint: {err}"
    m = seen[-1]
    conns = rows(run / "conn.log")
    assert m["zeek_hamad_summaries_built_total"] == len(conns)
    assert m["zeek_hamad_summaries_sent_total"] == len(conns)
    assert m["zeek_hamad_summaries_unsent_total"] == 0
    assert m["zeek_hamad_worker_available"] == 1
    assert m["zeek_hamad_summaries_outstanding"] == 0
    assert m["zeek_hamad_heartbeats_total"] > 0
    assert m["zeek_hamad_worker_outages_total"] == 0
    notices = [n["note"] for n in rows(run / "notice.log")]
    for note in ("HAMAD::Incident", "HAMAD::Anomalous_Connection", "HAMAD::Anomalous_Host"):
        assert m[f"zeek_hamad_notices_total{{note={note}}}"] == notices.count(note)
    assert notices.count("HAMAD::Incident") > 0, "the port scan raises an incident"
    # The worker's side of the same run.
    assert w["hamad_summaries_received_total"] == m["zeek_hamad_summaries_sent_total"]
    assert w["hamad_verdicts_sent_total"] == m["zeek_hamad_verdicts_received_total"]
    assert w["hamad_connected"] == 1
    assert w["hamad_verdict_score_count"] == len(conns)
