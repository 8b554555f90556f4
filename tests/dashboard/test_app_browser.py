"""End to end: the real dashboard in headless Chromium over a real worker's run.

A simulated gateway capture (3,000 connections, one hour, learning for the
first 15 minutes) is scored by a real ``hamad serve --metrics-port``, fed by a
fake Zeek; its verdicts are logged as Zeek logs them (tests/dashboard_logs.py).
``hamad dashboard`` then runs on a loopback port over that log directory, the
live worker's metrics and a ``hamad eval`` directory, and Chromium (Debian's
``chromium`` + ``chromium-driver``, driven by selenium) opens every page and
checks that it shows the numbers that are in the logs. Screenshots go to the
test's directory, and to ``$HAMAD_SCREENSHOTS`` when set (``make screenshots``
writes docs/img/ that way).

Skipped, with the reason, without Chromium, chromedriver, selenium or the
dashboard extra (``.ci/run`` installs them).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("streamlit", reason="the dashboard extra is not installed")
selenium = pytest.importorskip("selenium", reason="selenium is not installed (the dev extra)")

from conftest import free_port  # noqa: E402
from dashboard_logs import LiveRun, simulate  # noqa: E402

from hamad_plugin.dashboard.zeeklog import read_logs  # noqa: E402
from hamad_plugin.scoring.model import LoadedModel  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="needs Chromium and chromedriver (Debian: apt-get install chromium chromium-driver)",
    ),
]
HAMAD = [sys.executable, "-c", "from hamad_plugin.cli import main; main()"]
DASHBOARD = [*HAMAD, "dashboard"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    profile = tmp_path_factory.mktemp("chromium-profile")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-sync",
                "--disable-component-update", "--disable-dev-shm-usage",
                "--window-size=1400,1000", f"--user-data-dir={profile}"):  # fmt: skip
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


def _wait_http(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _page(driver: Any, base: str, page: str, expect: list[str], shots: list[Path]) -> str:
    """Open ``?page=...``, wait until every expected string is on it, screenshot it whole."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.set_window_size(1400, 1000)
    driver.get(f"{base}/?page={page.lower()}")
    body = ""

    def ready(d: Any) -> bool:
        nonlocal body
        body = d.find_element(By.TAG_NAME, "body").text
        # Code blocks (a notice's message) are not in .text; their textContent is.
        codes = d.find_elements(By.CSS_SELECTOR, "[data-testid='stCode'] code")
        body += "\n" + "\n".join(str(c.get_attribute("textContent")) for c in codes)
        running = d.find_elements(By.CSS_SELECTOR, "[data-testid='stStatusWidget']")
        return all(e in body for e in expect) and not running

    try:
        WebDriverWait(driver, 90, poll_frequency=0.5).until(ready)
    except Exception:
        missing = [e for e in expect if e not in body]
        raise AssertionError(f"{page} page lacks {missing}; it shows:\n{body[:3000]}") from None
    time.sleep(2)  # charts draw after the text
    height = driver.execute_script(
        "const m = document.querySelector('[data-testid=\"stMain\"]') || document.body;"
        "return Math.max(m.scrollHeight, document.body.scrollHeight);"
    )
    driver.set_window_size(1400, min(int(height) + 40, 4000))
    time.sleep(1)
    for d in shots:
        d.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(d / f"dashboard-{page.lower()}.png"))
    ready(driver)  # the text as it is now, charts and code blocks drawn
    return str(body)


