#!/usr/bin/env python3
"""Records what a real Zeek puts on the wire, for the transport tests (tests/data/zeek-wire/).

Runs ``zeek -C -r`` on the trace ``tests/pcapgen.py`` writes (no third-party
capture) with a small probe script, once per transport:

* WebSocket (``Cluster::listen_websocket``, ZeroMQ backend): a client subscribes,
  says hello, receives Zeek's first batch of three ``Conn::Info`` records,
  answers with verdicts, then sends malformed messages and notes Zeek's reply to
  each. Frames go to ``websocket-transcript.jsonl``, replies and the matching
  reporter.log lines to ``websocket-bad-input.txt``.
* Broker: a client built on Zeek's own Broker bindings (``zeek-config
  --python_dir``) receives the same batch and writes the Python type of every
  field to ``broker-python-types.txt``.

The start times of the three records with full precision (the WebSocket API
truncates ``time`` to milliseconds) go to ``precise-ts.json``. The probe's
names (``Probe::*``) are not HAMAD's; the tests substitute HAMAD's event names.

    python3 tools/record_zeek_wire.py            # rewrite tests/data/zeek-wire/
    python3 tools/record_zeek_wire.py --out DIR

Needs ``zeek`` on PATH and the ``websockets`` package (this project's venv).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hamad_plugin.worker.transport.codec import Wire, ws_event  # noqa: E402 - after the path is set

PROBE = r"""
@load base/protocols/conn
@if ( getenv("PROBE_MODE") == "websocket" )
@load frameworks/cluster/backend/zeromq
module Cluster::Backend::ZeroMQ;
redef run_proxy_thread = T;
redef listen_xpub_endpoint = fmt("ipc://@probe-%d.xpub", getpid());
redef listen_xsub_endpoint = fmt("ipc://@probe-%d.xsub", getpid());
redef connect_xpub_endpoint = listen_xsub_endpoint;
redef connect_xsub_endpoint = listen_xpub_endpoint;
module GLOBAL;
@endif
redef exit_only_after_terminate = T;

module Probe;

export {
	type Verdict: record { uid: string; score: double; anomalous: bool; top: vector of string; };
	global conn_summaries: event(batch: vector of Conn::Info);
	global hello: event(worker: string, version: string);
	global verdicts: event(batch: vector of Verdict);
	global done: event();
}

global batch: vector of Conn::Info;
global sent = F;
global start_probe: event();

event zeek_init()
	{
	suspend_processing();
	schedule 0secs { Probe::start_probe() };
	}

event Probe::start_probe()
	{
	local p = count_to_port(to_count(getenv("PROBE_PORT")), tcp);
	if ( getenv("PROBE_MODE") == "websocket" )
		{
		Cluster::listen_websocket([$listen_addr=127.0.0.1, $listen_port=p]);
		Cluster::subscribe("hamad/verdicts");
		}
	else
		{
		Broker::listen("127.0.0.1", p);
		Broker::subscribe("hamad/verdicts");
		}
	}

function publish(b: vector of Conn::Info)
	{
	if ( getenv("PROBE_MODE") == "websocket" )
		Cluster::publish("hamad/summaries", conn_summaries, b);
	else
		Broker::publish("hamad/summaries", conn_summaries, b);
	}

event Probe::hello(worker: string, version: string)
	{
	continue_processing();
	}

event Conn::log_conn(rec: Conn::Info)
	{
	if ( sent )
		return;
	batch += rec;
	if ( |batch| < 3 )
		return;
	sent = T;
	publish(batch);
	for ( _, r in batch )
		print fmt("PRECISE_TS %.6f", time_to_double(r$ts));
	}

event Probe::verdicts(b: vector of Verdict)
	{
	print fmt("VERDICTS %s", b);
	}

event Probe::done()
	{
	terminate();
	}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _verdict(uid: str, score: Wire) -> Wire:
    """A ``Probe::Verdict`` record: uid, score, anomalous, top features."""
    top = Wire("vector", [Wire("string", "dst_2m_log_count")])
    return Wire("vector", [Wire("string", uid), score, Wire("boolean", True), top])


def _event(name: str, *args: Wire) -> dict[str, Any]:
    return ws_event("hamad/verdicts", name, args)


