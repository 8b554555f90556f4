"""``hamad serve``: the click command that wires settings, scorer and worker together.

Why a module of its own: the loop (:mod:`hamad_plugin.worker.loop`) and the
scorer (:mod:`hamad_plugin.worker.scorer`) know nothing of flags; this module
turns flags and the YAML settings into them. The defaults shown in ``--help``
are read from the settings dataclasses (:class:`~hamad_plugin.core.settings.ServeSettings`,
:class:`~hamad_plugin.core.settings.LearningSettings`), the one place they are
set, so the help cannot drift from what the worker does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import click

from ..core.settings import Settings
from ..errors import ConfigError
from ..worker.logs import LOG_FORMATS, SERVE_LOGGER, LogEvent, setup_logging
from ..worker.loop import ConfigFn, HealthFn, ScoreFn, Worker, run_worker
from ..worker.transport import TRANSPORTS, Transport, make_transport

log = logging.getLogger(SERVE_LOGGER)

_DEFAULTS = Settings()
_SERVE = _DEFAULTS.serve
_LEARN = _DEFAULTS.learning


def _shown(value: object, unset: str | None = None) -> str:
    """A default as ``--help`` shows it: ``10000``, ``30`` (not ``30.0``), ``unset`` if unset."""
    if unset is not None and value in ("", 0, None):
        return unset
    return f"{value:g}" if isinstance(value, float) else str(value)


#: Option help texts; every default shown in brackets is read from the settings.
_HELP: dict[str, str] = {
    "transport": "How to reach Zeek: auto asks Zeek which of websocket and broker it listens "
    f"with (HAMAD::active_transport) [{_shown(_SERVE.transport)}].",
    "host": f"Address Zeek listens on (HAMAD::listen_addr) [{_shown(_SERVE.host)}].",
    "topic_prefix": f"Must match HAMAD::topic_prefix [{_shown(_SERVE.topic_prefix)}].",
    "model": f"Model directory [{_shown(_DEFAULTS.model, 'the shipped model')}].",
    "queue_size": f"Summaries waiting to be scored before shedding [{_shown(_SERVE.queue_size)}].",
    "max_backoff": "Longest wait between reconnect attempts, seconds "
    f"[{_shown(_SERVE.backoff_max)}].",
    "max_connect_failures": "Exit after this many failed connects in a row (0 = never) "
    f"[{_shown(_SERVE.max_connect_failures)}].",
    "worker_name": f"Name sent in HAMAD::hello [{_shown(_SERVE.worker_name, 'hamad@host:pid')}].",
    "learning_period": "Learn the site first: 90s, 30min, 6h, 1d (0 = off) "
    f"[{_shown(_LEARN.period)}; Zeek's HAMAD::learning_period wins once Zeek sends it].",
    "state_dir": "Where the learned state is kept "
    f"[{_shown(_LEARN.state_dir, '~/.local/state/hamad')}].",
    "metrics_port": "Serve Prometheus metrics on this port (0 = off) "
    f"[{_shown(_SERVE.metrics_port, 'off')}].",
    "metrics_host": f"Address of the metrics endpoint [{_shown(_SERVE.metrics_host)}].",
}


@dataclass(frozen=True)
class _Scoring:
    """What the worker scores with, and the scoring side's hooks (none for ``--score-fn``)."""

    score: ScoreFn
    model_version: str
    on_config: ConfigFn | None = None
    interim: ScoreFn | None = None
    health: HealthFn | None = None
    on_stop: Callable[[], None] | None = None


def _scoring(s: Settings, score_fn: str | None) -> _Scoring:
    """The production PipelineScorer, or the ``--score-fn`` factory (tests)."""
    if score_fn:
        fn, model_version = _import_score_factory(score_fn, s.model)
        return _Scoring(fn, model_version)
    from ..worker.scorer import PipelineScorer

    ps = PipelineScorer(s)
    return _Scoring(ps.score, ps.model_version, ps.on_config, ps.score_interim, ps.health, ps.save)


def _import_score_factory(spec: str, model: str | None) -> tuple[ScoreFn, str]:
    """``module:attr`` -> a factory called as ``attr(model)`` returning a ScoreFn."""
    import importlib

    mod_name, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(mod_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"--score-fn {spec!r}: cannot import it ({exc})") from exc
    fn = factory(model)
    return fn, str(getattr(fn, "model_version", spec))


