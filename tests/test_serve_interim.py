"""Interim summaries of still-open connections are scored without touching the windows."""

from __future__ import annotations

import asyncio

from fake_zeek import (
    PRECISE_TS,
    FakeZeekWS,
    flat_summary,
    recorded_conn_infos,
    summaries_frame,
    with_uid,
)
from test_transport_websocket import collect_answers, fast_settings, run, verdict_records

from hamad_plugin.pipeline import Pipeline
from hamad_plugin.serve import Worker
from hamad_plugin.transport.websocket import WebSocketTransport


def test_interim_summaries_do_not_update_feature_state() -> None:
    pipe = Pipeline.load()

    def interim(records):  # type: ignore[no-untyped-def]
        return pipe.score(records, update_state=False)

    async def body() -> None:
        fake = FakeZeekWS()
        port = await fake.start()
        worker = Worker(
            lambda: WebSocketTransport("127.0.0.1", port, connect_timeout=2.0),
            pipe.score,
            fast_settings(),
            None,
            interim,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        await fake.wait_client()
        conn = recorded_conn_infos()[2]
        await fake.send(
            summaries_frame([with_uid(flat_summary(conn, PRECISE_TS[2], interim=True), "Ci1")])
        )
        await collect_answers(fake, {"Ci1"})
        assert sum(pipe.extractor.tracked_keys.values()) == 0
        await fake.send(summaries_frame([with_uid(flat_summary(conn, PRECISE_TS[2]), "Cf1")]))
        await collect_answers(fake, {"Cf1"})
        assert sum(pipe.extractor.tracked_keys.values()) == 3  # src, dst and pair keys
        stop.set()
        await task
        await fake.stop()
        got = verdict_records(fake)
        assert got["Ci1"]["interim"] is True and got["Cf1"]["interim"] is False

    run(body)
