"""WebSocket transport and serve loop against a fake Zeek replaying recorded frames.

The fake (tests/fake_zeek.py) answers exactly like the recorded Zeek 8.2.2 and
accepts only messages whose types match the declarations in main.zeek.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from conftest import free_port
from fake_zeek import (
    PRECISE_TS,
    WIRE,
    FakeZeekWS,
    bytes_scorer,
    collect_answers,
    event_frame,
    fast_settings,
    flat_summary,
    make_flat_batch,
    recorded_conn_infos,
    recorded_summary_frame,
    run,
    start_worker,
    summaries_frame,
    transcript,
    verdict_list,
    verdict_records,
    with_uid,
)

from hamad_plugin.core.verdict import Verdict
from hamad_plugin.worker.logs import LogEvent
from hamad_plugin.worker.loop import Worker
from hamad_plugin.worker.transport import TransportError, codec
from hamad_plugin.worker.transport.codec import SUMMARY_FIELDS
from hamad_plugin.worker.transport.websocket import WebSocketTransport

# ---------------------------------------------------------------------------


def test_fake_zeek_answers_like_recorded_zeek() -> None:
    """The fake's replies to bad input equal what Zeek 8.2.2 answered (recorded)."""
    recorded = {}
    for line in (WIRE / "websocket-bad-input.txt").read_text().splitlines():
        if line.startswith("#") or ": " not in line or line.startswith("Reporter"):
            continue
        case, _, reply = line.partition(": ")
        recorded[case] = None if reply.startswith("(no reply") else json.loads(reply)
    fake = FakeZeekWS()
    s = lambda v: {"@data-type": "string", "data": v}  # noqa: E731
    hello = lambda *a: event_frame("HAMAD::hello", list(a), "hamad/verdicts")  # noqa: E731
    cases = {
        "not json": "{this is not json",
        "unknown event": json.dumps(event_frame("HAMAD::nope", [], "hamad/verdicts")),
        "wrong arg type": json.dumps(hello(s("w"), {"@data-type": "count", "data": 1}, s("m"))),
        "wrong arity": json.dumps(hello(s("w"))),
        "no @data-type": json.dumps(hello({"data": "w"}, s("v"), s("m"))),
        "good verdict": json.dumps(_verdict_frame()),
    }
    bad_record = {"@data-type": "vector", "data": [s("Cx"), s("high")]}
    cases["record field wrong type"] = json.dumps(
        event_frame("HAMAD::verdicts", [{"@data-type": "vector", "data": [bad_record]}],
                    "hamad/verdicts")
    )  # fmt: skip
    assert set(cases) == set(recorded), "bad-input recording has cases the test does not cover"
    for case, frame in cases.items():
        assert fake.check(frame) == recorded[case], case


def test_recorded_batch_and_flat_summaries_get_verdicts_in_zeeks_format() -> None:
    async def body() -> None:
        fake = FakeZeekWS()
        port = await fake.start()
        worker, stop, task = await start_worker(port)
        await fake.wait_client()
        assert fake.subscriptions == [["hamad/summaries"]]
        name, args = await fake.next_event()
        assert name == "HAMAD::hello" and args == ["test-worker", args[1], "test-bytes-1"]

        await fake.send(recorded_summary_frame())  # Zeek's own Conn::Info encoding
        flat = make_flat_batch(3, prefix="F")
        await fake.send(summaries_frame(flat))
        recorded = [rec[1]["data"] for rec in recorded_conn_infos()]
        uids = set(recorded) | {f"F{i:06d}" for i in range(3)}
        answers = await collect_answers(fake, uids)
        assert set(answers.values()) == {"verdict"}
        await fake.next_event("HAMAD::heartbeat")

        stop.set()
        counters = await task
        await fake.stop()

        assert fake.error_replies == [], "Zeek would have rejected something we sent"
        v = verdict_records(fake)
        dns = v[recorded[2]]  # the recorded DNS lookup: 29 + 45 bytes -> score 0.0185
        assert dns["score"] == pytest.approx((29 + 45) / 4000)
        assert dns["anomalous"] is False and dns["top_model"] == "xgb"
        assert dns["orig_p"].number == 40000 and dns["orig_p"].proto == "udp"
        assert dns["resp_h"] == "192.168.1.1"
        assert dns["top_features"] == ["orig_bytes", "history"]
        https = v[recorded[0]]  # 907 + 30200 bytes -> score capped at 1
        assert https["score"] == 1.0 and https["anomalous"] is True
        # flat summaries carry ts as double: microseconds survive the round trip
        assert v["F000000"]["ts"] == PRECISE_TS[0]
        # the recorded Conn::Info path only has Zeek's ms-truncated timestamp
        assert v[recorded[0]]["ts"] == pytest.approx(int(PRECISE_TS[0] * 1000) / 1000, abs=1e-6)
        assert counters.received == 6 and counters.scored == 6 and counters.verdicts_sent == 6
        assert counters.bad_events == 0 and counters.shed == 0

    run(body)


