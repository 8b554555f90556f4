#!/usr/bin/env python3
"""What the worker's WebSocket transport costs per connection, beside scoring it.

Decodes a ``HAMAD::conn_summaries`` frame of ``--batch`` summaries (built the way
Zeek 8.2.2 was recorded writing them, tests/fake_zeek.py), encodes and "sends" the
verdicts for them (to a socket stand-in), and scores the batch, each the best of
five rounds, in CPU microseconds per connection:

    python3 tools/wire_cost.py                      # a simulated capture
    python3 tools/wire_cost.py --data conn.log      # your own connections
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hamad_plugin.offline.ingest import read_conn_log  # noqa: E402
from hamad_plugin.scoring.pipeline import Pipeline  # noqa: E402
from hamad_plugin.worker.transport.websocket import WebSocketTransport  # noqa: E402
from tests.fake_zeek import summaries_frame, summary_from_record  # noqa: E402


class _Sink:
    async def send(self, frame: str) -> None:
        self.last = frame


class _Capture(WebSocketTransport):
    """The real transport with its socket replaced by a sink."""

    def __init__(self) -> None:
        super().__init__()
        self.sink = _Sink()

    def _require(self) -> Any:
        return self.sink


def _best(fn: Callable[[], Any], per: int, rounds: int = 5, repeat: int = 20) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        for _ in range(repeat):
            fn()
        best = min(best, (time.process_time() - t0) / (repeat * per))
    return best * 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="conn log to take connections from (default: simulated)")
    ap.add_argument("--batch", type=int, default=100, help="summaries per frame (Zeek's)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as td:
        path = args.data
        if path is None:
            from hamad_plugin.research.simulate import make_config, simulate

            path = str(Path(td) / "sim.log")
            with open(path, "wb") as fh:
                simulate(make_config(connections=5000, seed=0, hosts=64, duration="1h"), fh)
        recs = list(read_conn_log(path))[: args.batch]
    n = len(recs)
    raw = json.dumps(summaries_frame([summary_from_record(r) for r in recs]))
    pipe = Pipeline.load(None)
    verdicts = pipe.score(recs)
    ws = _Capture()
    loop = asyncio.new_event_loop()
    decode = _best(lambda: WebSocketTransport.decode_frame(raw).decode(10**6), n)
    encode = _best(lambda: loop.run_until_complete(ws.send_verdicts(verdicts, 0)), n)
    score = _best(lambda: pipe.score(recs), n)
    print(f"{n} connections per frame ({len(raw):,} bytes of summaries, "
          f"{len(ws.sink.last):,} of verdicts); CPU us per connection, best of 5:")  # fmt: skip
    print(f"  decode summaries  {decode:7.1f}")
    print(f"  encode verdicts   {encode:7.1f}")
    print(f"  score (no learning, batch of {n})  {score:7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
