"""What the worker has done and where it stands, as plain data.

Why a module of its own: the loop (:mod:`.loop`) writes these values and the
Prometheus exporter (:mod:`.prometheus`) reads them; both import this small
module instead of each other. The exporter only ever sees a
:class:`WorkerState` snapshot, never the worker's queue or transport.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from .logs import kv


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

    def as_dict(self) -> dict[str, int]:
        """Every counter by name, in declaration order."""
        return asdict(self)

    def line(self) -> str:
        """The counters as one key=value string."""
        return kv(**self.as_dict())

    def copy(self) -> Counters:
        """An independent copy (the worker keeps counting in the original)."""
        return replace(self)

    def unaccounted(self) -> int:
        """Summaries received but in none of the end states (0 when nothing is in flight)."""
        ended = self.rejected + self.shed + self.score_errors + self.dropped_at_exit
        sent = self.verdicts_sent + self.verdicts_withheld + self.verdicts_lost
        return (self.received - ended - self.scored) + (self.scored - sent)


@dataclass(frozen=True, slots=True)
class WorkerState:
    """A read-only snapshot of one worker (``Worker.state()``), safe to read from any thread."""

    counters: Counters = field(default_factory=Counters)
    #: Summaries waiting to be scored.
    queue_depth: int = 0
    #: Queue size beyond which summaries are shed.
    queue_capacity: int = 0
    #: True while a session with Zeek is up.
    connected: bool = False
    model_version: str = ""
    worker_name: str = ""
