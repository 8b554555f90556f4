"""Broker transport against a real Broker endpoint playing Zeek.

Both peers use Debian's python3-broker (Broker 1.4): it cannot peer with a
real Zeek 8, but it speaks the same data model, so the worker's encoding is
checked against the types main.zeek declares (tests/fake_zeek.py) and the
decoding against the Python types a real Zeek 8.2.2 delivered
(tests/data/zeek-wire/broker-python-types.txt).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import pytest
from fake_zeek import (
    PRECISE_TS,
    WIRE,
    FakeZeekBroker,
    broker_conn_info,
    broker_flat_summary,
    bytes_scorer,
    fast_settings,
    no_verdict_uids,
    run,
)

from hamad_plugin.core.records import DnsSummary
from hamad_plugin.errors import DependencyError
from hamad_plugin.worker.loop import Worker
from hamad_plugin.worker.transport.broker import BROKER_PATH_ENV, BrokerTransport, load_broker
from hamad_plugin.worker.transport.codec import VERDICT_FIELDS

DEBIAN_BROKER = "/usr/lib/python3/dist-packages"


def _broker() -> Any:
    if not os.environ.get(BROKER_PATH_ENV) and os.path.isdir(DEBIAN_BROKER):
        os.environ[BROKER_PATH_ENV] = DEBIAN_BROKER
    try:
        return load_broker()
    except DependencyError as exc:
        pytest.skip(f"Broker Python bindings not importable: {exc}")


pytestmark = pytest.mark.broker


#: Broker peering and teardown are slower than the WebSocket fake's: a longer bound.
BROKER_TIMEOUT = 25.0


def start(bk: Any, port: int, score: Any = None) -> tuple[Worker, asyncio.Event, asyncio.Task[Any]]:
    worker = Worker(
        lambda: BrokerTransport("127.0.0.1", port, connect_timeout=3.0, broker_module=bk),
        score or bytes_scorer(),
        fast_settings(worker_name="broker-test", recv_timeout=0.1),
    )
    stop = asyncio.Event()
    return worker, stop, asyncio.create_task(worker.run(stop))


async def wait(fake: FakeZeekBroker, pred: Callable[[], bool], timeout: float = 10.0) -> None:
    assert await asyncio.to_thread(fake.wait_for, pred, timeout), (
        f"timed out; accepted={fake.names()} rejected={fake.rejected}"
    )


def answered(fake: FakeZeekBroker) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, args in fake.accepted:
        if name == "HAMAD::verdicts":
            for rec in args[0]:
                out[rec[0]] = rec
        else:
            out.update(dict.fromkeys(no_verdict_uids(name, list(args)), args[-1]))
    return out


def test_recorded_types_are_what_the_fake_sends() -> None:
    """The fake's Conn::Info matches the types a real Zeek 8.2.2 delivered."""
    bk = _broker()
    rec = broker_conn_info(bk, "CTrMWH2QQFp4uwhsm1", 0, 0)
    lines = [ln.strip() for ln in (WIRE / "broker-python-types.txt").read_text().splitlines()]
    types = [ln.split(" = ")[0].split("] ", 1)[1] for ln in lines if ln.startswith("[")]
    ours = [f"{type(x).__module__}.{type(x).__name__}" for x in rec]
    assert ours == types


def test_summaries_round_trip_with_zeek_types() -> None:
    bk = _broker()

    async def body() -> None:
        fake = FakeZeekBroker(bk)
        port = fake.start()
        seen: dict[str, Any] = {}
        inner = bytes_scorer()

        def score(records: Any) -> Any:
            seen.update((r.uid, r.dns) for r in records)
            return inner(records)

        score.model_version = inner.model_version  # type: ignore[attr-defined]
        worker, stop, task = start(bk, port, score)
        await wait(fake, lambda: "HAMAD::hello" in fake.names())
        dns = DnsSummary(queries=2, longest=180, entropy=4.5, qtype=16)
        fake.publish(
            "HAMAD::conn_summaries",
            (
                broker_conn_info(bk, "Cinfo1", 1728, 1839),
                broker_flat_summary(bk, "Cflat1", 100),
                broker_flat_summary(bk, "Cflat2", 3000, interim=True),
                broker_flat_summary(bk, "Cdns", 300, dns=dns),
            ),
        )
        want = {"Cinfo1", "Cflat1", "Cflat2", "Cdns"}
        await wait(fake, lambda: want <= answered(fake).keys())
        await wait(fake, lambda: "HAMAD::heartbeat" in fake.names())
        stop.set()
        c = await task
        fake.stop()
        assert fake.rejected == [], "Zeek would reject these events"
        v = answered(fake)
        assert v["Cinfo1"][6] == pytest.approx((1728 + 1839) / 4000)  # score
        assert v["Cinfo1"][8] is True  # anomalous
        assert v["Cflat1"][1] == PRECISE_TS[2]  # ts double, microseconds kept
        assert str(v["Cflat1"][3]) == "40000/udp"
        interim = VERDICT_FIELDS.index("interim")
        assert v["Cflat2"][interim] is True and v["Cflat1"][interim] is False
        assert seen["Cdns"] == dns and seen["Cflat1"] is None and seen["Cinfo1"] is None
        assert c.received == 4 == c.verdicts_sent and c.bad_events == 0

    run(body, BROKER_TIMEOUT)