def _verdict_frame() -> dict[str, Any]:
    from hamad_plugin.core.verdict import Verdict

    v = Verdict(
        uid=recorded_conn_infos()[0][1]["data"], ts=PRECISE_TS[0], orig_h="192.168.1.10",
        orig_p=50000, resp_h="93.184.216.34", resp_p=443, proto="tcp", score=0.5,
        threshold=0.4, anomalous=True, top_features=[("dst_2m_log_count", 0.2)],
        weights={"rf": 1.0}, model_version="m1",
    )  # fmt: skip
    return codec.ws_event("hamad/verdicts", "HAMAD::verdicts", codec.verdicts_args([v]))


def _kinds(x: Any, out: set[str]) -> set[str]:
    if isinstance(x, dict):
        if "@data-type" in x:
            out.add(x["@data-type"])
        for v in x.values():
            _kinds(v, out)
    elif isinstance(x, list):
        for v in x:
            _kinds(v, out)
    return out


def test_outgoing_frames_use_the_envelope_and_encodings_zeek_accepted() -> None:
    """Our hello/verdict frames are shaped like the recorded frames Zeek accepted."""

    out = [f["msg"] for f in transcript() if f["dir"] == "out" and isinstance(f["msg"], dict)]
    rec_hello, rec_verdicts = out
    ours = _verdict_frame()
    hello = codec.ws_event("hamad/verdicts", "HAMAD::hello", codec.hello_args("probe", "0.1", "m"))
    for mine, theirs in ((ours, rec_verdicts), (hello, rec_hello)):
        assert list(mine) == list(theirs)  # same keys in the same order
        assert mine["data"][:2] == theirs["data"][:2]  # format version, message type
        assert mine["data"][2]["data"][0]["@data-type"] == "string"
    # hello differs from the recorded one only by HAMAD's extra model_version argument
    assert hello["data"][2]["data"][1]["data"][:2] == rec_hello["data"][2]["data"][1]["data"]
    # the recorded accepted verdict's field encodings are used byte-for-byte for shared types
    rec_fields = rec_verdicts["data"][2]["data"][1]["data"][0]["data"][0]["data"]
    our_fields = ours["data"][2]["data"][1]["data"][0]["data"][0]["data"]
    assert our_fields[0] == rec_fields[0]  # uid string
    assert our_fields[6] == rec_fields[1]  # score 0.5 as "real"
    assert our_fields[9] == rec_fields[3]  # top features: vector of string
    # every type we emit is one Zeek itself emitted in the transcript
    zeek_kinds = _kinds([f["msg"] for f in transcript() if f["dir"] == "in"], set())
    assert _kinds(ours, set()) <= zeek_kinds | {"real", "boolean"}
    assert FakeZeekWS().check(json.dumps(ours)) is None


def test_interim_summaries_are_flagged_in_verdicts() -> None:
    from fake_zeek import flat_summary, recorded_conn_infos, with_uid

    async def body() -> None:
        fake = FakeZeekWS()
        port = await fake.start()
        _w, stop, task = await start_worker(port)
        await fake.wait_client()
        rec = with_uid(flat_summary(recorded_conn_infos()[2], PRECISE_TS[2], interim=True), "Ci1")
        await fake.send(summaries_frame([rec]))
        await collect_answers(fake, {"Ci1"})
        stop.set()
        await task
        await fake.stop()
        assert verdict_records(fake)["Ci1"]["interim"] is True

    run(body)


