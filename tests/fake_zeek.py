"""Test peers that play Zeek for the HAMAD transports.

Zeek itself cannot run in CI, so these peers reproduce what a real Zeek 8.2.2
was recorded doing (``tests/data/zeek-wire/``):

* :class:`FakeZeekWS` is a WebSocket server on 127.0.0.1 speaking
  ``/v1/messages/json``: it answers the topic list with the recorded ``ack``,
  sends summary batches built from the recorded frames, and checks every
  client message against the *types declared in zeek_scripts/main.zeek*
  (parsed from the script text), answering bad ones with the exact error
  replies Zeek gave (``websocket-bad-input.txt``).
* :class:`FakeZeekBroker` is a real ``broker.Endpoint`` (python3-broker) that
  listens like ``Broker::listen`` and type-checks what the worker publishes.

The scoring function :func:`bytes_scorer` is deterministic so tests can
predict verdicts without a model.
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import json
import os
import re
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hamad_plugin.core.records import ConnRecord, DnsSummary
from hamad_plugin.core.settings import ServeSettings
from hamad_plugin.core.verdict import Verdict
from hamad_plugin.worker.loop import Worker
from hamad_plugin.worker.transport import codec
from hamad_plugin.worker.transport.websocket import WebSocketTransport

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = REPO / "zeek_scripts"
WIRE = Path(__file__).resolve().parent / "data" / "zeek-wire"

ERR_JSON = {
    "type": "error",
    "code": "deserialization_failed",
    "context": "failed to decode JSON object",
}
ERR_EVENT = {
    "type": "error",
    "code": "deserialization_failed",
    "context": "failed to create Zeek event",
}


# ---------------------------------------------------------------------------
# What the Zeek scripts declare (parsed from their text)


def _strip_comments(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


@dataclass
class ZeekSchema:
    """Record layouts and event signatures declared in the HAMAD scripts."""

    #: record name -> [(field, type, optional)]
    records: dict[str, list[tuple[str, str, bool]]] = field(default_factory=dict)
    #: event name (with module) -> [(arg, type)]
    events: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @classmethod
    def from_scripts(cls, scripts: Path = SCRIPTS) -> ZeekSchema:
        text = _strip_comments((scripts / "main.zeek").read_text())
        # Only what the module exports is part of the contract.
        text = text[text.index("export {") : text.index("\n}\n", text.index("export {"))]
        schema = cls()
        for m in re.finditer(r"\btype\s+(\w+)\s*:\s*record\s*\{(.*?)\}\s*;", text, re.S):
            fields = []
            for fm in re.finditer(r"(\w+)\s*:\s*([^;&]+?)\s*(&[^;]*)?;", m.group(2)):
                attrs = fm.group(3) or ""
                optional = "&optional" in attrs or "&default" in attrs
                fields.append((fm.group(1), " ".join(fm.group(2).split()), optional))
            schema.records[m.group(1)] = fields
        for m in re.finditer(r"\bglobal\s+(\w+)\s*:\s*event\s*\((.*?)\)\s*;", text, re.S):
            args = []
            for part in m.group(2).split(","):
                if part.strip():
                    name, _, typ = part.partition(":")
                    args.append((name.strip(), " ".join(typ.split())))
            schema.events[f"HAMAD::{m.group(1)}"] = args
        return schema

    # -- WebSocket JSON conformance (what Zeek would accept) -------------------

    def ws_conforms(self, v: Any, typ: str) -> bool:
        if not isinstance(v, dict) or "@data-type" not in v:
            return False
        kind, data = v["@data-type"], v.get("data")
        simple = {
            "string": ("string", str),
            "double": ("real", float),
            "bool": ("boolean", bool),
            "addr": ("address", str),
            "port": ("port", str),
            "time": ("timestamp", str),
            "interval": ("timespan", str),
            "transport_proto": ("enum-value", str),
        }
        if typ == "count":
            return kind == "count" and type(data) is int and data >= 0
        if typ in simple:
            want_kind, want_py = simple[typ]
            if kind != want_kind or type(data) is not want_py:
                return False
            if typ == "addr":
                try:
                    ipaddress.ip_address(data)
                except ValueError:
                    return False
            if typ == "port":
                return re.fullmatch(r"\d+/(tcp|udp|icmp|\?)", data) is not None
            return True
        if typ.startswith("vector of "):
            inner = typ[len("vector of ") :]
            return (
                kind == "vector"
                and isinstance(data, list)
                and all(self.ws_conforms(x, inner) for x in data)
            )
        if typ in self.records:
            fields = self.records[typ]
            if kind != "vector" or not isinstance(data, list) or len(data) != len(fields):
                return False
            for x, (_, ftyp, optional) in zip(data, fields, strict=True):
                if optional and isinstance(x, dict) and x.get("@data-type") == "none":
                    continue
                if not self.ws_conforms(x, ftyp):
                    return False
            return True
        raise AssertionError(f"fake Zeek has no rule for type {typ!r}")

    # -- Broker Python conformance -------------------------------------------

    def broker_conforms(self, v: Any, typ: str) -> bool:
        cls = type(v).__name__
        if typ == "count":
            return cls == "Count"
        if typ == "string":
            return isinstance(v, str)
        if typ == "double":
            return isinstance(v, float)
        if typ == "bool":
            return isinstance(v, bool)
        if typ == "addr":
            return isinstance(v, (ipaddress.IPv4Address, ipaddress.IPv6Address))
        if typ == "port":
            return cls == "Port"
        if typ.startswith("vector of "):
            inner = typ[len("vector of ") :]
            return isinstance(v, tuple) and all(self.broker_conforms(x, inner) for x in v)
        if typ in self.records:
            fields = self.records[typ]
            if not isinstance(v, tuple) or len(v) != len(fields):
                return False
            return all(
                (opt and x is None) or self.broker_conforms(x, ftyp)
                for x, (_, ftyp, opt) in zip(v, fields, strict=True)
            )
        raise AssertionError(f"fake Zeek has no rule for type {typ!r}")


# ---------------------------------------------------------------------------
# Recorded frames


def transcript() -> list[dict[str, Any]]:
    """The recorded WebSocket frames, in order."""
    return [
        json.loads(line) for line in (WIRE / "websocket-transcript.jsonl").read_text().splitlines()
    ]


def recorded_ack() -> dict[str, Any]:
    return next(f["msg"] for f in transcript() if f["dir"] == "in" and f["msg"]["type"] == "ack")


def recorded_summary_frame() -> dict[str, Any]:
    """Zeek's recorded summary batch (3 Conn::Info records), renamed to HAMAD's event."""
    msg = copy.deepcopy(
        next(f["msg"] for f in transcript() if f["dir"] == "in" and f["msg"]["type"] != "ack")
    )
    name = msg["data"][2]["data"][0]
    assert name["data"] == "Probe::conn_summaries"
    name["data"] = "HAMAD::conn_summaries"
    return msg


def recorded_conn_infos() -> list[list[dict[str, Any]]]:
    """The 3 recorded Conn::Info records as lists of typed values."""
    args = recorded_summary_frame()["data"][2]["data"][1]["data"]
    return [rec["data"] for rec in args[0]["data"]]


#: Precise start times of the recorded connections (the transcript's ISO values
#: are truncated to ms; the recording wrote the full values next to it).
PRECISE_TS: list[float] = json.loads((WIRE / "precise-ts.json").read_text())


def dns_value(d: DnsSummary | None) -> dict[str, Any]:
    """A HAMAD::DnsSummary (or its absence) in Zeek's WebSocket encoding."""
    if d is None:
        return {"@data-type": "none", "data": {}}
    return {"@data-type": "vector", "data": [
        {"@data-type": "count", "data": d.queries}, {"@data-type": "count", "data": d.longest},
        {"@data-type": "real", "data": d.entropy}, {"@data-type": "count", "data": d.qtype}]}  # fmt: skip


