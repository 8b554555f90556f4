"""``hamad serve --metrics-port``: a real worker process scraped and parsed with prometheus_client."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import signal
import socket
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port
from fake_zeek import FakeZeekWS, make_flat_batch, serve_process, summaries_frame

from hamad_plugin.core.settings import ServeSettings
from hamad_plugin.worker.prometheus import COUNTERS, BulkHistogram, WorkerMetrics
from hamad_plugin.worker.state import Counters

parser = pytest.importorskip("prometheus_client.parser")


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        return str(resp.read().decode())


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in parser.text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_are_off_and_on_loopback_by_default() -> None:
    s = ServeSettings()
    assert s.metrics_port == 0 and s.metrics_host == "127.0.0.1"


def test_every_worker_counter_is_exported_with_a_conventional_name() -> None:
    assert set(COUNTERS) == {f.name for f in dataclasses.fields(Counters)}
    for name, doc in COUNTERS.values():
        assert re.fullmatch(r"hamad_[a-z_]+", name) and not name.endswith("_total") and doc


def test_bulk_histogram_matches_prometheus_le_buckets() -> None:
    h = BulkHistogram("x_seconds", "x", [0.1, 0.5, 1.0])
    h.observe([0.05, 0.1, 0.3, 2.0])
    fam = h.family()
    got = {(s.name, s.labels.get("le")): s.value for s in fam.samples}
    assert got[("x_seconds_bucket", "0.1")] == 2  # a value on a bound counts in it
    assert got[("x_seconds_bucket", "0.5")] == 3
    assert got[("x_seconds_bucket", "+Inf")] == 4
    assert got[("x_seconds_count", None)] == 4
    assert got[("x_seconds_sum", None)] == pytest.approx(2.45)


def test_a_worker_in_use_reports_its_state(tmp_path: Path) -> None:
    """A real `hamad serve` (shipped model, learning on) scored 5 summaries from a fake
    Zeek: the scrape has the counts, gauges, the model's identity and the histograms."""

    metrics_port = free_port()

    async def body() -> tuple[str, str, int, str]:
        fake = FakeZeekWS()
        port = await fake.start()
        proc = await serve_process(
            port, "--heartbeat-interval", "0.2", "--state-dir", str(tmp_path / "state"),
            "--metrics-port", str(metrics_port),
        )  # fmt: skip
        try:
            await fake.wait_client(timeout=60)
            _, hello = await fake.next_event("HAMAD::hello", timeout=10)
            await fake.send(summaries_frame(make_flat_batch(5, prefix="M")))
            _, vargs = await fake.next_event("HAMAD::verdicts", timeout=30)
            assert len(vargs[0]) == 5
            # The worker counts a batch as sent once its send returns, which may be just
            # after the fake received it: scrape until the count is there.
            for _ in range(50):
                text = await asyncio.to_thread(_scrape, metrics_port)
                if _samples(text).get(("hamad_verdicts_sent_total", ())) == 5:
                    break
                await asyncio.sleep(0.1)
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
            await fake.stop()
        return text, str(hello[2]), proc.returncode or 0, err.decode()

    text, model_version, rc, err = asyncio.run(asyncio.wait_for(body(), 120))
    assert rc == 0, err
    assert f"url=http://127.0.0.1:{metrics_port}/metrics" in err
    s = _samples(text)
    assert s[("hamad_summaries_received_total", ())] == 5
    assert s[("hamad_summaries_scored_total", ())] == 5
    assert s[("hamad_verdicts_sent_total", ())] == 5
    for name in ("shed", "rejected"):
        assert s[(f"hamad_summaries_{name}_total", ())] == 0
    for name in ("hamad_verdicts_lost_total", "hamad_scoring_errors_total",
                 "hamad_reconnects_total", "hamad_bad_events_total"):  # fmt: skip
        assert s[(name, ())] == 0
    assert s[("hamad_connected", ())] == 1
    assert s[("hamad_queue_depth", ())] == 0
    assert s[("hamad_queue_capacity", ())] == 10_000
    assert 0 < s[("hamad_threshold", ())] < 1
    assert s[("hamad_learning_phase", (("phase", "learning"),))] == 1
    assert s[("hamad_learning_phase", (("phase", "off"),))] == 0
    assert s[("hamad_learning_learned_total", ())] == 5
    info = [k for k in s if k[0] == "hamad_model_info"]
    assert len(info) == 1 and dict(info[0][1])["model_version"] == model_version
    assert dict(info[0][1])["transport"] == "websocket"
    assert s[("hamad_verdict_score_count", ())] == 5
    assert 0 <= s[("hamad_verdict_score_sum", ())] <= 5
    assert s[("hamad_scoring_batch_duration_seconds_count", ())] >= 1
    assert s[("hamad_worker_latency_seconds_count", ())] == 5
    assert s[("hamad_verdict_latency_seconds_count", ())] == 5
    # Conventions: hamad_ prefix; counters end in _total; histograms have a unit or are scores.
    for fam in parser.text_string_to_metric_families(text):
        assert fam.name.startswith("hamad_"), fam.name
        if fam.type == "counter":
            assert all(x.name.endswith(("_total", "_created")) for x in fam.samples)
        if fam.type == "histogram":
            assert fam.name.endswith(("_seconds", "_score")), fam.name


def test_a_taken_metrics_port_is_one_clear_error() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        m = WorkerMetrics()
        with pytest.raises(Exception, match=f"cannot serve metrics on 127.0.0.1:{port}"):
            m.start("127.0.0.1", port)


def test_an_idle_endpoint_still_answers() -> None:
    m = WorkerMetrics()
    port = m.start("127.0.0.1", 0)
    try:
        s = _samples(_scrape(port))
    finally:
        m.stop()
    assert s[("hamad_queue_depth", ())] == 0
    assert s[("hamad_verdict_score_count", ())] == 0
    labels: dict[str, Any] = dict(next(k for k in s if k[0] == "hamad_model_info")[1])
    assert labels["hamad_version"]