def test_every_page_shows_what_the_logs_hold(browser: Any, tmp_path: Path) -> None:
    # The capture ends now, so the Live page looks as it would on a gateway (last verdict
    # minutes ago); the worker scores the whole hour at once, as a replay.
    conn_log = simulate(tmp_path / "sim.conn.log", start=time.time() - 3600)
    eval_dir = tmp_path / "eval"
    subprocess.run([*HAMAD, "eval", "--data", str(conn_log), "--out", str(eval_dir)],
                   check=True, capture_output=True)  # fmt: skip
    metrics = json.loads((eval_dir / "metrics.json").read_text())["overall_at_calibrated_threshold"]
    shots = [tmp_path / "img"]
    if os.environ.get("HAMAD_SCREENSHOTS"):
        shots.append(Path(os.environ["HAMAD_SCREENSHOTS"]))
    port = free_port()
    with LiveRun(tmp_path / "run", conn_log) as run:
        hamad = list(read_logs(run.log_dir, "hamad"))
        notices = [json.loads(x) for x in
                   (run.log_dir / "current" / "notice.log").read_text().splitlines()]  # fmt: skip
        anomalous = sum(r["anomalous"] for r in hamad)
        dash = subprocess.Popen(
            [*DASHBOARD, "--logs", str(run.log_dir), "--metrics", run.metrics_url,
             "--eval", str(eval_dir), "--state-dir", str(run.state_dir), "--port", str(port),
             "--refresh", "2"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_http(base + "/_stcore/health")
            live = _page(browser, base, "Live", ["Verdicts", "Worker health", "Connected to Zeek"],
                         shots)  # fmt: skip
            assert f"Verdicts\n{len(hamad):,}" in live
            assert f"Anomalous\n{anomalous:,}" in live
            incidents = [n for n in notices if n["note"] == "HAMAD::Incident"]
            assert incidents, "the simulated attacks raise incidents"
            assert f"Incidents\n{len(incidents):,}" in live
            assert "Connected to Zeek\nyes" in live and "Shed\n0" in live and "Lost\n0" in live
            assert f"summaries received {len(hamad):,}, scored {len(hamad):,}" in live
            assert "Learning the site" in live

            newest = max(incidents, key=lambda n: n["ts"])  # incidents are listed first
            alerts = _page(browser, base, "Alerts", ["Alerts shown", "Its connections in hamad.log",
                                                     "Its hamad.log line"], shots)  # fmt: skip
            assert f"{len(notices):,} of {len(notices):,}" in alerts
            assert newest["uid"] in alerts, "the newest incident opens with its connection"
            assert newest["msg"][:60] in alerts, "with its explanation, as Zeek wrote it"

            origs: dict[str, int] = {}
            for r in hamad:
                origs[r["id.orig_h"]] = origs.get(r["id.orig_h"], 0) + int(r["anomalous"])
            top_host, top_n = max(origs.items(), key=lambda kv: kv[1])
            hosts = _page(browser, base, "Hosts", ["Originators", "Responders", top_host], shots)
            assert f"{top_host}\n{top_n}" in hosts

            # The worker saves what it learned when it stops; the Model page shows it.
            run.stop_worker()
            learned = json.loads(subprocess.run(
                [*HAMAD, "learn", "status", "--json", "--state-dir", str(run.state_dir)],
                check=True, capture_output=True, text=True).stdout)  # fmt: skip
            model = _page(browser, base, "Model", ["Model version", "Learned state", "Phase"],
                          shots)  # fmt: skip
            assert f"Phase\n{learned['phase']}" in model
            assert f"Learned\n{learned['learned']:,}" in model
            n_features = len(LoadedModel.load(None).feature_names)  # the shipped model's
            assert f"Features\n{n_features}" in model

            ev = _page(browser, base, "Evaluation", ["Precision", "ROC curve"], shots)
            assert f"Precision\n{metrics['precision']:.4f}" in ev
            assert f"Recall\n{metrics['recall']:.4f}" in ev
            for k in ("tp", "fp", "tn", "fn"):
                assert str(metrics[k]) in ev
        finally:
            dash.send_signal(signal.SIGINT)
            try:
                dash.wait(timeout=20)
            except subprocess.TimeoutExpired:
                dash.kill()
    assert sorted(p.name for p in shots[0].iterdir()) == [
        "dashboard-alerts.png", "dashboard-evaluation.png", "dashboard-hosts.png",
        "dashboard-live.png", "dashboard-model.png",
    ]  # fmt: skip
