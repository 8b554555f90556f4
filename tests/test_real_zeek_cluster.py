"""A Zeek cluster on one host with the package loaded (skipped without zeek, root or ``ip``).

Started the way zeekctl starts nodes: every node is ``zeek`` with
``CLUSTER_NODE`` set, a ``cluster-layout.zeek`` on ZEEKPATH and a cluster
backend loaded (``frameworks/cluster/backend/zeromq``, zeekctl's default since
Zeek 8.1, with the manager running the XPUB/XSUB proxy; or
``frameworks/cluster/backend/broker``), and every node loads the same scripts
(the package included). Manager, logger, one or two proxies and two
workers; the workers capture live on their own veth interface, into which the
test sends the frames of a generated trace (a different site per worker) from
a network namespace. One ``hamad serve`` per scoring node: the manager
(``HAMAD::shard_on_proxies=F``), or each proxy (sharded, the default), on
``HAMAD::listen_port`` plus the proxy's position.

What must hold: no node exits; only the scoring nodes listen; summaries from
every worker are scored; every connection in conn.log has exactly one verdict
in hamad.log, naming the node that scored it (with shards, one per host);
every notice is logged once (by the logger); with two shards, both score; the
counters of both sides add up (forwarded = received by the scoring nodes =
received by their ``hamad serve``; sent = verdicts + withheld + error replies
+ outstanding). The load case (four workers sending at full speed into two
shards) may shed, but every connection without a verdict is counted.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_real_zeek import NO_ZEEK, ZEEK, free_port, make_trace, package, rows, worker
from zeek_install import ZEEK_INSTALL


def nodes(proxies: int, workers: int = 2) -> list[str]:
    """The layout's node names, in the order they are started."""
    return ["logger-1", "manager", *(f"proxy-{i}" for i in range(1, proxies + 1)),
            *(f"worker-{i}" for i in range(1, workers + 1))]  # fmt: skip


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
dev, path, pause = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((dev, 0))
with open(path, "rb") as f:
    f.read(24)
    while hdr := f.read(16):
        n = struct.unpack("<IIII", hdr)[2]
        s.send(f.read(n))
        if pause:
            time.sleep(pause)
"""


def send_traces(pcaps: list[Path], pause: float) -> float:
    """Sends every frame of ``pcaps[i]`` out of the netns side of veth pair ``i + 1``, all
    pairs at once, with ``pause`` seconds between frames (0: as fast as Python sends);
    returns the seconds it took."""
    t0 = time.monotonic()
    senders = [subprocess.Popen(["ip", "netns", "exec", NETNS, sys.executable, "-c", SENDER,
                                 f"hmd{os.getpid() % 10000}s{i}", str(pcap), str(pause)])
               for i, pcap in enumerate(pcaps, start=1)]  # fmt: skip
    for p in senders:
        assert p.wait(timeout=300) == 0, "a sender failed"
    return time.monotonic() - t0


def layout(tmp: Path, ifaces: list[str], proxies: int) -> Path:
    ports = {n: free_port() for n in nodes(proxies, len(ifaces))}
    entries = [
        f'["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p={ports["manager"]}/tcp]',
        f'["logger-1"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p={ports["logger-1"]}/tcp]',
    ]
    for i in range(1, proxies + 1):
        entries.append(
            f'["proxy-{i}"] = [$node_type=Cluster::PROXY, $ip=127.0.0.1, '
            f'$p={ports[f"proxy-{i}"]}/tcp, $manager="manager"]'
        )
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


def free_ports(n: int) -> int:
    """The first of ``n`` consecutive free ports (a shard listens on listen_port + position)."""
    while True:
        first = free_port()
        if first + n <= 65535 and all(_is_free(first + i) for i in range(1, n)):
            return first


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass(frozen=True)
class Case:
    """One cluster run: its backend, the workers' transport, who scores, and the load."""

    backend: str
    transport: str
    proxies: int = 1
    sharded: bool = True
    workers: int = 2
    #: Short HTTPS sessions added to each worker's trace, sent without pauses (a load run).
    bulk: int = 0

    @property
    def id(self) -> str:
        who = f"{self.proxies}-shards" if self.sharded else "manager"
        load = f"-{self.workers}-workers-load" if self.bulk else ""
        return f"{self.backend}-{self.transport}-{who}{load}"


