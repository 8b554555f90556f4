"""Faults on the real path: a live Zeek, a real ``hamad serve``, and things going wrong.

Zeek makes summaries on its own clock (``tools/soak.zeek``, no packets needed) and
hands them to HAMAD as finished connections are; meanwhile the worker is stopped
with SIGTERM, killed with SIGKILL and restarted, or Zeek itself is stopped and a new
one started. After each case both sides' counters must reconcile: every summary
Zeek sent is a verdict, a withheld count, a worker error or counted as unanswered by
Zeek, and what Zeek counts as answered is what the workers say they sent. Skipped,
with the reason, where no Zeek is installed (CI).
"""

from __future__ import annotations

import importlib.util
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from test_real_zeek import NO_ZEEK, REPO, ZEEK, free_port, package, rows

pytestmark = [pytest.mark.zeek, pytest.mark.skipif(ZEEK is None, reason=NO_ZEEK)]

_spec = importlib.util.spec_from_file_location("soak", REPO / "tools" / "soak.py")
assert _spec is not None and _spec.loader is not None
soak = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(soak)

STOP_LINE = re.compile(
    r"HAMAD: summaries built=(?P<built>\d+) from cluster=\d+ sent=(?P<sent>\d+) "
    r"unsent=(?P<unsent>\d+) in \d+ batches; verdicts=(?P<verdicts>\d+) "
    r"withheld=(?P<withheld>\d+) worker_errors=(?P<errors>\d+) outstanding=(?P<outstanding>-?\d+)"
)


#: Every process a test started, killed at its end whatever happened (a failed assertion
#: must not leave a worker or a Zeek running).
_STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _kill_leftovers() -> Any:
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _started(proc: subprocess.Popen[str]) -> subprocess.Popen[str]:
    _STARTED.append(proc)
    return proc


def start_worker(transport: str, port: int, state: Path) -> subprocess.Popen[str]:
    return _started(subprocess.Popen(
        [sys.executable, "-c", "from hamad_plugin.cli import main; main()", "serve",
         "--transport", transport, "--port", str(port), "--heartbeat-interval", "0.5",
         "--max-backoff", "0.5", "--state-dir", str(state), "--log-format", "json"],
        stderr=subprocess.PIPE, text=True,
    ))  # fmt: skip


def stopped(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> dict[str, Any] | None:
    """Stop a worker; its final counters (None if it was killed and wrote none)."""
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    lines = [ln for ln in err.splitlines() if '"event": "stopped"' in ln]
    return json.loads(lines[-1]) if lines else None


def start_zeek(cwd: Path, transport: str, port: int, seconds: float,
               rate: float = 1000.0) -> subprocess.Popen[str]:  # fmt: skip
    cwd.mkdir(parents=True, exist_ok=True)
    script = soak._zeek_script(cwd)
    cmd = [ZEEK or "zeek", *package(transport), str(script), f"HAMAD::listen_port={port}/tcp",
           f"HAMAD::soak_rate={rate}", f"HAMAD::soak_duration={seconds}sec",
           "HAMAD::soak_every=1sec", "HAMAD::soak_grace=5sec", "HAMAD::heartbeat_timeout=3sec"]  # fmt: skip
    return _started(subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True))  # fmt: skip


def zeek_counts(proc: subprocess.Popen[str], cwd: Path, timeout: float = 120) -> dict[str, int]:
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-2000:]
    reporter = (cwd / "reporter.log").read_text(errors="replace")
    m = [STOP_LINE.search(ln) for ln in reporter.splitlines()]
    found = [x for x in m if x]
    assert found, reporter[-2000:]
    return {k: int(v) for k, v in found[-1].groupdict().items()}


def answered_by_workers(counters: list[dict[str, Any]]) -> dict[str, int]:
    total = {k: 0 for k in ("received", "verdicts_sent", "verdicts_withheld", "verdicts_lost",
                            "errors_unsent", "reported")}  # fmt: skip
    for c in counters:
        assert c["accounting"] == "ok", c
        for k in total:
            if k != "reported":
                total[k] += int(c[k])
        total["reported"] += sum(int(c[k]) for k in ("rejected", "shed", "score_errors",
                                                     "dropped_at_exit"))  # fmt: skip
    return total


def reconcile(z: dict[str, int], w: dict[str, int]) -> None:
    """Both sides' counts of the same summaries agree."""
    assert z["built"] == z["sent"] + z["unsent"], z
    assert z["sent"] == z["verdicts"] + z["withheld"] + z["errors"] + z["outstanding"], z
    assert z["verdicts"] == w["verdicts_sent"], (z, w)
    assert z["withheld"] == w["verdicts_withheld"], (z, w)
    assert z["errors"] == w["reported"] - w["errors_unsent"], (z, w)
    # Unanswered: sent but never received by a worker, or received and not answered.
    never_received = z["sent"] - w["received"]
    assert never_received >= 0, (z, w)
    assert z["outstanding"] == never_received + w["verdicts_lost"] + w["errors_unsent"], (z, w)