def test_wrong_shapes_are_counted_logged_and_survived(caplog: pytest.LogCaptureFixture) -> None:
    async def body() -> None:
        fake = FakeZeekWS()
        port = await fake.start()
        worker, stop, task = await start_worker(port)
        await fake.wait_client()
        good = make_flat_batch(2, prefix="G")
        bad_rec = json.loads(json.dumps(good[0]))
        bad_rec["data"][1]["data"] = "Cbad"
        bad_rec["data"][SUMMARY_FIELDS.index("orig_bytes")] = {"@data-type": "string", "data": "x"}
        short_rec = {"@data-type": "vector", "data": good[1]["data"][:5]}
        await fake.send("{not json")
        await fake.send(event_frame("HAMAD::unknown_event", []))
        await fake.send(event_frame("HAMAD::conn_summaries", [good[0], good[1]]))  # arity 2
        await fake.send({"type": "data-message", "topic": "hamad/summaries", "data": []})
        await fake.send({"type": "error", "code": "deserialization_failed",
                         "context": "failed to create Zeek event"})  # fmt: skip
        await fake.send(summaries_frame([bad_rec, short_rec, good[0], good[1]]))
        answers = await collect_answers(fake, {"Cbad", "G000000", "G000001"})
        assert answers["G000000"] == answers["G000001"] == "verdict"
        assert "orig_bytes" in answers["Cbad"] and "expected count" in answers["Cbad"]
        # still alive: a later batch is scored too
        await fake.send(summaries_frame(make_flat_batch(1, prefix="L")))
        await collect_answers(fake, {"L000000"})
        stop.set()
        c = await task
        await fake.stop()
        assert c.bad_events == 4  # whole events that could not be used
        assert c.rejected == 2  # bad records inside a good batch, each rejected alone
        assert c.rejected_by_zeek == 1
        assert c.received == 5 and c.verdicts_sent == 3 and c.unaccounted() == 0

    with caplog.at_level("ERROR", logger="hamad"):
        run(body)
    events = [dict(r.msg.items()) for r in caplog.records if isinstance(r.msg, LogEvent)]
    assert any(e["event"] == "bad_message" and "unknown event" in e["reason"] for e in events)
    assert any(e["event"] == "bad_summaries" and e["uids"] == "Cbad" for e in events)
    assert any(e.get("from_zeek") is True for e in events)
    msgs = [r.getMessage() for r in caplog.records]  # what any other handler shows
    assert any("event=bad_summaries" in m and "uids=Cbad" in m for m in msgs)


def test_config_changed_reaches_the_callback() -> None:
    seen: list[tuple[str, str]] = []

    async def body() -> None:
        fake = FakeZeekWS()
        port = await fake.start()
        _w, stop, task = await start_worker(port, on_config=lambda n, v: seen.append((n, v)))
        await fake.wait_client()
        s = lambda v: {"@data-type": "string", "data": v}  # noqa: E731
        await fake.send(event_frame("HAMAD::config_changed", [s("threshold_override"), s("0.7")]))
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.02)
        stop.set()
        c = await task
        await fake.stop()
        assert c.config_changes == 1

    run(body)
    assert seen == [("threshold_override", "0.7")]


def test_zeek_restart_reconnects_with_backoff_and_loses_nothing() -> None:
    async def body() -> None:
        fake1 = FakeZeekWS()
        port = await fake1.start()
        worker, stop, task = await start_worker(port)
        await fake1.wait_client()
        await fake1.send(summaries_frame(make_flat_batch(5, prefix="A")))
        first = await collect_answers(fake1, {f"A{i:06d}" for i in range(5)})
        await fake1.stop()  # Zeek dies
        await asyncio.sleep(1.0)  # refused connects: 0.1, 0.2, 0.4, 0.4 s backoff
        failures_while_down = worker.counters.connect_failures
        fake2 = FakeZeekWS()
        await fake2.start(port)  # Zeek restarts on the same port
        await fake2.wait_client()
        await fake2.next_event("HAMAD::hello")
        await fake2.send(summaries_frame(make_flat_batch(5, prefix="B")))
        second = await collect_answers(fake2, {f"B{i:06d}" for i in range(5)})
        stop.set()
        c = await task
        await fake2.stop()
        assert set(first.values()) == set(second.values()) == {"verdict"}
        assert c.reconnects == 1
        assert 2 <= failures_while_down <= 6, "backoff should space out reconnect attempts"
        assert c.received == 10 == c.scored == c.verdicts_sent

    run(body)


def test_verdicts_for_a_dead_zeek_are_counted_as_lost() -> None:
    async def body() -> None:
        fake = FakeZeekWS()
        port = await fake.start()
        worker, stop, task = await start_worker(port, score=bytes_scorer(delay=0.5))
        await fake.wait_client()
        await fake.send(summaries_frame(make_flat_batch(4, prefix="D")))
        await asyncio.sleep(0.15)  # received and being scored
        await fake.stop()
        await asyncio.sleep(1.0)
        stop.set()
        c = await task
        answered = len(verdict_records(fake))
        assert c.received == 4
        # every summary is accounted for: answered, or counted as lost/shed/failed
        assert answered + c.verdicts_lost + c.shed + c.score_errors + c.dropped_at_exit == 4
        assert c.verdicts_lost >= 1
        assert c.scored == c.verdicts_sent + c.verdicts_lost

    run(body)


