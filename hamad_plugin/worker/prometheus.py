"""Prometheus metrics of ``hamad serve`` (``--metrics-port``; off by default).

What a scrape of ``http://HOST:PORT/metrics`` returns (names follow Prometheus
conventions: ``_total`` for counters, base units, seconds):

* **counters**, read from the worker's :class:`~hamad_plugin.worker.state.Counters` at
  scrape time (:data:`COUNTERS` lists every one with its meaning), plus the
  scoring side's time-jump and learning counters;
* **gauges**: ``hamad_queue_depth`` (summaries waiting to be scored),
  ``hamad_queue_capacity``, ``hamad_connected`` (1 while a session with Zeek is
  up), ``hamad_threshold`` (decision threshold in force),
  ``hamad_learning_phase{phase}`` (1 for the current phase: learning, adapting
  or off), ``hamad_learning_services``; ``hamad_model_info`` carries the model
  version, hamad version, transport and worker name as labels;
* **histograms**: ``hamad_verdict_score`` (fused score of every verdict),
  ``hamad_scoring_batch_duration_seconds`` (one scoring call),
  ``hamad_verdict_latency_seconds`` (end of the connection, ``ts + duration``,
  to its verdict being sent; wall clock, so only meaningful on live traffic:
  on a ``zeek -r`` run it measures the age of the trace) and
  ``hamad_worker_latency_seconds`` (summary received to verdict sent).

Why a module of its own, and what it may see: the worker's side comes from
:meth:`Worker.state() <hamad_plugin.worker.loop.Worker.state>`, a read-only
:class:`~hamad_plugin.worker.state.WorkerState` snapshot taken at scrape time,
so this module knows nothing of the loop (it imports :mod:`.state`, never
:mod:`.loop`). The scoring side's values (threshold, learning state) are
copied by the scorer task between batches (:meth:`WorkerMetrics.refresh`),
never read from the HTTP thread while a batch is being scored. Histograms are kept as numpy
bucket counts, so a batch of 1,024 verdicts costs one ``searchsorted``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from .. import __version__
from ..errors import HamadError
from .state import WorkerState

if TYPE_CHECKING:
    from ..core.verdict import Verdict

#: Returns a fresh snapshot of the worker (``Worker.state``).
StateFn = Callable[[], WorkerState]

#: ``Counters`` field -> (metric name without ``_total``, help text). Every field is exported.
COUNTERS: dict[str, tuple[str, str]] = {
    "received": ("hamad_summaries_received", "Connection summaries received from Zeek."),
    "scored": ("hamad_summaries_scored", "Summaries scored (a verdict was made)."),
    "rejected": ("hamad_summaries_rejected", "Summaries rejected as malformed (told to Zeek)."),
    "shed": ("hamad_summaries_shed", "Summaries shed, the queue being full (told to Zeek)."),
    "score_errors": ("hamad_scoring_errors", "Summaries whose scoring failed (told to Zeek)."),
    "dropped_at_exit": (
        "hamad_summaries_dropped_at_exit",
        "Summaries still queued when the worker stopped.",
    ),
    "verdicts_sent": ("hamad_verdicts_sent", "Verdicts sent to Zeek."),
    "verdicts_withheld": (
        "hamad_verdicts_withheld",
        "Verdicts only counted to Zeek: not anomalous and below HAMAD::log_min_score.",
    ),
    "verdicts_lost": ("hamad_verdicts_lost", "Verdicts not sent: the connection was lost."),
    "errors_unsent": (
        "hamad_worker_errors_unsent",
        "Summaries whose HAMAD::worker_error report could not be sent.",
    ),
    "bad_events": ("hamad_bad_events", "Frames or events from Zeek that could not be decoded."),
    "rejected_by_zeek": ("hamad_rejected_by_zeek", "Messages Zeek refused."),
    "reconnects": ("hamad_reconnects", "Sessions with Zeek after the first one."),
    "connect_failures": ("hamad_connect_failures", "Failed attempts to connect to Zeek."),
    "config_changes": ("hamad_config_changes", "HAMAD::config_changed events received."),
}

#: Scoring-side values (``PipelineScorer.health()`` keys) exported as counters.
HEALTH_COUNTERS: dict[str, tuple[str, str]] = {
    "time_jumps_clamped": (
        "hamad_time_jumps_clamped",
        "Connections more than an hour after the event clock, scored at the clock.",
    ),
    "time_jumps_accepted": (
        "hamad_time_jumps_accepted",
        "Forward time jumps confirmed by the connections after them.",
    ),
    "learning_learned": ("hamad_learning_learned", "Connections the site learner learned."),
    "learning_kept_out": (
        "hamad_learning_kept_out",
        "Connections kept out of learning: RF and XGBoost both scored them >= learning.guard.",
    ),
    "learning_familiar": (
        "hamad_learning_familiar",
        "Connections not flagged because they belong to a familiar service of the site.",
    ),
}

#: Phases of the site learner (``hamad_learning_phase{phase}``).
PHASES: tuple[str, ...] = ("learning", "adapting", "off")

SCORE_BUCKETS: tuple[float, ...] = (
    0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0,
)  # fmt: skip
BATCH_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip
#: Connection end to verdict: Zeek reports a connection after its inactivity timeout
#: (TCP 5 min by default), so the buckets reach past that.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
)  # fmt: skip
WORKER_LATENCY_BUCKETS: tuple[float, ...] = (
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


class BulkHistogram:
    """A Prometheus histogram filled a numpy array at a time (thread-safe).

    Parameters
    ----------
    name, documentation : str
        Metric name (with its unit suffix) and help text.
    buckets : sequence of float
        Upper bounds, increasing; ``+Inf`` is added.
    """

    def __init__(self, name: str, documentation: str, buckets: Sequence[float]) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = np.asarray(buckets, dtype=np.float64)
        self._counts = np.zeros(len(self.bounds) + 1, dtype=np.int64)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, values: Iterable[float] | np.ndarray) -> None:
        """Add observations (Prometheus buckets are ``le``: a value on a bound counts in it)."""
        x = np.asarray(values, dtype=np.float64).ravel()
        if x.size == 0:
            return
        idx = np.searchsorted(self.bounds, x, side="left")
        add = np.bincount(idx, minlength=len(self._counts))
        with self._lock:
            self._counts += add
            self._sum += float(x.sum())

    def family(self) -> HistogramMetricFamily:
        with self._lock:
            cum = np.cumsum(self._counts)
            total = self._sum
        buckets = [(_le(b), float(c)) for b, c in zip(self.bounds, cum[:-1], strict=True)]
        buckets.append(("+Inf", float(cum[-1])))
        return HistogramMetricFamily(
            self.name, self.documentation, buckets=buckets, sum_value=total
        )


def _le(bound: float) -> str:
    return repr(float(bound))


class WorkerMetrics:
    """The metrics of one ``hamad serve`` process and their HTTP endpoint.

    Create it, pass it to :class:`~hamad_plugin.worker.loop.Worker` (which calls
    :meth:`attach` with its ``state`` method), then :meth:`start` the endpoint.

    Parameters
    ----------
    health : callable, optional
        The scoring side's values (``PipelineScorer.health``), copied between
        batches by :meth:`refresh`.
    transport : str
        Shown as a label of ``hamad_model_info``.
    """

    def __init__(
        self, health: Callable[[], dict[str, Any]] | None = None, transport: str = ""
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._health = health
        self.transport = transport
        self._state: StateFn | None = None
        self._snapshot: dict[str, Any] = {}
        self._snapshot_at = float("-inf")
        self.score = BulkHistogram(
            "hamad_verdict_score", "Fused anomaly score of each verdict.", SCORE_BUCKETS
        )
        self.batch_seconds = BulkHistogram(
            "hamad_scoring_batch_duration_seconds",
            "Time to score one batch (features, model, threshold, learner).",
            BATCH_BUCKETS,
        )
        self.verdict_latency = BulkHistogram(
            "hamad_verdict_latency_seconds",
            "Connection end (ts + duration) to its verdict being sent, wall clock; "
            "includes Zeek's inactivity timeout and batching. Only meaningful on live traffic.",
            LATENCY_BUCKETS,
        )
        self.worker_latency = BulkHistogram(
            "hamad_worker_latency_seconds",
            "Summary received by the worker to its verdict being sent.",
            WORKER_LATENCY_BUCKETS,
        )
        self.registry.register(_Collector(self))
        self._server: Any = None

    # -- wiring -------------------------------------------------------------

    def attach(self, state: StateFn) -> None:
        """Read counters, queue and connection state from these snapshots at scrape time."""
        self._state = state

    def start(self, host: str, port: int) -> int:
        """Serve ``/metrics`` on ``host:port`` from a daemon thread; returns the port."""
        try:
            server, _ = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise HamadError(
                f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}; "
                "pick another --metrics-port (or serve.metrics_port), or 0 to turn metrics off"
            ) from exc
        self._server = server
        return int(server.server_port)

    def stop(self) -> None:
        """Close the endpoint (tests; the process exit closes it otherwise)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- called by the worker (its scorer task) ------------------------------

    def refresh(self, force: bool = False) -> None:
        """Copy the scoring side's values; at most once a second unless ``force``."""
        now = time.monotonic()
        if self._health is None or (not force and now - self._snapshot_at < 1.0):
            return
        self._snapshot_at = now
        self._snapshot = dict(self._health())

    def batch_scored(self, verdicts: Sequence[Verdict], seconds: float) -> None:
        """One scoring call finished: its duration and its verdicts' scores."""
        self.batch_seconds.observe([seconds])
        self.score.observe([v.score for v in verdicts])

    def verdicts_sent(self, ends: Sequence[float], received: Sequence[float]) -> None:
        """A batch's verdicts went to Zeek.

        ``ends`` holds the end (``ts + duration``, epoch seconds) of each final
        summary's connection, ``received`` the ``time.monotonic()`` at which each
        summary of the batch arrived (interim ones included).
        """
        if ends:
            self.verdict_latency.observe(np.maximum(time.time() - np.asarray(ends), 0.0))
        if received:
            self.worker_latency.observe(time.monotonic() - np.asarray(received))

    # -- collection (HTTP thread) -------------------------------------------

    def collect(self) -> Iterable[Metric]:
        w = self._state() if self._state is not None else None
        snap = self._snapshot
        if w is not None:
            counts = w.counters.as_dict()
            for field_name, (name, doc) in COUNTERS.items():
                yield _counter(name, doc, counts[field_name])
        for key, (name, doc) in HEALTH_COUNTERS.items():
            if key in snap:
                yield _counter(name, doc, snap[key])
        yield _gauge("hamad_queue_depth", "Summaries waiting to be scored.",
                     w.queue_depth if w is not None else 0)  # fmt: skip
        if w is not None:
            yield _gauge("hamad_queue_capacity", "Queue size beyond which summaries are shed.",
                         w.queue_capacity)  # fmt: skip
            yield _gauge("hamad_connected", "1 while a session with Zeek is up, else 0.",
                         1 if w.connected else 0)  # fmt: skip
        if "threshold" in snap:
            yield _gauge("hamad_threshold", "Decision threshold in force.", snap["threshold"])
        if "learning" in snap:
            phase = GaugeMetricFamily(
                "hamad_learning_phase",
                "Site learner phase: 1 for the current one (learning, adapting, off).",
                labels=["phase"],
            )
            for p in PHASES:
                phase.add_metric([p], 1.0 if snap["learning"] == p else 0.0)
            yield phase
        if "learning_services" in snap:
            yield _gauge("hamad_learning_services", "Services of the site the learner tracks.",
                         snap["learning_services"])  # fmt: skip
        info = InfoMetricFamily("hamad_model", "Model and worker identity.")
        info.add_metric([], {
            "model_version": w.model_version if w is not None else "",
            "hamad_version": __version__,
            "transport": self.transport,
            "worker": w.worker_name if w is not None else "",
        })  # fmt: skip
        yield info
        for h in (self.score, self.batch_seconds, self.verdict_latency, self.worker_latency):
            yield h.family()


class _Collector(Collector):
    def __init__(self, metrics: WorkerMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self._metrics.collect()


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=float(value))


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=float(value))
