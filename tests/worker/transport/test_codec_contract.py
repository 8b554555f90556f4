"""Zeek scripts <-> Python worker contract, read from the script text.

A field renamed, reordered or retyped on one side, an event renamed, or a
default that no longer matches fails here, before any Zeek is involved.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from fake_zeek import PRECISE_TS, ZeekSchema, flat_summary, recorded_conn_infos

from hamad_plugin.core.records import CONN_FIELDS, DNS_FIELDS, ConnRecord, DnsSummary
from hamad_plugin.core.verdict import Verdict
from hamad_plugin.worker.scorer import WORKER_OPTIONS
from hamad_plugin.worker.transport import TRANSPORTS, codec
from hamad_plugin.worker.transport.base import (
    DEFAULT_PORT,
    DEFAULT_TOPIC_PREFIX,
    INBOUND_EVENTS,
    OUTBOUND_EVENTS,
    SummaryBatch,
    Unscored,
    summaries_topic,
    verdicts_topic,
)

SCRIPTS = Path(__file__).resolve().parents[3] / "zeek_scripts"
MAIN = (SCRIPTS / "main.zeek").read_text()
TRANSPORT = (SCRIPTS / "transport.zeek").read_text()


@pytest.fixture(scope="module")
def schema() -> ZeekSchema:
    return ZeekSchema.from_scripts(SCRIPTS)


def _verdict() -> Verdict:
    return Verdict(
        uid="Cx", ts=PRECISE_TS[0], orig_h="2001:db8::1", orig_p=5353, resp_h="10.0.0.1",
        resp_p=53, proto="udp", score=0.7, threshold=0.5, anomalous=True,
        top_features=[("a", 0.5), ("b", 0.25)], weights={"rf": 0.1, "xgb": 0.9},
        model_version="m",
    )  # fmt: skip


def test_conn_summary_fields_match_the_codec(schema: ZeekSchema) -> None:
    assert [f for f, _, _ in schema.records["ConnSummary"]] == list(codec.SUMMARY_FIELDS)


def _as_record(v: Verdict) -> ConnRecord:
    return ConnRecord(ts=v.ts, uid=v.uid, orig_h=v.orig_h, orig_p=v.orig_p, resp_h=v.resp_h,
                      resp_p=v.resp_p, proto=v.proto)  # fmt: skip


def test_unscored_fields_match_the_codec(schema: ZeekSchema) -> None:
    assert [f for f, _, _ in schema.records["Unscored"]] == list(codec.UNSCORED_FIELDS)


def test_a_shed_summary_is_named_from_its_raw_record_alone(schema: ZeekSchema) -> None:
    """Shed records are not decoded, but their endpoints are read for hamad.log; one whose
    endpoints do not read is named by uid (and goes in HAMAD::worker_error)."""
    rec = flat_summary(recorded_conn_infos()[2], PRECISE_TS[2], interim=True)
    full, interim = codec.summary_from_values(codec.ws_to_plain(rec))
    batch = codec.decode_event("HAMAD::conn_summaries", [{"@data-type": "vector",
                                                           "data": [rec, rec]}],
                               codec.ws_to_plain)  # fmt: skip
    assert isinstance(batch, SummaryBatch)
    shed = batch.decode(1)
    assert shed == [Unscored.of(full, interim)] and shed[0].named
    assert schema.ws_conforms(codec.wire_to_ws(codec.unscored_wire(shed[0])), "Unscored")
    bad = {"@data-type": "vector", "data": list(rec["data"])}
    bad["data"][codec.SUMMARY_FIELDS.index("orig_h")] = {"@data-type": "address", "data": "x"}
    assert codec._raw_ident(bad, codec.ws_to_plain) == Unscored(full.uid)
    assert not codec._raw_ident("junk", codec.ws_to_plain).named


def test_verdict_fields_match_the_codec(schema: ZeekSchema) -> None:
    assert [f for f, _, _ in schema.records["Verdict"]] == list(codec.VERDICT_FIELDS)


def test_summary_fields_are_conn_log_fields() -> None:
    record_fields = {f.name for f in dataclasses.fields(ConnRecord)}
    conn_log = {c.removeprefix("id.") for c in CONN_FIELDS} - {"tunnel_parents"}
    for name in codec.SUMMARY_FIELDS:
        if name not in ("interim", "dns"):
            assert name in record_fields and name in conn_log, name
    assert conn_log <= set(codec.SUMMARY_FIELDS), "a conn.log field is not sent to the worker"


def test_the_optional_dns_part_matches_on_both_sides(schema: ZeekSchema) -> None:
    """HAMAD::DnsSummary is the worker's DnsSummary, field for field and type for type, and
    ConnSummary carries it as an optional last field (unset when send_dns is off)."""
    fields = schema.records["DnsSummary"]
    assert [f for f, _, _ in fields] == list(DNS_FIELDS)
    assert [t for _, t, _ in fields] == ["count", "count", "double", "count"]
    last = schema.records["ConnSummary"][-1]
    assert last == ("dns", "DnsSummary", True)  # optional
    assert re.search(r"event dns_request\(c: connection, msg: dns_msg, query: string, qtype: "
                     r"count,\s+qclass: count\)", MAIN)  # fmt: skip
    assert "if ( ! enabled || ! send_dns )" in MAIN


def test_summaries_with_without_and_before_the_dns_part_decode(schema: ZeekSchema) -> None:
    info = recorded_conn_infos()[2]
    d = DnsSummary(queries=3, longest=140, entropy=4.4, qtype=16)
    with_dns = flat_summary(info, PRECISE_TS[2], dns=d)
    assert schema.ws_conforms(with_dns, "ConnSummary")
    assert codec.summary_from_values(codec.ws_to_plain(with_dns))[0].dns == d
    without = flat_summary(info, PRECISE_TS[2])
    assert schema.ws_conforms(without, "ConnSummary")
    assert codec.summary_from_values(codec.ws_to_plain(without))[0].dns is None
    older = {"@data-type": "vector", "data": without["data"][:-1]}  # scripts before send_dns
    rec, interim = codec.summary_from_values(codec.ws_to_plain(older))
    assert rec.dns is None and rec.service == "dns" and not interim
    for bad in ([1, 2, 3], [1, 2, "x", 4], [1, -2, 0.5, 4], [1, 2, float("inf"), 4], "dns"):
        values = codec.ws_to_plain(without)
        values[-1] = bad
        with pytest.raises(codec.WireFormatError, match="dns"):
            codec.summary_from_values(values)


#: Exported events that stay inside Zeek: the log event.
ZEEK_INTERNAL_EVENTS = {"HAMAD::log_hamad"}


def test_event_names_match(schema: ZeekSchema) -> None:
    assert ZEEK_INTERNAL_EVENTS <= set(schema.events)
    transported = set(schema.events) - ZEEK_INTERNAL_EVENTS
    assert transported == set(INBOUND_EVENTS) | set(OUTBOUND_EVENTS)


def test_the_cluster_forwarding_event_is_not_public_api() -> None:
    """Nodes forward summaries to the scoring node with an event declared outside the export."""
    export_end = MAIN.index("\n}\n", MAIN.index("export {"))
    decl = MAIN.index("global cluster_summaries: event(")
    assert decl > export_end


def test_outgoing_events_have_the_types_zeek_declares(schema: ZeekSchema) -> None:
    samples = {
        "HAMAD::hello": codec.hello_args("w", "0.1", "m"),
        "HAMAD::heartbeat": codec.heartbeat_args("w", 1, 2, 3, 4),
        "HAMAD::worker_error": codec.worker_error_args(["Cx", "Cy"], "shed"),
        "HAMAD::verdicts": codec.verdicts_args([_verdict()]),
        "HAMAD::unscored": codec.unscored_args([Unscored.of(_as_record(_verdict()), True)], "shed"),
    }
    assert set(samples) == set(OUTBOUND_EVENTS)
    for name, args in samples.items():
        sig = schema.events[name]
        assert len(args) == len(sig), name
        for wire, (arg, typ) in zip(args, sig, strict=True):
            assert schema.ws_conforms(codec.wire_to_ws(wire), typ), f"{name}({arg}: {typ})"


def test_a_zeek_shaped_summary_conforms_and_decodes(schema: ZeekSchema) -> None:
    rec = flat_summary(recorded_conn_infos()[2], PRECISE_TS[2], interim=True)
    assert schema.ws_conforms(rec, "ConnSummary")
    decoded, interim = codec.summary_from_values(codec.ws_to_plain(rec))
    assert interim and decoded.ts == PRECISE_TS[2] and decoded.service == "dns"


def test_summary_ts_is_a_double_on_both_sides(schema: ZeekSchema) -> None:
    types = {f: t for f, t, _ in schema.records["ConnSummary"]}
    assert types["ts"] == "double", "time is truncated to ms on the WebSocket API"
    assert {f: t for f, t, _ in schema.records["Verdict"]}["ts"] == "double"


def test_defaults_agree() -> None:
    assert re.search(rf"const topic_prefix = \"{DEFAULT_TOPIC_PREFIX}\" &redef;", MAIN)
    assert re.search(rf"const listen_port = {DEFAULT_PORT}/tcp &redef;", MAIN)
    assert 'node_topic_prefix() + "/summaries"' in TRANSPORT
    assert 'node_topic_prefix() + "/verdicts"' in TRANSPORT
    assert summaries_topic().endswith("/summaries") and verdicts_topic().endswith("/verdicts")
    # One scoring node: the prefix itself; two or more sharded proxies add their port
    # (hamad serve --topic-prefix hamad/PORT: the worker's prefix + "/" + its port).
    node_prefix = TRANSPORT[TRANSPORT.index("function node_topic_prefix()") :]
    node_prefix = node_prefix[: node_prefix.index("\n\t}\n")]
    assert 'fmt("%s/%d", topic_prefix, port_to_count(scoring_port()))' in node_prefix
    assert "return topic_prefix;" in node_prefix
    # HAMAD::Transport's values are the worker's --transport names, TRANSPORT_AUTO = "auto".
    enum = MAIN[MAIN.index("type Transport: enum {") :]
    enum = enum[: enum.index("};")]
    zeek_transports = {v.lower() for v in re.findall(r"\bTRANSPORT_(\w+),", enum)}
    assert zeek_transports == set(TRANSPORTS)
    assert re.search(r"const transport: Transport = TRANSPORT_AUTO &redef;", MAIN)


def test_options_pushed_to_the_worker_exist_and_are_handled() -> None:
    options = set(re.findall(r"^\toption (\w+)", MAIN, re.M))
    pushed = set(re.findall(r'push_config\("(\w+)"', MAIN + TRANSPORT))
    assert pushed, "Zeek must push at least the threshold override"
    assert pushed <= options
    assert pushed == set(WORKER_OPTIONS)
