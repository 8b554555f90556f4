"""End-to-end runs with a real Zeek (skipped where no ``zeek`` is installed).

Written for Zeek 8.x: ``zeek -r`` on a recorded pcap with a live ``hamad serve``
for each transport, the package's own btests, and ``zkg install`` of this
checkout into a scratch state directory. None of this can run in CI (no Zeek
binary there); the transport suites cover the protocol with recorded frames.
"""

from __future__ import annotations

import lzma
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
PCAPS = REPO.parent / "shared" / "datasets" / "pcaps"
PCAP = "slips-ssh-bruteforce.pcap.xz"  # 67 connections, the one the wire recordings used

ZEEK = shutil.which("zeek")
pytestmark = [
    pytest.mark.zeek,
    pytest.mark.skipif(ZEEK is None, reason="needs a zeek binary on PATH (not available in CI)"),
]

HAMAD_LOG_FIELDS = [
    "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "score", "threshold",
    "anomalous", "top_features", "top_model", "model_version", "interim",
]  # fmt: skip


def _zeek_version() -> tuple[int, int]:
    out = subprocess.run([ZEEK or "zeek", "--version"], capture_output=True, text=True, timeout=30)
    nums = out.stdout.split()[-1].split(".")
    return int(nums[0]), int(nums[1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pcap(tmp_path: Path) -> Path:
    src = PCAPS / PCAP
    if not src.exists():
        pytest.skip(f"{src} not present (shared datasets)")
    out = tmp_path / PCAP.removesuffix(".xz")
    out.write_bytes(lzma.decompress(src.read_bytes()))
    return out


def _fields(log: Path) -> list[str]:
    for line in log.read_text().splitlines():
        if line.startswith("#fields"):
            return line.split("\t")[1:]
    raise AssertionError(f"{log} has no #fields header (not an ASCII log?)")


def _rows(log: Path) -> list[dict[str, str]]:
    names = _fields(log)
    return [
        dict(zip(names, line.split("\t"), strict=True))
        for line in log.read_text().splitlines()
        if line and not line.startswith("#")
    ]


@pytest.mark.parametrize("transport", ["broker", "websocket"])
def test_zeek_r_with_a_live_worker(tmp_path: Path, transport: str) -> None:
    if transport == "websocket" and _zeek_version() < (8, 0):
        pytest.skip("the WebSocket transport needs Zeek >= 8.0")
    pcap = _pcap(tmp_path)
    port = _free_port()
    clock = _free_port()
    load = str(REPO / "zeek_scripts" / ("websocket.zeek" if transport == "websocket" else ""))
    redefs = [
        f"HAMAD::listen_port={port}/tcp",
        f"HAMAD::wait_clock_port={clock}/tcp",
        "HAMAD::startup_wait=60sec",
        "HAMAD::verdict_wait=60sec",
    ]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), str(REPO)]))
    worker = subprocess.Popen(
        [sys.executable, "-c", "from hamad_plugin.serve import serve_command; serve_command()",
         "--transport", transport, "--port", str(port), "--heartbeat-interval", "0.5"],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        zeek = subprocess.run(
            [ZEEK or "zeek", "-C", "-r", str(pcap), load, *redefs],
            cwd=tmp_path, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        worker.terminate()
        try:
            _, werr = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            _, werr = worker.communicate()
    assert zeek.returncode == 0, zeek.stderr
    hamad_log = tmp_path / "hamad.log"
    assert hamad_log.exists(), f"no hamad.log; zeek: {zeek.stderr}\nworker: {werr[-3000:]}"
    assert _fields(hamad_log) == HAMAD_LOG_FIELDS
    conns = {r["uid"] for r in _rows(tmp_path / "conn.log")}
    scored = {r["uid"] for r in _rows(hamad_log) if r["interim"] == "F"}
    assert scored == conns, "every connection in conn.log gets exactly one final verdict"
    notice = tmp_path / "notice.log"
    if notice.exists():
        notes = {r["note"] for r in _rows(notice)}
        assert notes <= {"HAMAD::Anomalous_Connection", "HAMAD::Anomalous_Host"}


def test_zeek_r_without_a_worker_terminates_and_reports(tmp_path: Path) -> None:
    pcap = _pcap(tmp_path)
    zeek = subprocess.run(
        [ZEEK or "zeek", "-C", "-r", str(pcap), str(REPO / "zeek_scripts"),
         f"HAMAD::listen_port={_free_port()}/tcp", f"HAMAD::wait_clock_port={_free_port()}/tcp",
         "HAMAD::startup_wait=3sec"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert zeek.returncode == 0, zeek.stderr
    notices = _rows(tmp_path / "notice.log")
    assert [n["note"] for n in notices] == ["HAMAD::Worker_Unavailable"]
    assert (tmp_path / "conn.log").exists()


def test_package_btests_pass() -> None:
    if shutil.which("btest") is None:
        pytest.skip("btest not installed (pip install btest)")
    out = subprocess.run(
        ["btest", "-c", "btest.cfg", "-d"], cwd=TESTS / "zeek", capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr


def test_zkg_installs_this_checkout(tmp_path: Path) -> None:
    zkg = shutil.which("zkg")
    if zkg is None:
        pytest.skip("zkg not installed (pip install zkg)")
    if not (REPO / ".git").exists():
        pytest.skip("zkg installs git checkouts; this copy is not one")
    state = tmp_path / "state"
    cfg = tmp_path / "zkg.cfg"
    cfg.write_text(
        f"[sources]\n\n[paths]\nstate_dir = {state}\nscript_dir = {tmp_path / 'scripts'}\n"
        f"plugin_dir = {tmp_path / 'plugins'}\nbin_dir = {tmp_path / 'bin'}\n"
    )
    out = subprocess.run(
        [zkg, "--configfile", str(cfg), "install", "--force", str(REPO)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    installed = list((tmp_path / "scripts").rglob("main.zeek"))
    assert installed, "package scripts were not installed"
    assert (tmp_path / "bin" / "hamad").exists(), "the hamad executable was not linked"