def restart_mid_stream(tmp_path: Path, transport: str, sig: int) -> tuple[Any, ...]:
    """Zeek makes summaries for 10 s; at 5 s its worker gets ``sig``, at 6 s a new worker
    starts. Returns the first worker's final counters (None if killed), Zeek's and the
    second worker's."""
    port = free_port()
    first = start_worker(transport, port, tmp_path / "state")
    zeek = start_zeek(tmp_path / "zeek", transport, port, seconds=10)
    time.sleep(5)
    a = stopped(first, sig)
    time.sleep(1)
    second = start_worker(transport, port, tmp_path / "state")
    z = zeek_counts(zeek, tmp_path / "zeek")
    b = stopped(second)
    assert b is not None and int(b["received"]) > 0, "the second worker scored"
    return a, z, b


@pytest.mark.parametrize("transport", ["websocket", "broker"])
def test_worker_sigterm_mid_stream_then_restart(tmp_path: Path, transport: str) -> None:
    a, z, b = restart_mid_stream(tmp_path, transport, signal.SIGTERM)
    assert a is not None and int(a["received"]) > 0, "the first worker scored"
    reconcile(z, answered_by_workers([a, b]))


@pytest.mark.parametrize("transport", ["websocket", "broker"])
def test_worker_sigkill_mid_stream_then_restart(tmp_path: Path, transport: str) -> None:
    """A killed worker says nothing; Zeek counts what it never answered and goes on."""
    a, z, b = restart_mid_stream(tmp_path, transport, signal.SIGKILL)
    assert a is None
    assert z["sent"] == z["verdicts"] + z["withheld"] + z["errors"] + z["outstanding"], z
    # The second worker's answers all arrived; the first one's were cut off by the kill.
    w = answered_by_workers([b])
    assert z["verdicts"] >= w["verdicts_sent"] and z["outstanding"] >= 0, (z, w)
    assert z["outstanding"] <= z["sent"] - w["received"], (z, w)


def test_zeek_restart_under_a_running_worker(tmp_path: Path) -> None:
    """Zeek ends and a new one starts on the same port: the worker reconnects, scores the
    new Zeek's summaries, and the two Zeeks' counts together are the worker's."""
    transport = "websocket"
    port = free_port()
    worker = start_worker(transport, port, tmp_path / "state")
    first = start_zeek(tmp_path / "zeek1", transport, port, seconds=4)
    z1 = zeek_counts(first, tmp_path / "zeek1")
    second = start_zeek(tmp_path / "zeek2", transport, port, seconds=4)
    z2 = zeek_counts(second, tmp_path / "zeek2")
    c = stopped(worker)
    assert c is not None and int(c["reconnects"]) >= 1, c
    w = answered_by_workers([c])
    for z in (z1, z2):
        assert z["sent"] > 0 and z["outstanding"] == 0, z
    assert z1["verdicts"] + z2["verdicts"] == w["verdicts_sent"], (z1, z2, w)
    assert z1["sent"] + z2["sent"] == w["received"], (z1, z2, w)