def test_overload_sheds_and_tells_zeek_about_every_shed_summary() -> None:
    async def body() -> None:
        fake = FakeZeekWS()
        port = await fake.start()
        _w, stop, task = await start_worker(
            port, score=bytes_scorer(delay=0.2), queue_size=2, batch_size=1
        )
        await fake.wait_client()
        uids = {f"S{i:06d}" for i in range(10)}
        await fake.send(summaries_frame(make_flat_batch(10, prefix="S")))
        answers = await collect_answers(fake, uids, timeout=10)
        stop.set()
        c = await task
        await fake.stop()
        shed = {u for u, a in answers.items() if a.startswith("shed")}
        assert c.shed == len(shed) >= 1
        assert c.verdicts_sent == len(uids) - len(shed)
        assert c.received == c.scored + c.shed

    run(body)


def test_gives_up_after_max_connect_failures() -> None:
    async def body() -> None:
        worker = Worker(
            lambda: WebSocketTransport("127.0.0.1", free_port(), connect_timeout=1.0),
            bytes_scorer(),
            fast_settings(max_connect_failures=2),
        )
        with pytest.raises(TransportError, match="gave up after 2"):
            await worker.run(asyncio.Event())
        assert worker.counters.connect_failures == 2

    run(body)


def test_ack_missing_is_a_clear_transport_error() -> None:
    async def body() -> None:
        from websockets.asyncio.server import serve

        async def mute(ws: Any) -> None:
            await ws.recv()
            await ws.send(json.dumps({"type": "error", "code": "x", "context": "y"}))
            await asyncio.sleep(0.5)

        async with serve(mute, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            t = WebSocketTransport("127.0.0.1", port, connect_timeout=1.0)
            with pytest.raises(TransportError, match="ack"):
                await t.connect()

    run(body)


def test_unknown_transport_ports_are_decoded_and_answered_in_zeeks_spelling() -> None:
    """IGMP and other non-TCP/UDP/ICMP connections carry ports as '0/?' (Zeek 8.2.2)."""
    igmp = with_uid(flat_summary(recorded_conn_infos()[0], PRECISE_TS[0]), "Cigmp")
    igmp["data"][3] = {"@data-type": "port", "data": "0/?"}  # orig_p
    igmp["data"][5] = {"@data-type": "port", "data": "0/?"}  # resp_p
    igmp["data"][6] = {"@data-type": "enum-value", "data": "unknown_transport"}
    batch = codec.decode_event("HAMAD::conn_summaries", [[codec.ws_to_plain(igmp)]])
    assert batch.decode() == [] and not batch.rejected
    rec = batch.records[0]
    assert (rec.orig_p, rec.resp_p, rec.proto) == (0, 0, "unknown_transport")
    verdict = Verdict(uid="Cigmp", ts=rec.ts, orig_h=rec.orig_h, orig_p=0, resp_h=rec.resp_h,
                      resp_p=0, proto=rec.proto, score=0.1, threshold=0.5, anomalous=False)  # fmt: skip
    wire = codec.wire_to_ws(codec.verdict_wire(verdict))
    assert wire["data"][3] == {"@data-type": "port", "data": "0/?"}
    with pytest.raises(codec.WireFormatError, match="0/\\?"):
        codec.parse_port("99999/tcp")


def test_verdicts_zeek_would_discard_are_counted_not_sent() -> None:
    """With HAMAD::log_min_score set, only verdicts Zeek logs or notices cross the wire."""

    async def body() -> tuple[list[dict[str, Any]], int, Any]:
        fake = FakeZeekWS()
        port = await fake.start()
        _w, stop, task = await start_worker(port)
        await fake.wait_client()
        s = lambda v: {"@data-type": "string", "data": v}  # noqa: E731
        await fake.send(event_frame("HAMAD::config_changed", [s("log_min_score"), s("0.9")]))
        await fake.send(summaries_frame(make_flat_batch(30, prefix="W")))
        for _ in range(200):
            withheld = sum(a[1] for n, a, _ in fake.accepted if n == "HAMAD::verdicts")
            if len(verdict_list(fake)) + withheld == 30:
                break
            await asyncio.sleep(0.02)
        stop.set()
        c = await task
        await fake.stop()
        return verdict_list(fake), withheld, c

    sent, withheld, c = run(body)
    assert sent and withheld, "the recorded records score on both sides of 0.9"
    assert all(v["anomalous"] or v["score"] >= 0.9 for v in sent)
    assert len(sent) + withheld == 30 == c.scored
    assert (c.verdicts_sent, c.verdicts_withheld) == (len(sent), withheld)