#: The default pair on each backend (``auto``: WebSocket on ZeroMQ, Broker on Broker) and each
#: transport chosen explicitly on the other backend; scoring on one proxy, on the manager, and
#: on two proxies with a ``hamad serve`` each.
CASES = [
    Case("zeromq", "auto"),
    Case("zeromq", "broker", sharded=False),
    Case("broker", "auto", proxies=2),
    Case("broker", "websocket", sharded=False),
    Case("zeromq", "auto", proxies=2),
    # Load: four workers sending at full speed into two shards (figures in docs/bench.md).
    Case("zeromq", "auto", proxies=2, workers=4, bulk=3000),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cluster_scores_every_connection_once(tmp_path: Path, case: Case) -> None:
    zeekpath = subprocess.run(["zeek-config", "--zeekpath"], capture_output=True, text=True,
                              check=True).stdout.strip()  # fmt: skip
    shards = case.proxies if case.sharded else 1
    hamad_port = free_ports(shards)
    names = nodes(case.proxies, case.workers)
    sites = range(1, case.workers + 1)
    traces = [make_trace(tmp_path / f"site{i}.pcap", "--site", str(i),
                         *(["--bulk", str(case.bulk)] if case.bulk else [])) for i in sites]  # fmt: skip
    logs_of: list[str] = []  # each hamad serve's log, once it stopped
    with ExitStack() as stack:
        ifaces = stack.enter_context(veth_pairs(case.workers))
        lay = layout(tmp_path, ifaces, case.proxies)
        env = dict(os.environ, ZEEKPATH=f"{lay}:{zeekpath}")
        procs: dict[str, subprocess.Popen[str]] = {}
        for node in names:
            cwd = tmp_path / node
            cwd.mkdir()
            args = [ZEEK or "zeek", *backend_scripts(case.backend), "zeromq-ports",
                    *package(case.transport), f"HAMAD::listen_port={hamad_port}/tcp",
                    "HAMAD::max_batch_delay=200msec", "HAMAD::learning_period=0secs",
                    f"HAMAD::shard_on_proxies={'T' if case.sharded else 'F'}"]  # fmt: skip
            if node.startswith("worker"):
                args[1:1] = ["-C", "-i", ifaces[int(node[-1]) - 1]]
            procs[node] = subprocess.Popen(args, cwd=cwd, env=dict(env, CLUSTER_NODE=node),
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           text=True)  # fmt: skip
        try:
            time.sleep(8)  # nodes peer with each other
            # With two shards or more, a shard's topics carry its port (docs/zeek.md).
            ws = [stack.enter_context(worker(
                case.transport, hamad_port + i, *(["--topic-prefix", f"hamad/{hamad_port + i}"]
                                                  if shards > 1 else []), stderr=logs_of))
                  for i in range(shards)]  # fmt: skip
            time.sleep(4)
            send_seconds = send_traces(traces, 0.0 if case.bulk else 0.0005)
            time.sleep(12)  # scan connections expire, verdicts come back
            exited = {
                n: p.communicate()[1][-1500:] for n, p in procs.items() if p.poll() is not None
            }
            assert not exited, f"nodes exited: {exited}"
            assert all(w.poll() is None for w in ws), "a hamad serve exited"
        finally:
            # As zeekctl stops a cluster: workers first. The connections still open are
            # written to conn.log as they stop; their verdicts need the shards a moment more.
            workers = [n for n in names if n.startswith("worker")]
            for node in workers:
                stop(procs[node])
            time.sleep(3)
            for node in reversed(names):
                if node not in workers:
                    stop(procs[node])
    received = [_received(err) for err in logs_of]
    assert len(received) == shards and all(n > 0 for n in received), f"shards: {received}"
    logs = tmp_path / "logger-1"
    verdicts = logged(logs, "hamad")
    conns = {r["uid"]: r for r in logged(logs, "conn")}
    finals = Counter(r["uid"] for r in verdicts if r["interim"] == "F")
    assert finals, "no verdicts reached the logger"
    assert max(finals.values()) == 1, "a connection was logged twice"
    assert set(finals) <= set(conns)
    # hamad.log says which node scored each connection; sharded, each host lives on one shard.
    by_host: dict[str, set[str]] = {}
    for r in verdicts:
        by_host.setdefault(r["id.orig_h"], set()).add(r["scored_by"])
    scorers = set().union(*by_host.values())
    if case.sharded:
        assert scorers == {f"proxy-{i}" for i in range(1, shards + 1)}, scorers
        assert all(len(s) == 1 for s in by_host.values()), by_host
    else:
        assert scorers == {"manager"}, scorers
    for i in sites:
        assert any(r["id.orig_h"].startswith(f"192.168.{i}.") for r in conns.values()), i
    # Both sides' counters (reporter.log at stop) add up: what the workers forwarded reached
    # the scoring nodes, and each summary sent has a verdict, an error reply or is counted.
    acct = accounting(logged(logs, "reporter"))
    assert acct["forwarded"] == acct["from_cluster"] == sum(received) > 0, (acct, received)
    assert acct["unrouted"] == 0, acct
    answered = acct["verdicts"] + acct["withheld"] + acct["worker_errors"] + acct["outstanding"]
    assert acct["sent"] + acct["unsent"] == acct["from_cluster"] and answered == acct["sent"], acct
    unscored = [(u, r["id.orig_h"], r["proto"], r["conn_state"]) for u, r in conns.items()
                if u not in finals]  # fmt: skip
    # Only a load run may shed (an error reply per summary); the others score everything.
    unanswered = acct["worker_errors"] + acct["unsent"] + acct["outstanding"]
    assert len(unscored) <= unanswered and (case.bulk or unanswered == 0), (
        f"{len(unscored)} of {len(conns)} connections have no verdict: {unscored[:5]}; {acct}"
    )
    if case.bulk:
        print(f"\nload: {case.workers} workers, {shards} shards: {len(conns)} connections sent "
              f"in {send_seconds:.1f} s ({len(conns) / send_seconds:,.0f}/s offered); "
              f"{len(finals)} scored, {len(unscored)} not ({unanswered} counted); "
              f"per shard received {received}; {acct}")  # fmt: skip
    notices = logged(logs, "notice")
    keys = Counter((n["note"], n.get("uid", ""), n["msg"]) for n in notices)
    assert max(keys.values(), default=1) == 1, "a notice was logged twice"
    scanners = {n["src"] for n in notices if n["note"] == "HAMAD::Incident"}
    assert {f"192.168.{i}.66" for i in sites} <= scanners
    # Had any other node tried to listen on a scoring port, it would have failed and said so.
    assert "HAMAD::Worker_Unavailable" not in {n["note"] for n in notices}
    for node in names:
        if node != "logger-1":
            assert not logged(tmp_path / node, "hamad"), f"{node} wrote hamad.log"


_COUNTERS = re.compile(r"(forwarded to the scoring node|from cluster|sent|unsent|unrouted|"
                       r"verdicts|withheld|worker_errors|outstanding)=(\d+)")  # fmt: skip
#: Counter names of the stop lines that are not the Stats field names.
_COUNTER_KEYS = {"forwarded to the scoring node": "forwarded", "from cluster": "from_cluster"}


def accounting(reporter: list[dict[str, str]]) -> Counter[str]:
    """HAMAD's counters from every node's stop line in reporter.log, summed over nodes."""
    out: Counter[str] = Counter()
    for r in reporter:
        if r.get("message", "").startswith("HAMAD: summaries built="):
            for name, value in _COUNTERS.findall(r["message"]):
                out[_COUNTER_KEYS.get(name, name)] += int(value)
    return out


def stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM a Zeek node and wait for it (a minute, then SIGKILL)."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def _received(log: str) -> int:
    """Summaries a stopped ``hamad serve`` received (its ``event=stopped`` line)."""
    found = re.findall(r"event=stopped .*?received=(\d+)", log)
    return int(found[-1]) if found else -1
