"""Property-based: no frame or value can crash the codecs (Broker and WebSocket shapes).

Hypothesis generates hostile input; the only way out of each entry point is
its documented result (a message, a batch, records) or the one documented
error type. Any other exception, including RecursionError, fails.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="pip install hypothesis (dev extra)")
from fake_zeek import make_flat_batch, summaries_frame  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from hamad_plugin.worker.transport import codec  # noqa: E402
from hamad_plugin.worker.transport.base import BadMessage, ConfigChange, SummaryBatch  # noqa: E402
from hamad_plugin.worker.transport.websocket import WebSocketTransport  # noqa: E402

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)
data_types = st.sampled_from(
    ["none", "boolean", "count", "integer", "real", "string", "enum-value", "address", "port",
     "timespan", "timestamp", "vector", "set", "table", "subnet", "bogus"]
)  # fmt: skip
typed_values = st.recursive(
    st.builds(lambda t, d: {"@data-type": t, "data": d}, data_types, scalars),
    lambda inner: st.builds(
        lambda v: {"@data-type": "vector", "data": v}, st.lists(inner, max_size=4)
    ),
    max_leaves=25,
)


def _check_inbound(msg: Any) -> None:
    assert isinstance(msg, (BadMessage, ConfigChange, SummaryBatch))
    if isinstance(msg, SummaryBatch):
        rest = msg.decode()
        assert rest == []
        assert len(msg.records) + len(msg.rejected) == len(msg)
        for rec in msg.records:
            assert math.isfinite(rec.ts) and 0 <= rec.orig_p <= 65535 and 0 <= rec.resp_p <= 65535


@FAST
@given(st.text(max_size=300) | st.binary(max_size=300))
def test_any_frame_text_is_decoded_or_refused(raw: str | bytes) -> None:
    _check_inbound(WebSocketTransport.decode_frame(raw))


@FAST
@given(json_values)
def test_any_json_value_is_decoded_or_refused(value: Any) -> None:
    _check_inbound(WebSocketTransport.decode_frame(json.dumps(value)))


@FAST
@given(
    st.lists(typed_values, max_size=6),
    st.sampled_from(["HAMAD::conn_summaries", "HAMAD::config_changed", "x"]),
)
def test_any_typed_arguments_in_a_valid_envelope(args: list[Any], name: str) -> None:
    frame = {"type": "data-message", "topic": "hamad/summaries", "@data-type": "vector",
             "data": [{"@data-type": "count", "data": 1}, {"@data-type": "count", "data": 1},
                      {"@data-type": "vector", "data": [{"@data-type": "string", "data": name},
                                                        {"@data-type": "vector", "data": args}]}]}  # fmt: skip
    _check_inbound(WebSocketTransport.decode_frame(json.dumps(frame)))


@FAST
@given(st.data())
def test_one_damaged_field_in_a_real_batch_rejects_only_that_record(data: st.DataObject) -> None:
    batch = make_flat_batch(5, prefix="H")
    i = data.draw(st.integers(0, 4))
    field = data.draw(st.integers(0, len(codec.SUMMARY_FIELDS) - 1))
    batch[i]["data"][field] = data.draw(typed_values | json_values)
    msg = WebSocketTransport.decode_frame(json.dumps(summaries_frame(batch)))
    assert isinstance(msg, SummaryBatch)
    msg.decode()
    assert len(msg.records) >= 4 and len(msg.records) + len(msg.rejected) == 5


plain_values = st.recursive(
    scalars | st.builds(codec.PortValue, st.integers(0, 65535), st.sampled_from(["tcp", "udp"])),
    lambda inner: st.lists(inner, max_size=5) | st.tuples(inner, inner),
    max_leaves=30,
)


@FAST
@given(
    st.lists(plain_values, max_size=4),
    st.sampled_from(["HAMAD::conn_summaries", "HAMAD::config_changed", "y"]),
)
def test_broker_shaped_values_are_decoded_or_refused(args: list[Any], name: str) -> None:
    """What Broker's bindings deliver (tuples, ints, strings, ...) through the Broker path."""
    try:
        msg = codec.decode_event(name, args, codec.broker_to_plain)
    except codec.WireFormatError:
        return
    _check_inbound(msg)
