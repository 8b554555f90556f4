"""A Zeek cluster on one host with the package loaded (skipped without zeek, root or ``ip``).

Started the way zeekctl starts nodes: every node is ``zeek`` with
``CLUSTER_NODE`` set, a ``cluster-layout.zeek`` on ZEEKPATH and a cluster
backend loaded (``frameworks/cluster/backend/zeromq``, zeekctl's default since
Zeek 8.1, with the manager running the XPUB/XSUB proxy; or
``frameworks/cluster/backend/broker``), and every node loads the same scripts
(the package included). Manager, logger, proxy and two workers; the
workers capture live on their own veth interface, into which the test sends
the frames of a generated trace (a different site per worker) from a network
namespace. One ``hamad serve`` talks to the manager.

What must hold: no node exits; only the manager listens for the worker;
summaries from both workers are scored; every verdict and notice is logged
once (by the logger).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from test_real_zeek import NO_ZEEK, ZEEK, free_port, make_trace, package, rows, worker
from zeek_install import ZEEK_INSTALL

NODES = ("logger-1", "manager", "proxy-1", "worker-1", "worker-2")
NETNS = f"hamadtest{os.getpid()}"

pytestmark = [
    pytest.mark.zeek,
    pytest.mark.skipif(ZEEK is None, reason=NO_ZEEK),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for veth interfaces"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2's ip"),
]


def _sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, text=True)


@contextmanager
def veth_pairs(n: int) -> Iterator[list[str]]:
    """``n`` veth pairs: the capture side in this namespace, the sending side in a netns."""
    _sh("ip", "netns", "add", NETNS)
    capture = []
    try:
        for i in range(1, n + 1):
            cap, send = f"hmd{os.getpid() % 10000}c{i}", f"hmd{os.getpid() % 10000}s{i}"
            _sh("ip", "link", "add", cap, "type", "veth", "peer", "name", send)
            _sh("ip", "link", "set", send, "netns", NETNS)
            for ns, dev in ((None, cap), (NETNS, send)):
                pre = ["ip", "netns", "exec", ns] if ns else []
                subprocess.run([*pre, "sysctl", "-qw", f"net.ipv6.conf.{dev}.disable_ipv6=1"],
                               capture_output=True)  # fmt: skip
                _sh(*pre, "ip", "link", "set", dev, "up")
            capture.append(cap)
        yield capture
    finally:
        for cap in capture:
            subprocess.run(["ip", "link", "del", cap], capture_output=True)
        subprocess.run(["ip", "netns", "del", NETNS], capture_output=True)


SENDER = """
import socket, struct, sys, time
dev, path = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((dev, 0))
with open(path, "rb") as f:
    f.read(24)
    while hdr := f.read(16):
        n = struct.unpack("<IIII", hdr)[2]
        s.send(f.read(n))
        time.sleep(0.0005)