def flat_summary(
    info: list[dict[str, Any]], ts: float, interim: bool = False, dns: DnsSummary | None = None
) -> dict[str, Any]:
    """A HAMAD::ConnSummary built from a recorded Conn::Info's typed values.

    Every value except ``ts`` (sent as ``double``), ``interim`` and ``dns`` keeps
    the exact encoding Zeek wrote.
    """
    cid = info[2]["data"]
    values = [
        {"@data-type": "real", "data": ts},
        info[1],
        cid[0],
        cid[1],
        cid[2],
        cid[3],
        *info[3:17],
        info[18],
        {"@data-type": "boolean", "data": interim},
        dns_value(dns),
    ]
    assert len(values) == len(codec.SUMMARY_FIELDS)
    return {"@data-type": "vector", "data": values}


def summary_from_record(r: ConnRecord, interim: bool = False) -> dict[str, Any]:
    """The HAMAD::ConnSummary Zeek would send for a conn.log row, in Zeek's encodings.

    ``duration`` is written in seconds with the log's precision, so the worker reads
    the same float ``hamad replay`` parses from the log.
    """
    none: dict[str, Any] = {"@data-type": "none", "data": {}}
    proto = r.proto if r.proto in ("tcp", "udp", "icmp") else "?"

    def typed(kind: str, v: Any) -> dict[str, Any]:
        return none if v is None else {"@data-type": kind, "data": v}

    values = [
        typed("real", r.ts),
        typed("string", r.uid),
        typed("address", r.orig_h),
        typed("port", f"{r.orig_p}/{proto}"),
        typed("address", r.resp_h),
        typed("port", f"{r.resp_p}/{proto}"),
        typed("enum-value", r.proto if proto != "?" else "unknown_transport"),
        typed("string", r.service),
        none if r.duration is None else typed("timespan", f"{r.duration:.9f}s"),
        typed("count", r.orig_bytes),
        typed("count", r.resp_bytes),
        typed("string", r.conn_state),
        typed("boolean", r.local_orig),
        typed("boolean", r.local_resp),
        typed("count", r.missed_bytes),
        typed("string", r.history),
        typed("count", r.orig_pkts),
        typed("count", r.orig_ip_bytes),
        typed("count", r.resp_pkts),
        typed("count", r.resp_ip_bytes),
        typed("count", r.ip_proto),
        typed("boolean", interim),
        dns_value(r.dns),
    ]
    assert len(values) == len(codec.SUMMARY_FIELDS)
    return {"@data-type": "vector", "data": values}