def _serve(s: Settings, sc: _Scoring) -> None:
    """Build the transport factory, the metrics and the worker; run until stopped."""
    sv = s.serve

    def factory() -> Transport:
        return make_transport(sv.transport, sv.host, sv.port, sv.topic_prefix)

    factory()  # build one now so a missing dependency fails before serving
    log.info(LogEvent("starting", transport=sv.transport, host=sv.host, port=sv.port,
                      model_version=sc.model_version))  # fmt: skip
    metrics = None
    if sv.metrics_port:
        from ..worker.prometheus import WorkerMetrics

        metrics = WorkerMetrics(sc.health, transport=sv.transport)
    worker = Worker(factory, sc.score, sv, sc.on_config, sc.interim, batch_size=s.batch_size,
                    model_version=sc.model_version, health=sc.health, on_stop=sc.on_stop,
                    metrics=metrics)  # fmt: skip
    if metrics is not None:
        metrics.refresh(force=True)
        bound = metrics.start(sv.metrics_host, sv.metrics_port)
        log.info(LogEvent("metrics_listening",
                          url=f"http://{sv.metrics_host}:{bound}/metrics"))  # fmt: skip
    started = time.monotonic()
    counters = run_worker(worker)
    log.info(LogEvent("exit", uptime=f"{time.monotonic() - started:.1f}s"))
    click.echo(counters.line(), err=True)


@click.command("serve")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
              help="YAML settings (see packaging/hamad.yaml); flags win.")  # fmt: skip
@click.option("--transport", type=click.Choice(TRANSPORTS), help=_HELP["transport"])
@click.option("--host", help=_HELP["host"])
@click.option("--port", type=click.IntRange(1, 65535), help="HAMAD::listen_port.")
@click.option("--topic-prefix", help=_HELP["topic_prefix"])
@click.option("--model", type=click.Path(exists=True, file_okay=False), help=_HELP["model"])
@click.option("--threshold", type=click.FloatRange(0.0, 1.0, min_open=True),
              help="Fixed decision threshold instead of the model's adaptive one.")  # fmt: skip
@click.option("--queue-size", type=click.IntRange(min=1), help=_HELP["queue_size"])
@click.option("--batch-size", type=click.IntRange(min=1), help="Records per scoring call.")
@click.option("--heartbeat-interval", type=click.FloatRange(min=0.05), help="Seconds.")
@click.option("--max-backoff", type=click.FloatRange(min=0.1), help=_HELP["max_backoff"])
@click.option("--max-connect-failures", type=click.IntRange(min=0),
              help=_HELP["max_connect_failures"])  # fmt: skip
@click.option("--worker-name", help=_HELP["worker_name"])
@click.option("--learning-period", metavar="DURATION", help=_HELP["learning_period"])
@click.option("--state-dir", type=click.Path(file_okay=False), help=_HELP["state_dir"])
@click.option("--log-level", default="INFO", show_default=True, type=click.Choice(
              ["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))  # fmt: skip
@click.option("--log-format", type=click.Choice(LOG_FORMATS), default="kv", show_default=True)
@click.option("--metrics-port", type=click.IntRange(0, 65535), help=_HELP["metrics_port"])
@click.option("--metrics-host", help=_HELP["metrics_host"])
@click.option("--score-fn", hidden=True, help="MODULE:FACTORY building a ScoreFn (testing).")
def serve_command(
    config_path: str | None,
    transport: str | None,
    host: str | None,
    port: int | None,
    topic_prefix: str | None,
    model: str | None,
    threshold: float | None,
    queue_size: int | None,
    batch_size: int | None,
    heartbeat_interval: float | None,
    max_backoff: float | None,
    max_connect_failures: int | None,
    worker_name: str | None,
    learning_period: str | None,
    state_dir: str | None,
    log_level: str,
    log_format: str,
    metrics_port: int | None,
    metrics_host: str | None,
    score_fn: str | None,
) -> None:
    """Score Zeek's connection summaries live and send verdicts back.

    Start Zeek with the HAMAD package loaded, then run this on the same host
    (or point --host at Zeek). Reconnects with backoff when Zeek restarts,
    stops cleanly on SIGTERM/SIGINT and logs its counters (received, scored,
    shed, bad_events, reconnects) periodically and at exit.
    """
    from ..core.settings import load_settings, with_overrides

    s = with_overrides(
        load_settings(config_path),
        model=model,
        batch_size=batch_size,
        threshold__override=threshold,
        serve__transport=transport,
        serve__host=host,
        serve__port=port,
        serve__topic_prefix=topic_prefix,
        serve__queue_size=queue_size,
        serve__heartbeat_interval=heartbeat_interval,
        serve__backoff_max=max_backoff,
        serve__max_connect_failures=max_connect_failures,
        serve__worker_name=worker_name,
        serve__metrics_port=metrics_port,
        serve__metrics_host=metrics_host,
        learning__period=learning_period,
        learning__state_dir=state_dir,
    )
    setup_logging(log_level, log_format)
    _serve(s, _scoring(s, score_fn))