"""


def send_trace(dev_index: int, pcap: Path) -> None:
    """Sends every frame of ``pcap`` out of the netns side of veth pair ``dev_index``."""
    dev = f"hmd{os.getpid() % 10000}s{dev_index}"
    subprocess.run(["ip", "netns", "exec", NETNS, sys.executable, "-c", SENDER, dev, str(pcap)],
                   check=True, timeout=120)  # fmt: skip


def layout(tmp: Path, ifaces: list[str]) -> Path:
    ports = {n: free_port() for n in NODES}
    entries = [
        f'["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p={ports["manager"]}/tcp]',
        f'["logger-1"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p={ports["logger-1"]}/tcp]',
        f'["proxy-1"] = [$node_type=Cluster::PROXY, $ip=127.0.0.1, $p={ports["proxy-1"]}/tcp, '
        '$manager="manager"]',
    ]
    for i in range(1, len(ifaces) + 1):
        entries.append(
            f'["worker-{i}"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, '
            f'$p={ports[f"worker-{i}"]}/tcp, $manager="manager"]'
        )
    d = tmp / "layout"
    d.mkdir()
    (d / "cluster-layout.zeek").write_text(
        "redef Cluster::manager_is_logger = F;\nredef Cluster::nodes = {\n\t"
        + ",\n\t".join(entries)
        + "\n};\n"
    )
    # ZeroMQ: the manager's proxy on ports of this test, not the default 5555/5556.
    xpub, xsub = free_port(), free_port()
    (d / "zeromq-ports.zeek").write_text(
        "@if ( Cluster::backend == Cluster::CLUSTER_BACKEND_ZEROMQ )\n"
        f'redef Cluster::Backend::ZeroMQ::listen_xpub_endpoint = "tcp://127.0.0.1:{xpub}";\n'
        f'redef Cluster::Backend::ZeroMQ::listen_xsub_endpoint = "tcp://127.0.0.1:{xsub}";\n'
        f'redef Cluster::Backend::ZeroMQ::connect_xpub_endpoint = "tcp://127.0.0.1:{xsub}";\n'
        f'redef Cluster::Backend::ZeroMQ::connect_xsub_endpoint = "tcp://127.0.0.1:{xpub}";\n'
        "@endif\n"
    )
    return d


def logged(node_dir: Path, name: str) -> list[dict[str, str]]:
    """Rows of a log the logger wrote, also after it rotated it at shutdown (``name.<ts>.log``)."""
    return [r for log in sorted(node_dir.glob(f"{name}*.log")) for r in rows(log)]


def backend_scripts(backend: str) -> list[str]:
    """What a node loads for its backend, as zeekctl does: Zeek 8.0 has no script for Broker
    (its built-in default) and starts ZeroMQ with ``zeromq/connect`` (deprecated in 8.1)."""
    if ZEEK_INSTALL is not None and ZEEK_INSTALL.release < (8, 1):
        return [] if backend == "broker" else ["frameworks/cluster/backend/zeromq/connect"]
    return [f"frameworks/cluster/backend/{backend}"]


#: (cluster backend, worker transport): the default pair on each backend (``auto``: WebSocket
#: on ZeroMQ, Broker on Broker), and each transport chosen explicitly on the other backend.
CASES = [("zeromq", "auto"), ("zeromq", "broker"), ("broker", "auto"), ("broker", "websocket")]


@pytest.mark.parametrize(("backend", "transport"), CASES, ids=[f"{b}-{t}" for b, t in CASES])
def test_cluster_scores_both_workers_once(tmp_path: Path, backend: str, transport: str) -> None:
    zeekpath = subprocess.run(["zeek-config", "--zeekpath"], capture_output=True, text=True,
                              check=True).stdout.strip()  # fmt: skip
    hamad_port = free_port()
    traces = [make_trace(tmp_path / f"site{i}.pcap", "--site", str(i)) for i in (1, 2)]
    with ExitStack() as stack:
        ifaces = stack.enter_context(veth_pairs(2))
        lay = layout(tmp_path, ifaces)
        env = dict(os.environ, ZEEKPATH=f"{lay}:{zeekpath}")
        procs: dict[str, subprocess.Popen[str]] = {}
        for node in NODES:
            cwd = tmp_path / node
            cwd.mkdir()
            args = [ZEEK or "zeek", *backend_scripts(backend), "zeromq-ports",
                    *package(transport), f"HAMAD::listen_port={hamad_port}/tcp",
                    "HAMAD::max_batch_delay=200msec", "HAMAD::learning_period=0secs"]  # fmt: skip
            if node.startswith("worker"):
                args[1:1] = ["-C", "-i", ifaces[int(node[-1]) - 1]]
            procs[node] = subprocess.Popen(args, cwd=cwd, env=dict(env, CLUSTER_NODE=node),
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           text=True)  # fmt: skip
        try:
            time.sleep(8)  # nodes peer with each other
            w = stack.enter_context(worker(transport, hamad_port))
            time.sleep(4)
            for i, pcap in enumerate(traces, start=1):
                send_trace(i, pcap)
            time.sleep(12)  # scan connections expire, verdicts come back
            exited = {
                n: p.communicate()[1][-1500:] for n, p in procs.items() if p.poll() is not None
            }
            assert not exited, f"nodes exited: {exited}"
            assert w.poll() is None, "hamad serve exited"
        finally:
            for node in ("worker-1", "worker-2", "proxy-1", "manager", "logger-1"):
                procs[node].send_signal(signal.SIGTERM)
                try:
                    procs[node].communicate(timeout=60)
                except subprocess.TimeoutExpired:
                    procs[node].kill()
    logs = tmp_path / "logger-1"
    verdicts = logged(logs, "hamad")
    conns = {r["uid"]: r for r in logged(logs, "conn")}
    finals = Counter(r["uid"] for r in verdicts if r["interim"] == "F")
    assert finals, "no verdicts reached the logger"
    assert max(finals.values()) == 1, "a connection was logged twice"
    assert set(finals) <= set(conns)
    for site in ("192.168.1.", "192.168.2."):
        site_conns = [u for u, r in conns.items() if r["id.orig_h"].startswith(site)]
        scored = [u for u in site_conns if u in finals]
        assert site_conns and len(scored) >= 0.9 * len(site_conns), (site, len(scored))
    notices = logged(logs, "notice")
    keys = Counter((n["note"], n.get("uid", ""), n["msg"]) for n in notices)
    assert max(keys.values(), default=1) == 1, "a notice was logged twice"
    scanners = {n["src"] for n in notices if n["note"] == "HAMAD::Incident"}
    assert {"192.168.1.66", "192.168.2.66"} <= scanners
    # Had any other node tried to listen on the same port, it would have failed and said so.
    assert "HAMAD::Worker_Unavailable" not in {n["note"] for n in notices}
    for node in NODES:
        if node != "logger-1":
            assert not logged(tmp_path / node, "hamad"), f"{node} wrote hamad.log"