def _start_zeek(mode: str, port: int, pcap: Path, work: Path) -> subprocess.Popen[str]:
    work.mkdir(parents=True, exist_ok=True)
    probe = work / "probe.zeek"
    probe.write_text(PROBE)
    env = dict(os.environ, PROBE_MODE=mode, PROBE_PORT=str(port))
    return subprocess.Popen(["zeek", "-C", "-r", str(pcap), str(probe)], cwd=work, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


async def _websocket_session(port: int) -> tuple[list[dict[str, Any]], list[str]]:
    from websockets.asyncio.client import connect

    frames: list[dict[str, Any]] = []
    bad: list[str] = []
    url = f"ws://127.0.0.1:{port}/v1/messages/json"
    for _ in range(100):
        try:
            ws = await connect(url, ping_interval=None)
            break
        except OSError:
            await asyncio.sleep(0.1)
    else:
        raise SystemExit(f"no WebSocket server at {url}")

    async def send(msg: Any) -> None:
        frames.append({"dir": "out", "msg": msg})
        await ws.send(json.dumps(msg))

    async def recv() -> Any:
        msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
        frames.append({"dir": "in", "msg": msg})
        return msg

    await send(["hamad/summaries"])
    await recv()  # ack
    await send(_event("Probe::hello", Wire("string", "probe"), Wire("string", "0.1")))
    batch = await recv()
    records = batch["data"][2]["data"][1]["data"][0]["data"]
    uids = [rec["data"][1]["data"] for rec in records]
    verdicts = [_verdict(u, Wire("real", 0.5 + i / 10)) for i, u in enumerate(uids)]
    await send(_event("Probe::verdicts", Wire("vector", verdicts)))
    transcript = list(frames)

    cases: list[tuple[str, Any]] = [
        ("not json", "{this is not json"),
        ("unknown event", _event("Probe::nope")),
        ("wrong arg type", _event("Probe::verdicts", Wire("string", "x"))),
        ("wrong arity", _event("Probe::hello", Wire("string", "only-one"))),
        ("record field wrong type",
         _event("Probe::verdicts", Wire("vector", [_verdict("Cx", Wire("string", "high"))]))),
        ("good verdict",
         _event("Probe::verdicts", Wire("vector", [_verdict("Cgood", Wire("real", 0.9))]))),
        ("no @data-type", {"type": "data-message", "topic": "hamad/verdicts", "data": [1, 1]}),
    ]  # fmt: skip
    for name, msg in cases:
        await ws.send(msg if isinstance(msg, str) else json.dumps(msg))
        try:
            reply = await asyncio.wait_for(ws.recv(), 1.5)
            bad.append(f"{name}: {reply}")
        except asyncio.TimeoutError:
            bad.append(f"{name}: (no reply within 1.5 s)")
    await ws.send(json.dumps(_event("Probe::done")))
    await ws.close()
    return transcript, bad


def _broker_session(port: int) -> list[str]:
    out = subprocess.run(
        ["zeek-config", "--python_dir"], capture_output=True, text=True, check=True
    )
    sys.path.insert(0, out.stdout.strip())
    import broker  # noqa: PLC0415 - Zeek's own bindings, found at run time

    ep = broker.Endpoint()
    sub = ep.make_subscriber("hamad/summaries")
    ep.peer("127.0.0.1", port, 1)
    ep.publish("hamad/verdicts", broker.zeek.Event("Probe::hello", "probe", "0.1"))
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = sub.get(1, 1.0)
        if not got:
            continue
        _topic, data = got[0]
        ev = broker.zeek.Event(data)
        args = ev.args()
        lines.append(
            f"event {ev.name()} args {len(args)} batch {type(args[0]).__name__} {len(args[0])}"
        )
        rec = args[0][0]
        lines.append(f"record: {type(rec).__name__} fields {len(rec)}")
        for i, v in enumerate(rec):
            lines.append(f"  [{i}] {type(v).__module__}.{type(v).__name__} = {v!r}")
        break
    ep.publish("hamad/verdicts", broker.zeek.Event("Probe::done"))
    time.sleep(0.5)
    ep.shutdown()
    return lines


def _finish(zeek: subprocess.Popen[str]) -> tuple[str, list[float]]:
    out, err = zeek.communicate(timeout=60)
    if zeek.returncode != 0:
        raise SystemExit(f"zeek failed: {err}")
    ts = [float(line.split()[1]) for line in out.splitlines() if line.startswith("PRECISE_TS")]
    return out, ts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "tests" / "data" / "zeek-wire"))
    args = ap.parse_args(argv)
    if shutil.which("zeek") is None:
        raise SystemExit("zeek is not on PATH")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    version = subprocess.run(["zeek", "--version"], capture_output=True, text=True).stdout.split()[
        -1
    ]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pcap = work / "trace.pcap"
        subprocess.run([sys.executable, str(REPO / "tests" / "pcapgen.py"), str(pcap)], check=True,
                       capture_output=True)  # fmt: skip

        port = _free_port()
        zeek = _start_zeek("websocket", port, pcap, work / "ws")
        transcript, bad = asyncio.run(_websocket_session(port))
        _, ts = _finish(zeek)
        reporter = [
            "\t".join(line.split("\t")[1:3]).replace(f"{work / 'ws'}/", "")
            for line in (work / "ws" / "reporter.log").read_text().splitlines()
            if "Reporter::ERROR" in line
        ]
        with (out / "websocket-transcript.jsonl").open("w") as f:
            for frame in transcript:
                f.write(json.dumps(frame) + "\n")
        (out / "websocket-bad-input.txt").write_text(
            f"# What Zeek {version} answers on its WebSocket API (v1/messages/json) to each "
            "message a client sent (case: reply).\n" + "\n".join(bad)
            + "\n\n# What the same Zeek wrote to reporter.log for them (level, message):\n"
            + "\n".join(reporter) + "\n"
        )  # fmt: skip
        (out / "precise-ts.json").write_text(json.dumps(ts) + "\n")

        port = _free_port()
        zeek = _start_zeek("broker", port, pcap, work / "broker")
        lines = _broker_session(port)
        _finish(zeek)
        (out / "broker-python-types.txt").write_text("\n".join(lines) + "\n")
    print(f"recorded Zeek {version} into {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
