"""``hamad serve``: the worker loop's policies, its CLI and a real process under SIGTERM."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import free_port
from fake_zeek import (
    FakeZeekWS,
    bytes_scorer,
    make_flat_batch,
    no_verdict_uids,
    recorded_summary_frame,
    serve_process,
    summaries_frame,
)

from hamad_plugin.cli import cli
from hamad_plugin.cli.serve import serve_command
from hamad_plugin.core.records import ConnRecord
from hamad_plugin.core.settings import ServeSettings
from hamad_plugin.core.verdict import Verdict
from hamad_plugin.errors import ConfigError
from hamad_plugin.worker.logs import LogEvent, LogFormatter, kv
from hamad_plugin.worker.loop import Worker
from hamad_plugin.worker.scorer import PipelineScorer
from hamad_plugin.worker.state import Counters
from hamad_plugin.worker.transport.websocket import WebSocketTransport

# -- small policies -----------------------------------------------------------


def _scorer(tmp_path: Path, **learning: Any) -> PipelineScorer:
    """The production scorer with its state kept under ``tmp_path`` (never the user's)."""
    from hamad_plugin.core.settings import load_settings

    settings = load_settings(None)
    lr = replace(settings.learning, state_dir=str(tmp_path), **learning)
    return PipelineScorer(replace(settings, learning=lr))


def test_zeek_config_applies_validates_and_maps_zero_to_adaptive(tmp_path: Path) -> None:
    sc = _scorer(tmp_path)
    sc.on_config("threshold_override", "0.7")
    assert sc.pipe.threshold.override == 0.7
    sc.on_config("threshold_override", "0.0")
    assert sc.pipe.threshold.override is None
    sc.on_config("min_notice_score", "0.9")  # not the worker's business: ignored
    with pytest.raises(ConfigError, match="outside"):
        sc.on_config("threshold_override", "1.5")
    with pytest.raises(ConfigError, match="not a number"):
        sc.on_config("threshold_override", "high")
    assert sc.pipe.threshold.override is None
    sc.on_config("learning_period", "3600.000000")  # what Zeek's fmt("%f", interval) sends
    assert sc.pipe.learner is not None and sc.pipe.learner.period == 3600.0


def test_settings_validation_names_the_bad_value() -> None:
    def worker(**kw: Any) -> Worker:
        return Worker(lambda: WebSocketTransport(), bytes_scorer(), ServeSettings(**kw))

    with pytest.raises(ConfigError, match="serve.queue_size: must be >= 1, got 0"):
        worker(queue_size=0)
    with pytest.raises(ConfigError, match="backoff_max"):
        worker(backoff_initial=5, backoff_max=1)
    with pytest.raises(ConfigError, match="heartbeat_timeout"):
        worker(heartbeat_interval=12.0)


def test_kv_and_json_logs_are_parseable() -> None:
    line = kv(event="x", reason="two words", n=3, empty="")
    assert line == 'event=x reason="two words" n=3 empty=""'
    ev = LogEvent("x", reason='say "hi" = bye', n=3, empty="", name="a name")
    rec = logging.LogRecord("hamad.serve", logging.INFO, __file__, 1, ev, None, None)
    text = LogFormatter("kv").format(rec)
    assert text.endswith(' level=INFO logger=hamad.serve event=x reason="say \\"hi\\" = bye" '
                         'n=3 empty="" name="a name"')  # fmt: skip
    assert rec.getMessage() == str(ev) == text.partition(" logger=hamad.serve ")[2]
    out = json.loads(LogFormatter("json").format(rec))
    assert list(out) == ["ts", "level", "logger", "event", "reason", "n", "empty", "name"]
    assert out["event"] == "x" and out["reason"] == 'say "hi" = bye' and out["n"] == "3"
    assert out["level"] == "info" and out["empty"] == "" and out["name"] == "a name"
    plain = logging.LogRecord("hamad.x", logging.WARNING, __file__, 1, "%s up", ("a b",), None)
    assert json.loads(LogFormatter("json").format(plain))["msg"] == "a b up"
    assert LogFormatter("kv").format(plain).endswith("logger=hamad.x a b up")
    assert "received=0" in Counters().line()


# -- worker behaviour ---------------------------------------------------------


def test_a_failing_score_function_is_counted_reported_and_survived() -> None:
    calls = {"n": 0}
    good = bytes_scorer()

    def flaky(records: Sequence[ConnRecord]) -> list[Verdict]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("model exploded")
        return good(records)

    async def body() -> tuple[Counters, dict[str, str]]:
        fake = FakeZeekWS()
        port = await fake.start()
        worker = Worker(
            lambda: WebSocketTransport("127.0.0.1", port),
            flaky,
            ServeSettings(heartbeat_interval=0.2, recv_timeout=0.05, backoff_initial=0.1),
        )
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        await fake.wait_client()
        answers: dict[str, str] = {}
        await fake.send(summaries_frame(make_flat_batch(2, prefix="X")))
        while len(answers) < 2:
            name, args = await fake.events.get()
            answers.update(dict.fromkeys(no_verdict_uids(name, args), args[-1]))
        await fake.send(summaries_frame(make_flat_batch(1, prefix="Y")))
        await fake.next_event("HAMAD::verdicts")
        stop.set()
        c = await task
        await fake.stop()
        return c, answers

    c, answers = asyncio.run(asyncio.wait_for(body(), 15))
    assert set(answers) == {"X000000", "X000001"}
    assert all("model exploded" in m for m in answers.values())
    assert c.score_errors == 2 and c.verdicts_sent == 1
    assert c.received == c.scored + c.score_errors


def test_the_shipped_pipeline_scores_decoded_zeek_records(tmp_path: Path) -> None:
    """The CLI's default scorer (the replay Pipeline) accepts what the codec decodes."""
    sc = _scorer(tmp_path, period=0.0)
    health = sc.health()
    assert health["time_jumps_clamped"] == 0 and health["learning"] == "off"
    batch = WebSocketTransport.decode_frame(json.dumps(recorded_summary_frame()))
    assert batch.decode() == []  # type: ignore[union-attr]
    assert len(sc.score_interim(batch.records)) == len(batch.records)  # type: ignore[union-attr]
    verdicts = sc.score(batch.records)  # type: ignore[union-attr]
    assert [v.uid for v in verdicts] == [r.uid for r in batch.records]  # type: ignore[union-attr]
    assert all(0.0 <= v.score <= 1.0 and v.model_version == sc.model_version for v in verdicts)
    assert not any(v.learning for v in verdicts)
    sc.on_config("threshold_override", "0.9")
    assert sc.score(batch.records)[0].threshold == pytest.approx(0.9)  # type: ignore[union-attr]


# -- CLI ------------------------------------------------------------------------


def test_cli_rejects_unknown_config_keys(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("serve:\n  queue_sise: 3\n")
    res = CliRunner().invoke(cli, ["serve", "--config", str(cfg)])
    assert res.exit_code == 2
    assert "queue_sise" in res.output and "queue_size" in res.output


def test_cli_rejects_unknown_transport() -> None:
    res = CliRunner().invoke(cli, ["serve", "--transport", "carrier-pigeon"])
    assert res.exit_code == 2 and "carrier-pigeon" in res.output


def test_cli_gives_up_with_a_clear_error_when_zeek_is_absent(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"serve:\n  transport: websocket\n  port: {free_port()}\n")
    res = CliRunner().invoke(
        cli,
        ["serve", "--config", str(cfg), "--max-connect-failures", "1",
         "--score-fn", "fake_zeek:bytes_scorer"],
    )  # fmt: skip
    assert res.exit_code == 1
    assert "gave up after 1" in res.output and "HAMAD::listen_port" in res.output


def test_serve_process_scores_then_exits_cleanly_on_sigterm() -> None:
    """A real `serve` process: hello, verdicts, SIGTERM -> exit 0 with counters logged."""

    async def body() -> tuple[int, str, int]:
        fake = FakeZeekWS()
        port = await fake.start()
        proc = await serve_process(
            port, "--score-fn", "fake_zeek:bytes_scorer", "--heartbeat-interval", "0.2",
            "--log-format", "json",
        )  # fmt: skip
        try:
            await fake.wait_client(timeout=15)
            name, args = await fake.next_event("HAMAD::hello", timeout=10)
            assert args[2] == "test-bytes-1"
            await fake.send(summaries_frame(make_flat_batch(3, prefix="P")))
            _, vargs = await fake.next_event("HAMAD::verdicts", timeout=10)
            n = len(vargs[0])
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 15)
        finally:
            if proc.returncode is None:
                proc.kill()
            await fake.stop()
        return proc.returncode or 0, err.decode(), n

    rc, err, n = asyncio.run(asyncio.wait_for(body(), 40))
    assert rc == 0, err
    assert n == 3
    lines = [json.loads(x) for x in err.splitlines() if x.startswith("{")]
    stopped = [x for x in lines if x.get("event") == "stopped"]
    assert stopped and stopped[0]["received"] == "3" and stopped[0]["verdicts_sent"] == "3"
    assert any(x.get("event") == "session_started" for x in lines)


def test_serve_command_is_a_click_command_named_serve() -> None:
    import click

    assert isinstance(serve_command, click.Command) and serve_command.name == "serve"
    opts = {o for p in serve_command.params for o in getattr(p, "opts", [])}
    for flag in ("--transport", "--host", "--port", "--topic-prefix", "--model", "--config",
                 "--queue-size", "--log-level"):  # fmt: skip
        assert flag in opts
