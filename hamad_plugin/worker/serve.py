"""``hamad serve``: the live worker between Zeek and the scoring pipeline.

Data path: transport -> decode -> bounded queue -> ScoreFn -> verdicts back to
Zeek. The design goals, in order:

* **Never lose a summary silently.** Every decoded summary ends up scored
  (and its verdict sent or counted as lost), shed under overload, or rejected
  as malformed; the last two are also reported to Zeek with
  ``HAMAD::worker_error`` so its counters agree with ours. The counters are
  logged periodically and at exit.
* **Never stop for one bad message.** Decoding problems are counted and
  logged; only a lost connection ends a session, and the worker reconnects
  with exponential backoff.
* **Keep Zeek informed.** ``HAMAD::hello`` on every connect (Zeek answers
  with its worker-relevant options as ``HAMAD::config_changed``) and a
  periodic ``HAMAD::heartbeat``, which is also the clock a ``zeek -r`` run
  uses to bound its wait for the worker.

Scoring is a narrow callable (:data:`ScoreFn`) so the loop can be tested with
a tiny deterministic function; the CLI wires in ``Pipeline.load(...).score``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import click

from .. import __version__
from ..core.records import ConnRecord
from ..core.settings import ServeSettings, Settings, validate
from ..core.verdict import Verdict
from ..errors import ConfigError, HamadError
from .transport import TRANSPORTS, make_transport
from .transport.base import (
    BadMessage,
    ConfigChange,
    SummaryBatch,
    Transport,
    TransportError,
)

if TYPE_CHECKING:
    from .prometheus import WorkerMetrics

log = logging.getLogger("hamad.serve")

#: Scores a batch of connections; one verdict per record, same order not required.
ScoreFn = Callable[[Sequence[ConnRecord]], list[Verdict]]
#: Receives ``(option name, value)`` from ``HAMAD::config_changed``.
ConfigFn = Callable[[str, str], None]
#: Builds a fresh, unconnected transport for each connection attempt.
TransportFactory = Callable[[], Transport]
#: Counters of the scoring side, logged with the worker's own.
HealthFn = Callable[[], dict[str, Any]]


def kv(**fields: Any) -> str:
    """Render ``key=value`` pairs for log lines; strings with spaces are quoted."""
    parts = []
    for k, v in fields.items():
        s = str(v)
        if s == "" or any(c in s for c in ' \t"='):
            s = json.dumps(s)
        parts.append(f"{k}={s}")
    return " ".join(parts)


@dataclass(slots=True)
class Counters:
    """What happened to every summary; logged periodically and at exit.

    Every summary received ends in exactly one of the other counts:
    ``received == rejected + shed + score_errors + dropped_at_exit + scored`` and
    ``scored == verdicts_sent + verdicts_withheld + verdicts_lost``. Rejected, shed
    and failed summaries are reported to Zeek with ``HAMAD::worker_error``;
    ``errors_unsent`` counts those reports that could not be sent (no connection).
    """

    received: int = 0
    scored: int = 0
    rejected: int = 0
    shed: int = 0
    bad_events: int = 0
    rejected_by_zeek: int = 0
    score_errors: int = 0
    verdicts_sent: int = 0
    #: Scored, but only counted to Zeek: not anomalous and below HAMAD::log_min_score.
    verdicts_withheld: int = 0
    verdicts_lost: int = 0
    errors_unsent: int = 0
    dropped_at_exit: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    config_changes: int = 0

    def line(self) -> str:
        """The counters as one key=value string."""
        return kv(**asdict(self))

    def unaccounted(self) -> int:
        """Summaries received but in none of the end states (0 when nothing is in flight)."""
        ended = self.rejected + self.shed + self.score_errors + self.dropped_at_exit
        sent = self.verdicts_sent + self.verdicts_withheld + self.verdicts_lost
        return (self.received - ended - self.scored) + (self.scored - sent)


@dataclass(slots=True)
class _Item:
    record: ConnRecord
    interim: bool
    #: ``time.monotonic()`` when the summary arrived (for the metrics' latency).
    received: float = 0.0


class Worker:
    """One worker process's loop; see the module docstring."""

    def __init__(
        self,
        transport_factory: TransportFactory,
        score_fn: ScoreFn,
        settings: ServeSettings | None = None,
        on_config: ConfigFn | None = None,
        interim_score_fn: ScoreFn | None = None,
        *,
        batch_size: int = Settings.batch_size,
        model_version: str = "",
        health: HealthFn | None = None,
        on_stop: Callable[[], None] | None = None,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self.settings = settings or ServeSettings()
        validate(Settings(serve=self.settings, batch_size=batch_size), "serve settings")
        self.batch_size = batch_size
        self.model_version = model_version
        #: Counters of the scoring side (time jumps, ...) for the stats log lines.
        self._health = health
        #: Called once after the drain at shutdown (the site learner saves its state).
        self._on_stop = on_stop
        #: Prometheus metrics (``--metrics-port``); None when they are off.
        self._metrics = metrics
        if metrics is not None:
            metrics.attach(self)
        self.worker_name = (
            self.settings.worker_name or f"hamad@{socket.gethostname()}:{os.getpid()}"
        )
        self.counters = Counters()
        self._factory = transport_factory
        self._score = score_fn
        #: Scores interim summaries of still-open connections without updating state.
        self._score_interim = interim_score_fn or score_fn
        self._on_config = on_config
        self._transport: Transport | None = None
        self._queue: asyncio.Queue[_Item] | None = None
        #: Summaries the scorer has taken from the queue and not yet accounted for.
        self._in_flight = 0
        #: worker_error reports waiting to be sent: reason -> uids.
        self._reports: dict[str, list[str]] = {}
        self._reported = 0
        self._flush_soon = asyncio.Event()
        self._hb_seq = 0
        #: Verdicts below this score that are not anomalous have no effect in Zeek
        #: (HAMAD::log_min_score): they are counted to Zeek instead of sent.
        self._min_sent_score = 0.0
        #: Set once the first connection is up (tests and callers can wait on it).
        self.connected = asyncio.Event()

    # -- public -------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> Counters:
        """Serve until ``stop`` is set (or the connect-failure budget is spent)."""
        stop = stop or asyncio.Event()
        self._queue = asyncio.Queue(maxsize=self.settings.queue_size)
        scorer = asyncio.create_task(self._scorer(), name="hamad-scorer")
        stats = asyncio.create_task(self._stats(), name="hamad-stats")
        reporter = asyncio.create_task(self._reporter(), name="hamad-reporter")
        transport: Transport | None = None
        try:
            transport = await self._connection_loop(stop)
        finally:
            # Still connected after a stop request: the queued summaries are scored
            # and their verdicts sent over this connection before it is closed.
            self._transport = transport
            await self._drain(scorer)
            await _cancel(reporter)
            await self._flush_reports()
            stats.cancel()
            self._transport = None
            if transport is not None:
                await transport.close()
            if self._on_stop is not None:
                self._on_stop()
            c = self.counters
            balance = "ok" if c.unaccounted() == 0 else f"off_by_{c.unaccounted()}"
            log.info("%s", kv(event="stopped", accounting=balance) + " " + self._stats_line())
        return self.counters

    # -- connection ---------------------------------------------------------

    async def _connection_loop(self, stop: asyncio.Event) -> Transport | None:
        """Connect, serve, reconnect; returns the transport still open at stop (if any)."""
        s = self.settings
        backoff = s.backoff_initial
        failures = 0
        sessions = 0
        while not stop.is_set():
            _raise_if_cancelled()
            transport = self._factory()
            try:
                await transport.connect()
            except TransportError as exc:
                failures += 1
                self.counters.connect_failures += 1
                log.warning("%s", kv(event="connect_failed", attempt=failures,
                                     retry_in=f"{backoff:.2f}s", error=str(exc)))  # fmt: skip
                await transport.close()
                if s.max_connect_failures and failures >= s.max_connect_failures:
                    raise TransportError(
                        f"gave up after {failures} failed connection attempts: {exc}"
                    ) from exc
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, s.backoff_max)
                continue
            failures = 0
            backoff = s.backoff_initial
            if sessions:
                self.counters.reconnects += 1
            sessions += 1
            if await self._session(transport, stop):
                return transport  # stop requested; keep it open to send the last verdicts
            await transport.close()
            log.warning("%s", kv(event="reconnecting", retry_in=f"{backoff:.2f}s"))
            await _sleep_or_stop(stop, backoff)
        return None

    async def _session(self, transport: Transport, stop: asyncio.Event) -> bool:
        """Serve one connection; True if it ended because of ``stop``."""
        s = self.settings
        try:
            await transport.send_hello(self.worker_name, __version__, self.model_version)
        except TransportError as exc:
            log.warning("%s", kv(event="hello_failed", error=str(exc)))
            return False
        self._transport = transport
        self.connected.set()
        log.info("%s", kv(event="session_started", transport=transport.name,
                          worker=self.worker_name, model_version=self.model_version))  # fmt: skip
        heartbeat = asyncio.create_task(self._heartbeat(transport), name="hamad-heartbeat")
        try:
            while not stop.is_set():
                _raise_if_cancelled()
                if heartbeat.done():
                    log.warning("%s", kv(event="connection_lost", reason="heartbeat failed"))
                    return False
                msg = await transport.recv(s.recv_timeout)
                if msg is not None:
                    await self._handle(msg)
            return True
        except TransportError as exc:
            log.warning("%s", kv(event="connection_lost", reason=str(exc)))
            return False
        finally:
            # Reports gathered for this Zeek go to it (or are counted as unsent), not
            # to the next one.
            await self._flush_reports()
            self._transport = None
            await _cancel(heartbeat)

    async def _heartbeat(self, transport: Transport) -> None:
        c = self.counters
        try:
            while True:
                self._hb_seq += 1
                await transport.send_heartbeat(
                    self.worker_name, self._hb_seq, c.received, c.scored, c.shed
                )
                await asyncio.sleep(self.settings.heartbeat_interval)
        except TransportError as exc:
            log.warning("%s", kv(event="heartbeat_failed", error=str(exc)))

    # -- messages -----------------------------------------------------------

    async def _handle(self, msg: SummaryBatch | ConfigChange | BadMessage) -> None:
        if isinstance(msg, BadMessage):
            if msg.from_peer:
                self.counters.rejected_by_zeek += 1
            else:
                self.counters.bad_events += 1
            log.error("%s", kv(event="bad_message", from_zeek=msg.from_peer, reason=msg.reason))
            return
        if isinstance(msg, ConfigChange):
            self._apply_config(msg)
            return
        c = self.counters
        q = self._queue
        assert q is not None
        c.received += len(msg)
        # Decode only what the queue has room for: under overload the rest is shed
        # by uid without paying for its decoding, so reading keeps pace with Zeek.
        shed = msg.decode(q.maxsize - q.qsize())
        by_reason: dict[str, list[str]] = {}
        for uid, reason in msg.rejected:
            by_reason.setdefault(reason, []).append(uid)
        for reason, uids in by_reason.items():
            c.rejected += len(uids)
            log.error("%s", kv(event="bad_summaries", count=len(uids),
                               uids=",".join(uids[:3]), reason=reason))  # fmt: skip
            self._report(uids, f"rejected: {reason}")
        now = time.monotonic()
        for rec, interim in zip(msg.records, msg.interim, strict=True):
            q.put_nowait(_Item(rec, interim, now))  # room was checked above
        if shed:
            before = c.shed
            c.shed += len(shed)
            if before == 0 or before // 1000 != c.shed // 1000:
                log.warning("%s", kv(event="shedding", queue_size=self.settings.queue_size,
                                     shed_total=c.shed))  # fmt: skip
            self._report(shed, "shed: worker queue full")

    def _apply_config(self, change: ConfigChange) -> None:
        self.counters.config_changes += 1
        log.info("%s", kv(event="config_changed", name=change.name, value=change.value))
        try:
            if change.name == "log_min_score":
                self._min_sent_score = unit_interval(change.name, change.value)
            elif self._on_config is not None:
                self._on_config(change.name, change.value)
        except HamadError as exc:
            log.warning("%s", kv(event="config_rejected", name=change.name, error=str(exc)))

    def _report(self, uids: list[str], msg: str) -> None:
        """Queue a ``HAMAD::worker_error``; :meth:`_flush_reports` sends them.

        Reports are gathered per reason and sent at most every
        ``report_interval``, so shedding thousands of one-summary events a
        second costs a few messages, not one per summary.
        """
        self._reports.setdefault(msg, []).extend(uids)
        self._reported += len(uids)
        if self._reported >= 1000:
            self._flush_soon.set()

    async def _flush_reports(self) -> None:
        """Send the gathered worker errors, one event per reason."""
        reports, self._reports, self._reported = self._reports, {}, 0
        for msg, uids in reports.items():
            await self._tell_zeek(uids, msg)

    async def _reporter(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._flush_soon.wait(), self.settings.report_interval)
            self._flush_soon.clear()
            await self._flush_reports()

    async def _tell_zeek(self, uids: list[str], msg: str) -> None:
        """One ``HAMAD::worker_error`` for summaries that get no verdict."""
        t = self._transport
        try:
            if t is None:
                raise TransportError("no connection")
            await t.send_worker_error(uids, msg)
        except TransportError as exc:
            self.counters.errors_unsent += len(uids)
            log.debug("%s", kv(event="worker_error_unsent", count=len(uids), error=str(exc)))

    # -- scoring ------------------------------------------------------------

    async def _scorer(self) -> None:
        assert self._queue is not None
        q = self._queue
        while True:
            items = [await q.get()]
            while len(items) < self.batch_size and not q.empty():
                items.append(q.get_nowait())
            self._in_flight = len(items)
            try:
                await self._score_and_send(items)
            finally:
                for _ in items:
                    q.task_done()

    async def _score_and_send(self, items: list[_Item]) -> None:
        records = [it.record for it in items]
        # The flag travels with each item: an interim and the final summary of one
        # connection share a uid and may meet in one batch.
        finals = [it.record for it in items if not it.interim]
        opens = [it.record for it in items if it.interim]

        def score_all() -> list[Verdict]:
            out = self._score(finals) if finals else []
            interim = self._score_interim(opens) if opens else []
            for v in interim:
                v.interim = True
            return out + interim

        started = time.perf_counter()
        try:
            verdicts = await asyncio.to_thread(score_all)
        except Exception as exc:  # noqa: BLE001 - a scoring bug must not kill the worker
            self.counters.score_errors += len(records)
            self._in_flight = 0
            log.exception("%s", kv(event="score_failed", records=len(records), error=repr(exc)))
            await self._tell_zeek([r.uid for r in records], f"scoring failed: {exc!r:.200}")
            return
        missing = list(
            (Counter(r.uid for r in records) - Counter(v.uid for v in verdicts)).elements()
        )
        if missing:
            self.counters.score_errors += len(missing)
            log.error("%s", kv(event="verdicts_missing", count=len(missing)))
            await self._tell_zeek(missing, "scoring returned no verdict")
        self.counters.scored += len(verdicts)
        self._in_flight = 0
        m = self._metrics
        if m is not None:
            # No scoring runs now: the scoring side's values can be copied safely (at
            # most once a second under load; after every batch when the queue is empty).
            m.batch_scored(verdicts, time.perf_counter() - started)
            m.refresh(force=self._queue is not None and self._queue.empty())
        t = self._transport
        if t is None:
            self.counters.verdicts_lost += len(verdicts)
            log.warning(
                "%s", kv(event="verdicts_lost", count=len(verdicts), reason="no connection")
            )
            return
        floor = self._min_sent_score
        send = [v for v in verdicts if v.anomalous or v.score >= floor] if floor else verdicts
        withheld = len(verdicts) - len(send)
        try:
            await t.send_verdicts(send, withheld)
            self.counters.verdicts_sent += len(send)
            self.counters.verdicts_withheld += withheld
            if m is not None:
                ends = [it.record.end_ts for it in items if not it.interim]
                m.verdicts_sent(ends, [it.received for it in items])
        except TransportError as exc:
            self.counters.verdicts_lost += len(verdicts)
            log.warning("%s", kv(event="verdicts_lost", count=len(verdicts), reason=str(exc)))
        except asyncio.CancelledError:
            self.counters.verdicts_lost += len(verdicts)
            raise

    async def _drain(self, scorer: asyncio.Task[None]) -> None:
        """After stop: give queued summaries a bounded chance to be scored and sent."""
        assert self._queue is not None
        if not self._queue.empty() and self._transport is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._queue.join(), self.settings.drain_timeout)
        await _cancel(scorer)
        # A batch the scorer had taken when it was cancelled is dropped too.
        self.counters.dropped_at_exit += self._in_flight
        self._in_flight = 0
        while not self._queue.empty():
            self._queue.get_nowait()
            self.counters.dropped_at_exit += 1
        if self.counters.dropped_at_exit:
            log.warning("%s", kv(event="dropped_at_exit", count=self.counters.dropped_at_exit))

    def _stats_line(self) -> str:
        extra = kv(**self._health()) if self._health is not None else ""
        return self.counters.line() + (" " + extra if extra else "")

    async def _stats(self) -> None:
        while True:
            await asyncio.sleep(self.settings.stats_interval)
            log.info("%s", kv(event="stats") + " " + self._stats_line())