def with_uid(rec: dict[str, Any], uid: str) -> dict[str, Any]:
    rec = copy.deepcopy(rec)
    rec["data"][1] = {"@data-type": "string", "data": uid}
    return rec


def summaries_frame(
    records: Sequence[dict[str, Any]], topic: str = "hamad/summaries"
) -> dict[str, Any]:
    """A conn_summaries data-message in the recorded envelope."""
    return event_frame(
        "HAMAD::conn_summaries", [{"@data-type": "vector", "data": list(records)}], topic
    )


def event_frame(
    name: str, args: list[dict[str, Any]], topic: str = "hamad/summaries"
) -> dict[str, Any]:
    """A data-message carrying one event (the worker's own envelope, :func:`codec.ws_frame`)."""
    return codec.ws_frame(topic, name, args)


def make_flat_batch(n: int, prefix: str = "C") -> list[dict[str, Any]]:
    """n flat summaries with distinct uids, cycling through the recorded records."""
    infos = recorded_conn_infos()
    return [
        with_uid(flat_summary(infos[i % 3], PRECISE_TS[i % 3] + i), f"{prefix}{i:06d}")
        for i in range(n)
    ]


# ---------------------------------------------------------------------------
# Scoring


def slow_bytes_scorer(model: object = None) -> Any:
    """``bytes_scorer`` taking 50 ms per call (``hamad serve --score-fn`` cannot pass arguments)."""
    return bytes_scorer(model, delay=0.05)


