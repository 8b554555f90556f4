"""The serve loop of ``hamad serve``: the live worker between Zeek and the scoring side.

Why a module of its own: this is the part with the delivery guarantees, kept
apart from the production scorer (:mod:`.scorer`), the log rendering
(:mod:`.logs`), the metrics (:mod:`.prometheus`, which reads
:meth:`Worker.state` snapshots) and the click command (:mod:`hamad_plugin.cli.serve`).

Data path: transport -> decode -> bounded queue -> ScoreFn -> verdicts back to
Zeek. The design goals, in order:

* **Never lose a summary silently.** Every decoded summary ends up scored
  (and its verdict sent or counted as lost), shed under overload, or rejected
  as malformed; the last two are also reported to Zeek (``HAMAD::unscored``
  with the endpoints, which Zeek logs in ``hamad.log`` with the reason, or
  ``HAMAD::worker_error`` by uid for a record that could not be read) so its
  counters agree with ours. The counters are
  logged periodically and at exit.
* **Never stop for one bad message.** Decoding problems are counted and
  logged; only a lost connection ends a session, and the worker reconnects
  with exponential backoff.
* **Keep Zeek informed.** ``HAMAD::hello`` on every connect (Zeek answers
  with its worker-relevant options as ``HAMAD::config_changed``) and a
  periodic ``HAMAD::heartbeat``, which is also the clock a ``zeek -r`` run
  uses to bound its wait for the worker.

Scoring is a narrow callable (:data:`ScoreFn`) so the loop can be tested with
a tiny deterministic function; the CLI wires in :class:`~.scorer.PipelineScorer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..core.records import ConnRecord
from ..core.settings import ServeSettings, Settings, validate
from ..core.verdict import Verdict
from ..errors import HamadError
from .logs import SERVE_LOGGER, LogEvent
from .scorer import unit_interval
from .state import Counters, WorkerState
from .transport.base import (
    BadMessage,
    ConfigChange,
    SummaryBatch,
    Transport,
    TransportError,
    Unscored,
)

if TYPE_CHECKING:
    from .prometheus import WorkerMetrics

log = logging.getLogger(SERVE_LOGGER)

#: Scores a batch of connections; one verdict per record, same order not required.
ScoreFn = Callable[[Sequence[ConnRecord]], list[Verdict]]
#: Receives ``(option name, value)`` from ``HAMAD::config_changed``.
ConfigFn = Callable[[str, str], None]
#: Builds a fresh, unconnected transport for each connection attempt.
TransportFactory = Callable[[], Transport]
#: Counters of the scoring side, logged with the worker's own.
HealthFn = Callable[[], dict[str, Any]]


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
            metrics.attach(self.state)
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
        #: The batch the scorer is scoring or sending (reported if dropped at exit).
        self._batch: list[_Item] = []
        #: Set at shutdown: the scorer finishes its batch and takes no new one.
        self._stopping = False
        #: Set whenever the scorer is between batches.
        self._idle = asyncio.Event()
        #: Reports of summaries without a verdict waiting to be sent: reason -> summaries.
        self._reports: dict[str, list[Unscored]] = {}
        self._reported = 0
        self._flush_soon = asyncio.Event()
        self._hb_seq = 0
        #: Verdicts below this score that are not anomalous have no effect in Zeek
        #: (HAMAD::log_min_score): they are counted to Zeek instead of sent.
        self._min_sent_score = 0.0
        #: Set once the first connection is up (tests and callers can wait on it).
        self.connected = asyncio.Event()

    # -- public -------------------------------------------------------------

    def state(self) -> WorkerState:
        """A snapshot of the counters, queue and connection (what the metrics read)."""
        q = self._queue
        return WorkerState(
            counters=self.counters.copy(),
            queue_depth=q.qsize() if q is not None else 0,
            queue_capacity=self.settings.queue_size,
            connected=self._transport is not None,
            model_version=self.model_version,
            worker_name=self.worker_name,
        )

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
            # Bounded: a Zeek that does not read would hold the worker here for ever.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._flush_reports(), self.settings.drain_timeout)
            stats.cancel()
            self._transport = None
            if transport is not None:
                await transport.close()
            if self._on_stop is not None:
                self._on_stop()
            c = self.counters
            balance = "ok" if c.unaccounted() == 0 else f"off_by_{c.unaccounted()}"
            log.info(LogEvent("stopped", accounting=balance, **self._stats_fields()))
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
                log.warning(LogEvent("connect_failed", attempt=failures,
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
            log.warning(LogEvent("reconnecting", retry_in=f"{backoff:.2f}s"))
            await _sleep_or_stop(stop, backoff)
        return None

    async def _session(self, transport: Transport, stop: asyncio.Event) -> bool:
        """Serve one connection; True if it ended because of ``stop``."""
        s = self.settings
        try:
            await transport.send_hello(self.worker_name, __version__, self.model_version)
        except TransportError as exc:
            log.warning(LogEvent("hello_failed", error=str(exc)))
            return False
        self._transport = transport
        self.connected.set()
        log.info(LogEvent("session_started", transport=transport.name,
                          worker=self.worker_name, model_version=self.model_version))  # fmt: skip
        heartbeat = asyncio.create_task(self._heartbeat(transport), name="hamad-heartbeat")
        try:
            while not stop.is_set():
                _raise_if_cancelled()
                if heartbeat.done():
                    log.warning(LogEvent("connection_lost", reason="heartbeat failed"))
                    return False
                msg = await transport.recv(s.recv_timeout)
                if msg is not None:
                    await self._handle(msg)
            return True
        except TransportError as exc:
            log.warning(LogEvent("connection_lost", reason=str(exc)))
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
            log.warning(LogEvent("heartbeat_failed", error=str(exc)))

    # -- messages -----------------------------------------------------------

    async def _handle(self, msg: SummaryBatch | ConfigChange | BadMessage) -> None:
        if isinstance(msg, BadMessage):
            if msg.from_peer:
                self.counters.rejected_by_zeek += 1
            else:
                self.counters.bad_events += 1
            log.error(LogEvent("bad_message", from_zeek=msg.from_peer, reason=msg.reason))
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
            log.error(LogEvent("bad_summaries", count=len(uids),
                               uids=",".join(uids[:3]), reason=reason))  # fmt: skip
            self._report([Unscored(u) for u in uids], f"rejected: {reason}")
        now = time.monotonic()
        for rec, interim in zip(msg.records, msg.interim, strict=True):
            q.put_nowait(_Item(rec, interim, now))  # room was checked above
        if shed:
            before = c.shed
            c.shed += len(shed)
            if before == 0 or before // 1000 != c.shed // 1000:
                log.warning(LogEvent("shedding", queue_size=self.settings.queue_size,
                                     shed_total=c.shed))  # fmt: skip
            self._report(shed, "shed: worker queue full")

    def _apply_config(self, change: ConfigChange) -> None:
        self.counters.config_changes += 1
        log.info(LogEvent("config_changed", name=change.name, value=change.value))
        try:
            if change.name == "log_min_score":
                self._min_sent_score = unit_interval(change.name, change.value)
            elif self._on_config is not None:
                self._on_config(change.name, change.value)
        except HamadError as exc:
            log.warning(LogEvent("config_rejected", name=change.name, error=str(exc)))

    def _report(self, items: list[Unscored], msg: str) -> None:
        """Queue a report of summaries without a verdict; :meth:`_flush_reports` sends them.

        Reports are gathered per reason and sent at most every
        ``report_interval``, so shedding thousands of one-summary events a
        second costs a few messages, not one per summary.
        """
        self._reports.setdefault(msg, []).extend(items)
        self._reported += len(items)
        if self._reported >= 1000:
            self._flush_soon.set()

    async def _flush_reports(self) -> None:
        """Send the gathered reports, one event per reason (and kind)."""
        reports, self._reports, self._reported = self._reports, {}, 0
        for msg, items in reports.items():
            await self._tell_zeek(items, msg)

    async def _reporter(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._flush_soon.wait(), self.settings.report_interval)
            self._flush_soon.clear()
            await self._flush_reports()

    async def _tell_zeek(self, items: list[Unscored], msg: str) -> None:
        """Tell Zeek these summaries get no verdict: ``HAMAD::unscored`` for those
        with endpoints (Zeek logs them), ``HAMAD::worker_error`` for the rest."""
        t = self._transport
        named = [u for u in items if u.named]
        uids = [u.uid for u in items if not u.named]
        try:
            if t is None:
                raise TransportError("no connection")
            if named:
                await t.send_unscored(named, msg)
            if uids:
                await t.send_worker_error(uids, msg)
        except TransportError as exc:
            self.counters.errors_unsent += len(items)
            log.debug(LogEvent("worker_error_unsent", count=len(items), error=str(exc)))

    # -- scoring ------------------------------------------------------------

    async def _scorer(self) -> None:
        assert self._queue is not None
        q = self._queue
        while not self._stopping:
            self._idle.set()
            items = [await q.get()]
            self._idle.clear()
            while len(items) < self.batch_size and not q.empty():
                items.append(q.get_nowait())
            self._in_flight = len(items)
            self._batch = items
            try:
                await self._score_and_send(items)
            finally:
                self._batch = []
                for _ in items:
                    q.task_done()
        self._idle.set()

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
            log.exception(LogEvent("score_failed", records=len(records), error=repr(exc)))
            await self._tell_zeek([Unscored.of(it.record, it.interim) for it in items],
                                  f"scoring failed: {exc!r:.200}")  # fmt: skip
            return
        left = Counter(r.uid for r in records) - Counter(v.uid for v in verdicts)
        if left:
            missing = []
            for it in items:
                if left[it.record.uid] > 0:
                    left[it.record.uid] -= 1
                    missing.append(Unscored.of(it.record, it.interim))
            self.counters.score_errors += len(missing)
            log.error(LogEvent("verdicts_missing", count=len(missing)))
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
            log.warning(LogEvent("verdicts_lost", count=len(verdicts), reason="no connection"))
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
            log.warning(LogEvent("verdicts_lost", count=len(verdicts), reason=str(exc)))
        except asyncio.CancelledError:
            self.counters.verdicts_lost += len(verdicts)
            raise

    async def _drain(self, scorer: asyncio.Task[None]) -> None:
        """After stop: give queued summaries a bounded chance to be scored and sent.

        Then the scorer finishes the batch it is on (also bounded), rather than being
        cancelled while its verdicts are half written to a Zeek that reads slowly, and
        takes no new one; what is left is dropped and reported to Zeek as such.
        """
        assert self._queue is not None
        limit = self.settings.drain_timeout
        if not self._queue.empty() and self._transport is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._queue.join(), limit)
        self._stopping = True
        if not self._idle.is_set() and self._transport is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._idle.wait(), limit)
        dropped = (
            [Unscored.of(it.record, it.interim) for it in self._batch] if self._in_flight else []
        )
        await _cancel(scorer)
        # A batch the scorer had taken when it was cancelled is dropped too.
        self.counters.dropped_at_exit += self._in_flight
        self._in_flight = 0
        while not self._queue.empty():
            it = self._queue.get_nowait()
            dropped.append(Unscored.of(it.record, it.interim))
            self.counters.dropped_at_exit += 1
        if dropped:
            log.warning(LogEvent("dropped_at_exit", count=len(dropped)))
            self._report(dropped, "dropped: the worker is stopping")

    def _stats_fields(self) -> dict[str, Any]:
        """The counters, then the scoring side's values (the ``stats`` log fields)."""
        health = self._health() if self._health is not None else {}
        return {**self.counters.as_dict(), **health}

    async def _stats(self) -> None:
        while True:
            await asyncio.sleep(self.settings.stats_interval)
            log.info(LogEvent("stats", **self._stats_fields()))


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