def _raise_if_cancelled() -> None:
    """Re-raise a cancellation that ``asyncio.wait_for`` swallowed.

    Before Python 3.12, ``wait_for`` can return the inner result when the
    cancel and the result arrive together, dropping the cancellation; a task
    that keeps running after it was cancelled would then reconnect forever.
    ``Task.cancelling()`` (3.11+) still remembers the request.
    """
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    if cancelling is not None and cancelling():
        raise asyncio.CancelledError


async def _cancel(task: asyncio.Task[Any]) -> None:
    """Cancel a helper task and wait until it has ended.

    ``asyncio.wait`` does not raise the helper's CancelledError, so a
    cancellation of the *caller* (the worker being shut down) still propagates;
    suppressing CancelledError around ``await task`` would swallow it and leave
    the worker running.
    """
    task.cancel()
    await asyncio.wait({task})


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


#: Options Zeek sends with ``HAMAD::config_changed`` that the worker applies.
WORKER_OPTIONS: tuple[str, ...] = ("threshold_override", "log_min_score", "learning_period")


def unit_interval(name: str, value: str) -> float:
    """A Zeek option value in [0, 1], or ConfigError saying the old value is kept."""
    try:
        x = float(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a number; keeping the old value") from None
    if not 0.0 <= x <= 1.0:
        raise ConfigError(f"{name}={x} is outside [0, 1]; keeping the old value")
    return x


class PipelineScorer:
    """The production scoring side of ``hamad serve``: the Pipeline ``hamad replay`` uses,
    plus the site learner's persistence (load at start, save periodically and at exit)."""

    def __init__(self, settings: Settings) -> None:
        from ..scoring.learning import state_path
        from ..scoring.pipeline import Pipeline

        self.pipe = Pipeline.from_settings(settings)
        self.model_version = str(self.pipe.model_version)
        self._save_interval = settings.learning.save_interval
        self._period = settings.learning.period
        self._last_save = time.monotonic()
        self._saved = False
        self.state_path = state_path(settings.learning.state_dir, self.model_version)
        self._resume()

    def _resume(self) -> None:
        from ..scoring.learning import StateError, parse_duration

        lr = self.pipe.learner
        if lr is None:
            return
        try:
            self.pipe.load_site(self.state_path)
        except FileNotFoundError:
            log.info("%s", kv(event="learning_started", period=lr.summary()["period"],
                              state=str(self.state_path)))  # fmt: skip
            return
        except StateError as exc:
            aside = self.state_path.with_name(self.state_path.name + ".unusable")
            with contextlib.suppress(OSError):
                os.replace(self.state_path, aside)
            log.warning("%s", kv(event="learning_state_unusable", error=str(exc),
                                 moved_to=str(aside), action="learning from scratch"))  # fmt: skip
            return
        self._saved = True
        # The saved state remembers the period it was learned under; this worker's
        # settings (and then Zeek's HAMAD::learning_period) decide from now on.
        lr.set_period(parse_duration(self._period))
        summ = lr.summary()
        log.info("%s", kv(event="learning_resumed", state=str(self.state_path),
                          **{k: summ[k] for k in ("phase", "period", "learned", "kept_out",
                                                  "services")}))  # fmt: skip

    def score(self, records: Sequence[ConnRecord]) -> list[Verdict]:
        out = self.pipe.score(records)
        if time.monotonic() - self._last_save >= self._save_interval:
            self.save()
        return out

    def score_interim(self, records: Sequence[ConnRecord]) -> list[Verdict]:
        return self.pipe.score(records, update_state=False)

    def save(self) -> None:
        """Save the learned state; a state file removed since the last save means
        ``hamad learn reset`` ran: start learning again instead of writing it back."""
        lr = self.pipe.learner
        self._last_save = time.monotonic()
        if lr is None:
            return
        if self._saved and not self.state_path.exists():
            self.pipe.threshold.reset()
            lr.reset()
            log.info("%s", kv(event="learning_reset", state=str(self.state_path)))
        try:
            self.pipe.save_site(self.state_path)
            self._saved = True
        except OSError as exc:
            log.warning("%s", kv(event="learning_state_not_saved", state=str(self.state_path),
                                 error=exc.strerror or str(exc)))  # fmt: skip

    def on_config(self, name: str, value: str) -> None:
        """Apply ``HAMAD::threshold_override`` and ``HAMAD::learning_period`` from Zeek."""
        from ..scoring.learning import parse_duration

        if name == "threshold_override":
            x = unit_interval(name, value)
            self.pipe.set_threshold_override(None if x == 0.0 else x)
        elif name == "learning_period" and self.pipe.learner is not None:
            self.pipe.learner.set_period(parse_duration(value))

    def health(self) -> dict[str, Any]:
        fx = self.pipe.extractor
        out: dict[str, Any] = {
            "threshold": round(self.pipe.threshold.current(), 6),
            "time_jumps_clamped": fx.time_jumps_clamped,
            "time_jumps_accepted": fx.time_jumps_accepted,
        }
        lr = self.pipe.learner
        if lr is not None:
            # Called on the event loop while a batch may be scoring in its thread: read
            # only counters and len(), never iterate the services the batch is changing.
            out["learning"] = lr.phase
            for k in ("learned", "kept_out", "familiar"):
                out[f"learning_{k}"] = lr.counts[k]
            out["learning_services"] = len(lr.services)
        return out


def run_worker(worker: Worker) -> Counters:
    """Run a worker until SIGTERM/SIGINT; returns the final counters."""

    async def main() -> Counters:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        return await worker.run(stop)

    return asyncio.run(main())


# ---------------------------------------------------------------------------
# CLI


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        msg = record.getMessage()
        for part in _split_kv(msg):
            k, _, v = part.partition("=")
            out[k] = json.loads(v) if v.startswith('"') else v
        return json.dumps(out)


def _split_kv(msg: str) -> list[str]:
    parts: list[str] = []
    cur = ""
    quoted = False
    for ch in msg:
        if ch == '"' and not cur.endswith("\\"):
            quoted = not quoted
        if ch == " " and not quoted:
            if cur:
                parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return [p if "=" in p else f"msg={json.dumps(p)}" for p in parts]


def setup_logging(level: str, fmt: str) -> None:
    """Structured logs on stderr: ``key=value`` (default) or one JSON object per line."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
        )
    root = logging.getLogger("hamad")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def _import_score_factory(spec: str, model: str | None) -> tuple[ScoreFn, str, ConfigFn | None]:
    """``module:attr`` -> a factory called as ``attr(model)`` returning a ScoreFn."""
    import importlib

    mod_name, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(mod_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"--score-fn {spec!r}: cannot import it ({exc})") from exc
    fn = factory(model)
    return fn, str(getattr(fn, "model_version", spec)), None


@click.command("serve")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
              help="YAML settings (see packaging/hamad.yaml); flags win.")  # fmt: skip
@click.option("--transport", type=click.Choice(TRANSPORTS),
              help="How to reach Zeek; must match HAMAD::transport [broker].")  # fmt: skip
@click.option("--host", help="Address Zeek listens on (HAMAD::listen_addr) [127.0.0.1].")
@click.option("--port", type=click.IntRange(1, 65535), help="HAMAD::listen_port.")
@click.option("--topic-prefix", help="Must match HAMAD::topic_prefix [hamad].")
@click.option("--model", type=click.Path(exists=True, file_okay=False),
              help="Model directory [the shipped model].")  # fmt: skip
@click.option("--threshold", type=click.FloatRange(0.0, 1.0, min_open=True),
              help="Fixed decision threshold instead of the model's adaptive one.")  # fmt: skip
@click.option("--queue-size", type=click.IntRange(min=1),
              help="Summaries waiting to be scored before shedding [10000].")  # fmt: skip
@click.option("--batch-size", type=click.IntRange(min=1), help="Records per scoring call.")
@click.option("--heartbeat-interval", type=click.FloatRange(min=0.05), help="Seconds.")
@click.option("--max-backoff", type=click.FloatRange(min=0.1),
              help="Longest wait between reconnect attempts, seconds [30].")  # fmt: skip
@click.option("--max-connect-failures", type=click.IntRange(min=0),
              help="Exit after this many failed connects in a row (0 = never) [0].")  # fmt: skip
@click.option("--worker-name", help="Name sent in HAMAD::hello [hamad@host:pid].")
@click.option("--learning-period", metavar="DURATION",
              help="Learn the site first: 90s, 30min, 6h, 1d (0 = off) [1d; Zeek's "
              "HAMAD::learning_period wins once Zeek sends it].")  # fmt: skip
@click.option("--state-dir", type=click.Path(file_okay=False),
              help="Where the learned state is kept [~/.local/state/hamad].")  # fmt: skip
@click.option("--log-level", default="INFO", show_default=True, type=click.Choice(
              ["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))  # fmt: skip
@click.option("--log-format", type=click.Choice(["kv", "json"]), default="kv", show_default=True)
@click.option("--metrics-port", type=click.IntRange(0, 65535),
              help="Serve Prometheus metrics on this port (0 = off) [off].")  # fmt: skip
@click.option("--metrics-host", help="Address of the metrics endpoint [127.0.0.1].")
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

    try:
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
        interim_fn: ScoreFn | None = None
        health: HealthFn | None = None
        on_stop: Callable[[], None] | None = None
        if score_fn:
            fn, model_version, on_config = _import_score_factory(score_fn, s.model)
        else:
            ps = PipelineScorer(s)
            fn, model_version, on_config = ps.score, ps.model_version, ps.on_config
            interim_fn, health, on_stop = ps.score_interim, ps.health, ps.save
        sv = s.serve

        def factory() -> Transport:
            return make_transport(sv.transport, sv.host, sv.port, sv.topic_prefix)

        factory()  # build one now so a missing dependency fails before serving
        log.info("%s", kv(event="starting", transport=sv.transport, host=sv.host, port=sv.port,
                          model_version=model_version))  # fmt: skip
        metrics = None
        if sv.metrics_port:
            from .prometheus import WorkerMetrics

            metrics = WorkerMetrics(health, transport=sv.transport)
        worker = Worker(factory, fn, sv, on_config, interim_fn, batch_size=s.batch_size,
                        model_version=model_version, health=health, on_stop=on_stop,
                        metrics=metrics)  # fmt: skip
        if metrics is not None:
            metrics.refresh(force=True)
            bound = metrics.start(sv.metrics_host, sv.metrics_port)
            log.info("%s", kv(event="metrics_listening",
                              url=f"http://{sv.metrics_host}:{bound}/metrics"))  # fmt: skip
        started = time.monotonic()
        counters = run_worker(worker)
        log.info("%s", kv(event="exit", uptime=f"{time.monotonic() - started:.1f}s"))
        click.echo(counters.line(), err=True)
    except HamadError as exc:
        # click prints "Error: ..." and exits with the class's exit_code
        cls = type("HamadCliError", (click.ClickException,), {"exit_code": exc.exit_code})
        raise cls(str(exc)) from exc