def test_hostile_worker_messages_are_refused_or_logged_and_zeek_goes_on(tmp_path: Path) -> None:
    """A peer on the worker's port sends what no worker should: a verdict with a field of
    the wrong type, a verdict for a uid Zeek never sent, a 200,000-character uid, a
    worker error naming more unknown uids than Zeek sent. Zeek refuses the first (an
    error reply on the socket), refuses the long uid with a reporter warning, warns that
    more summaries were answered than sent, logs an unscored summary with its reason,
    keeps running and ends by itself with its counts consistent."""
    import asyncio
    import contextlib

    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    from hamad_plugin.core.verdict import Verdict
    from hamad_plugin.worker.transport import codec
    from hamad_plugin.worker.transport.base import (
        EVENT_HELLO,
        EVENT_UNSCORED,
        EVENT_VERDICTS,
        EVENT_WORKER_ERROR,
        Unscored,
        summaries_topic,
        verdicts_topic,
    )

    port = free_port()
    zeek = start_zeek(tmp_path / "zeek", "websocket", port, seconds=3, rate=200.0)

    def frame(name: str, args: list[Any]) -> str:
        return json.dumps(codec.ws_event(verdicts_topic(), name, args))

    def verdict(uid: str) -> Verdict:
        return Verdict(uid, time.time(), "10.0.0.1", 1234, "10.0.0.2", 80, "tcp", 0.9, 0.5, True,
                       [("f", 1.0)], {"rf": 1.0}, {"rf": 0.9}, "hostile-1")  # fmt: skip

    async def hostile() -> list[Any]:
        for _ in range(100):
            try:
                ws = await connect(f"ws://127.0.0.1:{port}/v1/messages/json")
                break
            except OSError:
                await asyncio.sleep(0.1)
        await ws.send(json.dumps([summaries_topic()]))
        await ws.recv()  # the ack
        await ws.send(frame(EVENT_HELLO, codec.hello_args("hostile", "0", "hostile-1")))
        wrong = json.loads(frame(EVENT_VERDICTS, codec.verdicts_args([verdict("Cwrong")])))
        record = wrong["data"][2]["data"][1]["data"][0]["data"][0]["data"]
        record[6] = {"@data-type": "string", "data": "not a score"}  # score: a string
        await ws.send(json.dumps(wrong))
        await ws.send(frame(EVENT_VERDICTS, codec.verdicts_args([verdict("Cunknown")])))
        await ws.send(frame(EVENT_VERDICTS, codec.verdicts_args([verdict("C" * 200_000)])))
        nobody = [f"Cnobody{i}" for i in range(5000)]  # more than Zeek sends in the test
        await ws.send(frame(EVENT_WORKER_ERROR, codec.worker_error_args(nobody, "x" * 5000)))
        shed = Unscored("Cshed", time.time(), "10.0.0.3", 5555, "10.0.0.4", 443, "tcp")
        await ws.send(frame(EVENT_UNSCORED, codec.unscored_args([shed], "shed: worker queue full")))
        replies = []
        # Zeek's summaries and its error replies, until it goes quiet or ends (its
        # counts add up early: it was answered more than it sent)
        with contextlib.suppress(asyncio.TimeoutError, ConnectionClosed):
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 2.0))
                if msg.get("type") == "error":
                    replies.append(msg)
        await ws.close()
        return replies

    replies = asyncio.run(asyncio.wait_for(hostile(), 60))
    z = zeek_counts(zeek, tmp_path / "zeek")
    assert [r.get("code") for r in replies] == ["deserialization_failed"], replies
    assert z["verdicts"] == 2 and z["errors"] == 5001, z
    assert z["sent"] == z["verdicts"] + z["withheld"] + z["errors"] + z["outstanding"], z
    assert z["outstanding"] < 0, z  # answers for summaries Zeek never sent ...
    reporter = (tmp_path / "zeek" / "reporter.log").read_text()
    assert "summaries this Zeek did not send (unknown uids)" in reporter  # ... are warned of
    assert "refused a verdict with a uid of 200000 characters" in reporter
    logged = {r["uid"]: r for r in rows(tmp_path / "zeek" / "hamad.log")}
    assert "Cunknown" in logged and not any(u.startswith("CCCC") for u in logged)
    # A summary the worker could not score: its own row, with the reason and no score.
    assert logged["Cshed"]["reason"] == "shed: worker queue full", logged["Cshed"]
    assert logged["Cshed"]["score"] == "-" and logged["Cshed"]["id.resp_p"] == "443"
    assert logged["Cunknown"]["reason"] == "-"


def test_a_worker_that_stops_reading_is_dropped_by_zeek_not_waited_for(tmp_path: Path) -> None:
    """A peer says hello and then never reads: Zeek's WebSocket layer gives up on it (a
    send timeout), HAMAD declares the worker unavailable when its heartbeats stop, and
    Zeek goes on, counting every summary it published as unanswered."""
    import asyncio

    from websockets.asyncio.client import connect

    from hamad_plugin.worker.transport import codec
    from hamad_plugin.worker.transport.base import EVENT_HELLO, summaries_topic, verdicts_topic

    port = free_port()
    zeek = start_zeek(tmp_path / "zeek", "websocket", port, seconds=15, rate=3000.0)

    async def mute() -> None:
        for _ in range(100):
            try:
                ws = await connect(f"ws://127.0.0.1:{port}/v1/messages/json", max_queue=1)
                break
            except OSError:
                await asyncio.sleep(0.1)
        await ws.send(json.dumps([summaries_topic()]))
        await ws.recv()
        hello = codec.ws_event(verdicts_topic(), EVENT_HELLO, codec.hello_args("mute", "0", "m"))
        await ws.send(json.dumps(hello))
        ws.transport.pause_reading()  # and never reads again
        await asyncio.sleep(20)

    asyncio.run(asyncio.wait_for(mute(), 60))
    z = zeek_counts(zeek, tmp_path / "zeek")
    assert z["sent"] > 10_000 and z["verdicts"] == 0, z
    assert z["outstanding"] == z["sent"] - z["errors"] - z["withheld"], z
    reporter = (tmp_path / "zeek" / "reporter.log").read_text()
    assert "worker unavailable" in reporter
