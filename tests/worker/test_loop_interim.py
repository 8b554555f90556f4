"""Interim summaries of still-open connections are scored without touching the windows."""

from __future__ import annotations

import asyncio

from fake_zeek import (
    PRECISE_TS,
    FakeZeekWS,
    collect_answers,
    fast_settings,
    flat_summary,
    recorded_conn_infos,
    run,
    summaries_frame,
    verdict_list,
    verdict_records,
    with_uid,
)

from hamad_plugin.scoring.pipeline import Pipeline
from hamad_plugin.worker.loop import Worker
from hamad_plugin.worker.state import Counters
from hamad_plugin.worker.transport.websocket import WebSocketTransport


async def pipeline_worker(
    pipe: Pipeline,
) -> tuple[FakeZeekWS, asyncio.Event, asyncio.Task[Counters]]:
    """A fake Zeek and a worker scoring with ``pipe`` the way ``hamad serve`` does."""

    def interim(records):  # type: ignore[no-untyped-def]
        return pipe.score(records, update_state=False)

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
    return fake, stop, task


def test_interim_summaries_do_not_update_feature_state() -> None:
    pipe = Pipeline.load()

    async def body() -> None:
        fake, stop, task = await pipeline_worker(pipe)
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


def test_interim_and_final_of_one_connection_in_one_batch() -> None:
    """Each summary keeps its own flag: one interim and one final verdict come back."""
    pipe = Pipeline.load()

    async def body() -> None:
        fake, stop, task = await pipeline_worker(pipe)
        conn = recorded_conn_infos()[2]
        both = [
            with_uid(flat_summary(conn, PRECISE_TS[2], interim=True), "Cboth"),
            with_uid(flat_summary(conn, PRECISE_TS[2]), "Cboth"),
        ]
        await fake.send(summaries_frame(both))
        answers = []
        for _ in range(50):
            answers = [v for v in verdict_list(fake) if v["uid"] == "Cboth"]
            if len(answers) == 2:
                break
            await asyncio.sleep(0.1)
        stop.set()
        await task
        await fake.stop()
        assert sorted(v["interim"] for v in answers) == [False, True]
        assert sum(pipe.extractor.tracked_keys.values()) == 3  # only the final one counted

    run(body)
