"""Zeek log directories for the dashboard tests (and the README's screenshots).

Two ways to get ``hamad.log`` + ``notice.log`` without Zeek, from a simulated
gateway capture (``hamad simulate``):

* :func:`pipeline_log_dir`: the replay pipeline scores it in-process (fast; the
  AppTest unit tests);
* :class:`LiveRun`: a real ``hamad serve`` process (with ``--metrics-port``)
  scores it, fed through :class:`fake_zeek.FakeZeekWS` as Zeek would send it;
  the verdicts that come back are logged the way ``notice.zeek`` does. The
  worker keeps running, so its metrics endpoint shows a live worker.

Either way the directory looks like zeekctl's: the first half of hamad.log
rotated and gzipped into ``<date>/hamad.HH:MM:SS-HH:MM:SS.log.gz``, the rest
in ``current/hamad.log`` (TSV); notice.log as JSON lines, so both formats and
rotation are exercised.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from conftest import free_port
from fake_zeek import FakeZeekWS, summaries_frame, summary_from_record

from hamad_plugin.core.records import ConnRecord
from hamad_plugin.dashboard.data import HAMAD_COLUMNS, NOTICE_COLUMNS, hamad_row_from_verdict
from hamad_plugin.dashboard.notices import notices_from_verdicts
from hamad_plugin.dashboard.zeeklog import write_log
from hamad_plugin.offline.ingest import read_conn_log
from hamad_plugin.worker.transport.codec import VERDICT_FIELDS

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
#: The simulated capture: one hour of a 16-device gateway, every attack scenario.
SIM_ARGS = ["--seed", "0", "--connections", "3000", "--hosts", "16", "--duration", "1h"]
#: Learn for the first quarter of it, so every page has both phases to show.
LEARN = "15min"


def simulate(out: Path, *extra: str, start: float | None = None) -> Path:
    """The capture; ``start`` (epoch seconds) moves it, e.g. to end now for a live look."""
    if start is not None:
        extra = (*extra, "--start", str(int(start)))
    subprocess.run(
        [sys.executable, "-c", "from hamad_plugin.cli import main; main()", "simulate",
         "--out", str(out), *SIM_ARGS, *extra],
        check=True, capture_output=True,
    )  # fmt: skip
    return out


def records(conn_log: Path) -> list[ConnRecord]:
    return list(read_conn_log(conn_log))


def write_log_dir(root: Path, rows: list[dict[str, Any]]) -> Path:
    """hamad.log (half rotated + gzipped, half current) and notice.log (JSON) under ``root``."""
    rows = sorted(rows, key=lambda r: r["ts"])
    notices = list(notices_from_verdicts(rows))
    half = len(rows) // 2
    t0, t1 = rows[0]["ts"], rows[half]["ts"]
    day = dt.datetime.fromtimestamp(t0, dt.timezone.utc)
    end = dt.datetime.fromtimestamp(t1, dt.timezone.utc)
    archive = root / f"{day:%Y-%m-%d}" / f"hamad.{day:%H:%M:%S}-{end:%H:%M:%S}.log.gz"
    write_log(archive, "hamad", HAMAD_COLUMNS, rows[:half], opened=t0)
    old = time.time() - 3600
    os.utime(archive, (old, old))
    write_log(root / "current" / "hamad.log", "hamad", HAMAD_COLUMNS, rows[half:], opened=t1)
    write_log(root / "current" / "notice.log", "notice", NOTICE_COLUMNS, notices, fmt="json")
    return root


def pipeline_log_dir(root: Path, conn_log: Path, learn: str = LEARN) -> Path:
    """Score the capture with the replay pipeline (learning first) and write the log dir."""
    from hamad_plugin.core.settings import load_settings, with_overrides
    from hamad_plugin.offline.replay import batches
    from hamad_plugin.scoring.pipeline import Pipeline

    s = with_overrides(load_settings(None), learning__period=learn)
    pipe = Pipeline.from_settings(s, learn=True)
    rows = []
    for batch in batches(iter(read_conn_log(conn_log)), 512):
        for rec, v in zip(batch, pipe.score(batch), strict=True):
            row = hamad_row_from_verdict(v.to_dict())
            row["proto"] = rec.proto
            rows.append(row)
    return write_log_dir(root, rows)


def _row_from_wire(values: list[Any]) -> dict[str, Any]:
    v = dict(zip(VERDICT_FIELDS, values, strict=True))
    return {
        "ts": v["ts"], "uid": v["uid"], "id.orig_h": v["orig_h"],
        "id.orig_p": v["orig_p"].number, "id.resp_h": v["resp_h"],
        "id.resp_p": v["resp_p"].number, "proto": v["resp_p"].proto, "score": v["score"],
        "threshold": v["threshold"], "anomalous": v["anomalous"],
        "top_features": list(v["top_features"]), "top_model": v["top_model"],
        "model_version": v["model_version"], "interim": v["interim"],
        "learning": v["learning"], "familiar": v["familiar"], "behaviour": v["behaviour"],
        "incident": v["incident"],
    }  # fmt: skip


class LiveRun:
    """A real ``hamad serve`` scoring a simulated capture sent by a fake Zeek.

    Use as a context manager; inside it :attr:`log_dir` holds the logs of what
    was scored and :attr:`metrics_url` is the live worker's endpoint.
    """

    def __init__(self, root: Path, conn_log: Path, batch: int = 200) -> None:
        self.root = root
        self.conn_log = conn_log
        self.batch = batch
        self.log_dir = root / "logs"
        self.state_dir = root / "state"
        self.metrics_port = free_port()
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        self.rows: list[dict[str, Any]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._fake = FakeZeekWS()
        self._proc: subprocess.Popen[str] | None = None
        self._stderr = tempfile.TemporaryFile(mode="w+")

    def _run(self, coro: Any, timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def __enter__(self) -> LiveRun:
        self._thread.start()
        port = self._run(self._fake.start())
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), str(REPO)]))
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "from hamad_plugin.cli import main; main()", "serve",
             "--transport", "websocket", "--port", str(port), "--heartbeat-interval", "0.5",
             "--state-dir", str(self.state_dir), "--learning-period", LEARN,
             "--metrics-port", str(self.metrics_port), "--batch-size", str(self.batch)],
            env=env, stderr=self._stderr, text=True,
        )  # fmt: skip
        try:
            self._score()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        write_log_dir(self.log_dir, self.rows)
        return self

    def _score(self) -> None:
        recs = records(self.conn_log)
        self._run(self._fake.wait_client(timeout=90), timeout=100)
        self._run(self._fake.next_event("HAMAD::hello", timeout=30))
        for i in range(0, len(recs), self.batch):
            part = recs[i : i + self.batch]
            self._run(self._fake.send(summaries_frame([summary_from_record(r) for r in part])))
            got = 0
            while got < len(part):
                _, args = self._run(self._fake.next_event("HAMAD::verdicts", timeout=60))
                self.rows += [_row_from_wire(v) for v in args[0]]
                got += len(args[0]) + int(args[1])

    def stop_worker(self) -> int:
        """SIGTERM the worker (it saves its learned state) and wait; returns its exit code."""
        assert self._proc is not None
        self._proc.terminate()
        return self._proc.wait(timeout=30)

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read()

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._run(self._fake.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._stderr.close()