def test_wrong_shapes_are_counted_and_survived() -> None:
    bk = _broker()

    async def body() -> None:
        fake = FakeZeekBroker(bk)
        port = fake.start()
        worker, stop, task = start(bk, port)
        await wait(fake, lambda: "HAMAD::hello" in fake.names())
        bad = list(broker_flat_summary(bk, "Cbad", 1))
        bad[9] = "lots"  # orig_bytes: string instead of count
        fake.publish("HAMAD::no_such_event", "x")
        fake.publish("HAMAD::conn_summaries", (broker_flat_summary(bk, "Cx", 1),), "extra")
        fake.publish_raw("not an event at all")
        fake.publish("HAMAD::conn_summaries", (tuple(bad), broker_flat_summary(bk, "Cok", 1)))
        await wait(fake, lambda: {"Cbad", "Cok"} <= answered(fake).keys())
        fake.publish("HAMAD::conn_summaries", (broker_flat_summary(bk, "Clater", 1),))
        await wait(fake, lambda: "Clater" in answered(fake))
        stop.set()
        c = await task
        fake.stop()
        assert "orig_bytes" in answered(fake)["Cbad"]
        assert c.bad_events == 3 and c.rejected == 1  # 3 bad events + 1 bad record
        assert c.received == 3 and c.verdicts_sent == 2 and c.unaccounted() == 0

    run(body, BROKER_TIMEOUT)


def test_zeek_restart_reconnects() -> None:
    bk = _broker()

    async def body() -> None:
        fake1 = FakeZeekBroker(bk)
        port = fake1.start()
        worker, stop, task = start(bk, port)
        await wait(fake1, lambda: "HAMAD::hello" in fake1.names())
        fake1.publish("HAMAD::conn_summaries", (broker_flat_summary(bk, "A1", 1),))
        await wait(fake1, lambda: "A1" in answered(fake1))
        fake1.stop()
        await asyncio.sleep(1.0)
        fake2 = FakeZeekBroker(bk)
        fake2.start(port)
        await wait(fake2, lambda: "HAMAD::hello" in fake2.names(), timeout=15)
        fake2.publish("HAMAD::conn_summaries", (broker_flat_summary(bk, "B1", 1),))
        await wait(fake2, lambda: "B1" in answered(fake2))
        stop.set()
        c = await task
        fake2.stop()
        assert c.reconnects == 1 and c.connect_failures >= 1
        assert c.received == 2 == c.verdicts_sent and c.unaccounted() == 0

    run(body, timeout=40)


def test_missing_bindings_say_how_to_fix(tmp_path: Any) -> None:
    """Without bindings the error names zeek-config and the env var (clean interpreter)."""
    code = textwrap.dedent(
        """
        import sys
        sys.path = [p for p in sys.path if "dist-packages" not in p]
        from hamad_plugin.worker.transport.broker import load_broker
        from hamad_plugin.errors import DependencyError
        try:
            load_broker()
        except DependencyError as e:
            print("DependencyError:", e)
        """
    )
    env = dict(os.environ, PATH=str(tmp_path), **{BROKER_PATH_ENV: str(tmp_path / "nope")})
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30
    )
    assert "DependencyError:" in out.stdout, out.stderr
    assert "zeek-config --python_dir" in out.stdout and BROKER_PATH_ENV in out.stdout
    assert "--transport websocket" in out.stdout