def bytes_scorer(model: object = None, delay: float = 0.0) -> Any:
    """A deterministic ScoreFn: score = (orig+resp bytes) / 4000, capped at 1."""
    import time

    def score(records: Sequence[ConnRecord]) -> list[Verdict]:
        if delay:
            time.sleep(delay)
        out = []
        for r in records:
            total = (r.orig_bytes or 0) + (r.resp_bytes or 0)
            s = min(1.0, total / 4000.0)
            out.append(
                Verdict(
                    uid=r.uid, ts=r.ts, orig_h=r.orig_h, orig_p=r.orig_p, resp_h=r.resp_h,
                    resp_p=r.resp_p, proto=r.proto, score=s, threshold=0.5, anomalous=s >= 0.5,
                    top_features=[("orig_bytes", float(r.orig_bytes or 0)), ("history", 0.1)],
                    weights={"rf": 0.2, "xgb": 0.5, "novelty": 0.3},
                    model_version="test-bytes-1",
                )
            )  # fmt: skip
        return out

    score.model_version = "test-bytes-1"  # type: ignore[attr-defined]
    return score


async def serve_process(port: int, *flags: str) -> asyncio.subprocess.Process:
    """A real ``hamad serve --transport websocket`` process for a fake Zeek on ``port``
    (stderr piped; the tests' modules importable, e.g. for ``--score-fn fake_zeek:...``)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "tests"), str(REPO)]))
    code = "from hamad_plugin.cli import main; main()"
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, "serve", "--transport", "websocket", "--port", str(port), *flags,
        env=env, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


def serve_verdicts(recs: Sequence[ConnRecord], *flags: str) -> dict[str, list[Any]]:
    """Send ``recs`` to a real ``hamad serve`` process as Zeek would (batches of 100) and
    return each uid's last verdict record (values in ``codec.VERDICT_FIELDS`` order)."""

    async def body() -> dict[str, list[Any]]:
        fake = FakeZeekWS()
        port = await fake.start()
        proc = await serve_process(port, *flags)
        got: dict[str, list[Any]] = {}
        try:
            await fake.wait_client(timeout=60)
            await fake.next_event("HAMAD::hello", timeout=30)
            for s in range(0, len(recs), 100):
                await fake.send(
                    summaries_frame([summary_from_record(r) for r in recs[s : s + 100]])
                )
            while len(got) < len(recs):
                _, args = await fake.next_event("HAMAD::verdicts", timeout=30)
                for v in args[0]:
                    got[v[0]] = v
            proc.terminate()
            await asyncio.wait_for(proc.communicate(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
            await fake.stop()
        return got

    return asyncio.run(asyncio.wait_for(body(), 240))


# ---------------------------------------------------------------------------
# WebSocket fake


class FakeZeekWS:
    """A WebSocket server on 127.0.0.1 behaving like Zeek's /v1/messages/json."""

    def __init__(
        self, topic_prefix: str = "hamad", ping_interval: float = 20.0, ping_timeout: float = 20.0
    ) -> None:
        self.schema = ZeekSchema.from_scripts()
        self.topic_prefix = topic_prefix
        #: Zeek pings its WebSocket clients (20 s) and drops one that does not pong in time.
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.port = 0
        self.events: asyncio.Queue[tuple[str, list[Any]]] = asyncio.Queue()
        self.accepted: list[tuple[str, list[Any], dict[str, Any]]] = []
        self.error_replies: list[dict[str, Any]] = []
        self.ignored_topics: list[str] = []
        self.subscriptions: list[list[str]] = []
        self.connections = 0
        #: Cleared: the fake stops reading its clients' frames (a Zeek too busy to read),
        #: so the socket buffers between it and the worker fill up.
        self.reading = asyncio.Event()
        self.reading.set()
        #: Seconds the fake waits before reading each frame (a slow reader).
        self.read_delay = 0.0
        #: Client connections that have ended (after the fake read all they delivered).
        self.disconnects = 0
        self._clients: set[Any] = set()
        self._server: Any = None

    async def start(self, port: int = 0) -> int:
        from websockets.asyncio.server import serve

        self._server = await serve(
            self._handler, "127.0.0.1", port,
            ping_interval=self.ping_interval, ping_timeout=self.ping_timeout,
        )  # fmt: skip
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Stop like a killed Zeek: close every connection and the listener."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._clients.clear()

    async def wait_client(self, n: int = 1, timeout: float = 10.0) -> None:
        async def _w() -> None:
            while self.connections < n or not self._clients:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(_w(), timeout)

    async def send(self, frame: dict[str, Any] | str) -> None:
        raw = frame if isinstance(frame, str) else json.dumps(frame)
        for ws in list(self._clients):
            await ws.send(raw)

    async def next_event(
        self, name: str | None = None, timeout: float = 5.0
    ) -> tuple[str, list[Any]]:
        """Next accepted client event (optionally skipping others, e.g. heartbeats)."""

        async def _get() -> tuple[str, list[Any]]:
            while True:
                ev = await self.events.get()
                if name is None or ev[0] == name:
                    return ev

        return await asyncio.wait_for(_get(), timeout)

    def check(self, raw: str | bytes) -> dict[str, Any] | None:
        """Zeek's verdict on one client frame: None if accepted, else its error reply."""
        try:
            msg = json.loads(raw)
        except ValueError:
            return ERR_JSON
        if not _well_formed(msg):
            return ERR_JSON
        if not msg["topic"].startswith(f"{self.topic_prefix}/verdicts"):
            self.ignored_topics.append(msg["topic"])  # not subscribed: Zeek drops it silently
            return None
        content = msg["data"][2]["data"]
        name = content[0]["data"]
        args = content[1]["data"]
        sig = self.schema.events.get(name)
        if sig is None or len(args) != len(sig):
            return ERR_EVENT
        if not all(self.schema.ws_conforms(a, t) for a, (_, t) in zip(args, sig, strict=True)):
            return ERR_EVENT
        plain = [codec.ws_to_plain(a) for a in args]
        self.accepted.append((name, plain, msg))
        self.events.put_nowait((name, plain))
        return None

    async def _handler(self, ws: Any) -> None:
        if ws.request.path != "/v1/messages/json":
            await ws.close(1008, "unknown path")
            return
        try:
            topics = json.loads(await ws.recv())
        except Exception:
            await ws.close(1008, "expected a topic list")
            return
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            await ws.send(json.dumps(ERR_JSON))
            await ws.close()
            return
        self.subscriptions.append(topics)
        await ws.send(json.dumps(recorded_ack()))
        self.connections += 1
        self._clients.add(ws)
        try:
            while True:
                await self.reading.wait()
                if self.read_delay:
                    await asyncio.sleep(self.read_delay)
                raw = await ws.recv()
                reply = self.check(raw)
                if reply is not None:
                    self.error_replies.append(reply)
                    await ws.send(json.dumps(reply))
        except Exception:
            pass
        finally:
            self._clients.discard(ws)
            self.disconnects += 1


def _well_formed(x: Any, top: bool = True) -> bool:
    """Every value carries @data-type/data, as Zeek's JSON decoder requires."""
    if top:
        if not isinstance(x, dict) or x.get("type") != "data-message":
            return False
        if not isinstance(x.get("topic"), str):
            return False
    if not isinstance(x, dict) or "@data-type" not in x or "data" not in x:
        return False
    if x["@data-type"] in ("vector", "set"):
        return isinstance(x["data"], list) and all(_well_formed(e, False) for e in x["data"])
    if top:
        return False
    return True


# ---------------------------------------------------------------------------
# Broker fake


class FakeZeekBroker:
    """A python3-broker endpoint listening on 127.0.0.1, like ``Broker::listen``."""

    def __init__(self, broker: Any, topic_prefix: str = "hamad") -> None:
        self.bk = broker
        self.schema = ZeekSchema.from_scripts()
        self.topic_prefix = topic_prefix
        self.ep: Any = None
        self.sub: Any = None
        self.port = 0
        self.accepted: list[tuple[str, list[Any]]] = []
        self.rejected: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._running = False
        self._poller: threading.Thread | None = None

    def start(self, port: int = 0) -> int:
        """Listen and keep reading in a thread, like Zeek's event loop would."""
        self.ep = self.bk.Endpoint()
        self.sub = self.ep.make_subscriber(f"{self.topic_prefix}/verdicts")
        self.port = self.ep.listen("127.0.0.1", port)
        assert self.port, "python3-broker could not listen"
        self._running = True
        self._poller = threading.Thread(target=self._poll_loop, daemon=True)
        self._poller.start()
        return self.port

    def _poll_loop(self) -> None:
        while self._running:
            self.poll(0.05)

    def stop(self) -> None:
        """Go away like a killed Zeek."""
        self._running = False
        if self._poller is not None:
            self._poller.join(5)
        if self.ep is not None:
            self.ep.shutdown()
            self.ep = None

    def publish(self, name: str, *args: Any) -> None:
        self.ep.publish(f"{self.topic_prefix}/summaries", self.bk.zeek.Event(name, *args))

    def publish_raw(self, data: Any) -> None:
        self.ep.publish(f"{self.topic_prefix}/summaries", data)

    def poll(self, timeout: float = 0.2) -> None:
        """Receive and type-check what the worker published."""
        msg = self.sub.get(timeout)
        while msg is not None:
            _topic, data = msg
            ev = self.bk.zeek.Event(data)
            name, args = ev.name(), ev.args()
            sig = self.schema.events.get(name)
            ok = (
                sig is not None
                and len(sig) == len(args)
                and all(
                    self.schema.broker_conforms(a, t) for a, (_, t) in zip(args, sig, strict=True)
                )
            )
            with self._lock:
                if ok:
                    self.accepted.append((name, args))
                else:
                    self.rejected.append((name, repr(args)[:300]))
            msg = self.sub.get(0.0) if self.sub.available() else None

    def wait_for(self, pred: Any, timeout: float = 10.0) -> bool:
        import time

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                if pred():
                    return True
            time.sleep(0.05)
        return False

    def names(self) -> list[str]:
        return [n for n, _ in self.accepted]


def broker_conn_info(bk: Any, uid: str, orig_bytes: int, resp_bytes: int) -> tuple[Any, ...]:
    """A Conn::Info tuple with exactly the Python types of broker-python-types.txt."""
    from datetime import datetime, timedelta, timezone

    return (
        datetime(2026, 1, 1, 0, 0, 1, 100137, tzinfo=timezone.utc),
        uid,
        (
            ipaddress.IPv4Address("192.168.1.10"),
            bk.Port(50000, bk.Port.TCP),
            ipaddress.IPv4Address("93.184.216.34"),
            bk.Port(443, bk.Port.TCP),
            bk.Count(6),
            (),
        ),
        bk.Enum("tcp"),
        None,
        timedelta(microseconds=232497),
        bk.Count(orig_bytes),
        bk.Count(resp_bytes),
        "SF",
        True,
        False,
        bk.Count(0),
        "ShADdFf",
        bk.Count(7),
        bk.Count(1187),
        bk.Count(24),
        bk.Count(31160),
        None,
        bk.Count(6),
    )


def broker_flat_summary(
    bk: Any, uid: str, orig_bytes: int, interim: bool = False, dns: DnsSummary | None = None
) -> tuple[Any, ...]:
    """A HAMAD::ConnSummary tuple as Zeek's Broker would deliver it (the recorded DNS one)."""
    from datetime import timedelta

    return (
        PRECISE_TS[2],
        uid,
        ipaddress.IPv4Address("192.168.1.10"),
        bk.Port(40000, bk.Port.UDP),
        ipaddress.IPv4Address("192.168.1.1"),
        bk.Port(53, bk.Port.UDP),
        bk.Enum("udp"),
        "dns",
        timedelta(microseconds=20000),
        bk.Count(orig_bytes),
        bk.Count(45),
        "SF",
        True,
        True,
        bk.Count(0),
        "Dd",
        bk.Count(1),
        bk.Count(57),
        bk.Count(1),
        bk.Count(73),
        bk.Count(17),
        interim,
        None
        if dns is None
        else (
            bk.Count(dns.queries),
            bk.Count(dns.longest),
            dns.entropy,
            bk.Count(dns.qtype),
        ),  # fmt: skip
    )


# --------------------------------------------------------------------------- worker harness
# A Worker on the WebSocket transport against the fake, and what the fake received.

TIMEOUT = 20.0


def run(coro_fn: Callable[[], Awaitable[Any]], timeout: float = TIMEOUT) -> Any:
    """Run one async test body with a hard time limit."""

    async def bounded() -> Any:
        return await asyncio.wait_for(coro_fn(), timeout)

    return asyncio.run(bounded())


def fast_settings(**kw: Any) -> ServeSettings:
    base: dict[str, Any] = dict(
        worker_name="test-worker",
        heartbeat_interval=0.2,
        backoff_initial=0.1,
        backoff_max=0.4,
        recv_timeout=0.05,
        drain_timeout=2.0,
    )
    base.update(kw)
    return ServeSettings(**base)


async def start_worker(
    port: int, score: Any = None, on_config: Any = None, batch_size: int = 512, **kw: Any
) -> tuple[Worker, asyncio.Event, asyncio.Task[Any]]:
    worker = Worker(
        lambda: WebSocketTransport("127.0.0.1", port, connect_timeout=2.0),
        score or bytes_scorer(),
        fast_settings(**kw),
        on_config,
        batch_size=batch_size,
        model_version="test-bytes-1",
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    return worker, stop, task


def no_verdict_uids(name: str, args: list[Any]) -> list[str]:
    """The uids a ``HAMAD::worker_error`` or ``HAMAD::unscored`` event answers ([] for others)."""
    if name == "HAMAD::worker_error":
        return list(args[0])
    if name == "HAMAD::unscored":
        return [rec[0] for rec in args[0]]
    return []


async def collect_answers(fake: FakeZeekWS, uids: set[str], timeout: float = 8.0) -> dict[str, str]:
    """uid -> 'verdict' or the worker_error message, until every uid is answered."""
    answers: dict[str, str] = {}

    async def _loop() -> None:
        while not uids <= answers.keys():
            name, args = await fake.events.get()
            if name == "HAMAD::verdicts":
                for rec in args[0]:
                    answers[rec[0]] = "verdict"
            else:
                answers.update(dict.fromkeys(no_verdict_uids(name, args), args[-1]))

    await asyncio.wait_for(_loop(), timeout)
    return answers


def verdict_list(fake: FakeZeekWS) -> list[dict[str, Any]]:
    """Every verdict the fake Zeek accepted, in arrival order."""
    return [
        dict(zip(codec.VERDICT_FIELDS, rec, strict=True))
        for name, args, _ in fake.accepted
        if name == "HAMAD::verdicts"
        for rec in args[0]
    ]


def verdict_records(fake: FakeZeekWS) -> dict[str, dict[str, Any]]:
    """The last verdict per uid."""
    return {v["uid"]: v for v in verdict_list(fake)}
