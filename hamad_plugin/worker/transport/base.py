"""What every HAMAD transport must do, and the names both sides agree on.

Zeek and the worker talk through events on two topics. The event names, the
topic layout and the order of the record fields are a contract with the Zeek
scripts in ``zeek_scripts/``; they live here (names) and in :mod:`.codec`
(field order) so that ``tests/worker/transport/test_codec_contract.py`` can compare them with the
script text and a rename on one side fails the build.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ...core.records import ConnRecord
from ...core.verdict import Verdict
from ...errors import HamadError

#: Zeek -> worker: ``HAMAD::conn_summaries(batch: vector of HAMAD::ConnSummary)``.
EVENT_CONN_SUMMARIES = "HAMAD::conn_summaries"
#: Zeek -> worker: ``HAMAD::config_changed(name: string, value: string)``.
EVENT_CONFIG_CHANGED = "HAMAD::config_changed"
#: worker -> Zeek: ``HAMAD::verdicts(batch: vector of HAMAD::Verdict, withheld: count)``;
#: ``withheld`` counts verdicts scored but not sent because Zeek would discard them
#: (not anomalous and below ``HAMAD::log_min_score``).
EVENT_VERDICTS = "HAMAD::verdicts"
#: worker -> Zeek: ``HAMAD::hello(worker: string, version: string, model_version: string)``.
EVENT_HELLO = "HAMAD::hello"
#: worker -> Zeek: ``HAMAD::heartbeat(worker: string, seq: count, received: count,
#: scored: count, shed: count)``.
EVENT_HEARTBEAT = "HAMAD::heartbeat"
#: worker -> Zeek: ``HAMAD::worker_error(uids: vector of string, msg: string)``: these
#: summaries could not even be read, so they get no verdict and are known by uid only
#: (one event per batch and reason, not per summary).
EVENT_WORKER_ERROR = "HAMAD::worker_error"
#: worker -> Zeek: ``HAMAD::unscored(batch: vector of HAMAD::Unscored, reason: string)``:
#: these summaries were read but get no verdict (shed, scoring failed, the worker is
#: stopping); Zeek writes each to ``hamad.log`` with the reason.
EVENT_UNSCORED = "HAMAD::unscored"

#: Events the worker accepts from Zeek.
INBOUND_EVENTS: tuple[str, ...] = (EVENT_CONN_SUMMARIES, EVENT_CONFIG_CHANGED)
#: Events the worker sends to Zeek.
OUTBOUND_EVENTS: tuple[str, ...] = (
    EVENT_VERDICTS,
    EVENT_HELLO,
    EVENT_HEARTBEAT,
    EVENT_WORKER_ERROR,
    EVENT_UNSCORED,
)

#: Default topic prefix (``HAMAD::topic_prefix`` in main.zeek).
DEFAULT_TOPIC_PREFIX = "hamad"
#: Default port Zeek listens on for the worker (``HAMAD::listen_port``), both transports.
DEFAULT_PORT = 47761
#: Kept separate so one transport's default can change without touching the other.
DEFAULT_BROKER_PORT = DEFAULT_PORT
DEFAULT_WEBSOCKET_PORT = DEFAULT_PORT


def summaries_topic(prefix: str = DEFAULT_TOPIC_PREFIX) -> str:
    """Topic Zeek publishes summaries and config on (the worker subscribes)."""
    return f"{prefix.rstrip('/')}/summaries"


def verdicts_topic(prefix: str = DEFAULT_TOPIC_PREFIX) -> str:
    """Topic the worker publishes verdicts, hello, heartbeats and errors on."""
    return f"{prefix.rstrip('/')}/verdicts"


@dataclass(slots=True, frozen=True)
class Unscored:
    """A summary that gets no verdict, named as far as the worker could read it.

    With the endpoints (``orig_h`` set) it is answered with ``HAMAD::unscored`` and Zeek
    logs it in ``hamad.log`` with the reason; a record whose endpoints could not be read
    is known by its uid alone and answered with ``HAMAD::worker_error``.
    """

    uid: str
    ts: float = 0.0
    orig_h: str | None = None
    orig_p: int = 0
    resp_h: str = ""
    resp_p: int = 0
    proto: str = "unknown"
    interim: bool = False

    @classmethod
    def of(cls, rec: ConnRecord, interim: bool = False) -> Unscored:
        """The identity of a decoded summary."""
        return cls(rec.uid, rec.ts, rec.orig_h, rec.orig_p, rec.resp_h, rec.resp_p,
                   rec.proto, interim)  # fmt: skip

    @property
    def named(self) -> bool:
        """Whether the endpoints are known (Zeek can log it)."""
        return self.orig_h is not None


class TransportError(HamadError):
    """The connection to Zeek failed or was lost; the worker reconnects."""


@dataclass(slots=True)
class SummaryBatch:
    """The connection summaries of one ``HAMAD::conn_summaries`` event.

    The records arrive ``raw`` (as the transport delivered them) and are only
    decoded by :meth:`decode`, as many as the worker has room for: under
    overload the rest are shed by uid without paying for their decoding, so
    the worker keeps reading as fast as Zeek sends (and keeps answering
    Zeek's pings).

    ``interim[i]`` says whether ``records[i]`` is an interim summary of a
    connection that is still open. It travels with each record, never by
    uid: the interim and the final summary of one connection share a uid and
    may arrive in one batch. Records that could not be decoded are not
    dropped silently: they are listed in ``rejected`` as ``(uid or "",
    reason)`` so the worker can count them and tell Zeek through
    ``HAMAD::worker_error``. Shed records are named by ``ident_of``, which reads
    only the endpoint fields, so Zeek can log each with its reason.
    """

    raw: list[Any] = field(default_factory=list)
    #: Raw record -> (record, interim); raises ValueError/RecursionError for a bad one.
    decoder: Callable[[Any], tuple[ConnRecord, bool]] | None = None
    #: Raw record -> its uid, or "" (cheap; used for rejected and shed records).
    uid_of: Callable[[Any], str] = field(default=lambda raw: "")
    #: Raw record -> its endpoints as far as they read (cheap; used for shed records).
    ident_of: Callable[[Any], Unscored] | None = None
    records: list[ConnRecord] = field(default_factory=list)
    interim: list[bool] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.raw)

    def add(self, record: ConnRecord, interim: bool) -> None:
        """Append one decoded summary with its interim flag."""
        self.records.append(record)
        self.interim.append(interim)

    def decode(self, limit: int | None = None) -> list[Unscored]:
        """Decode the first ``limit`` raw records (all by default); name the others."""
        n = len(self.raw) if limit is None else max(0, min(limit, len(self.raw)))
        if self.decoder is not None:
            for raw in self.raw[:n]:
                try:
                    record, interim = self.decoder(raw)
                except ValueError as exc:
                    self.rejected.append((self.uid_of(raw), str(exc)))
                    continue
                except RecursionError:
                    self.rejected.append((self.uid_of(raw), "nested too deeply"))
                    continue
                self.add(record, interim)
        ident = self.ident_of or (lambda raw: Unscored(self.uid_of(raw)))
        return [ident(raw) for raw in self.raw[n:]]


@dataclass(slots=True, frozen=True)
class ConfigChange:
    """A ``HAMAD::config_changed`` event: an option value Zeek wants the worker to use."""

    name: str
    value: str


@dataclass(slots=True, frozen=True)
class BadMessage:
    """A message the worker could not use, or an error Zeek answered with.

    ``from_peer`` is true when Zeek itself rejected something the worker sent
    (a WebSocket ``{"type": "error"}`` reply).
    """

    reason: str
    from_peer: bool = False


#: What :meth:`Transport.recv` can return.
Inbound = SummaryBatch | ConfigChange | BadMessage


@runtime_checkable
class Transport(Protocol):
    """A connection to one Zeek, as the serve loop sees it.

    Implementations raise :class:`TransportError` when the connection cannot
    be made or is lost; everything else about a single message (wrong shape,
    unknown event) is returned as :class:`BadMessage`, never raised, so one
    bad event cannot stop the worker.
    """

    #: Short name for logs ("websocket", "broker").
    name: str

    async def connect(self) -> None:
        """Open the connection and subscribe to the summaries topic."""

    async def recv(self, timeout: float) -> Inbound | None:
        """Next message from Zeek, or ``None`` if nothing arrived within ``timeout`` s."""

    async def send_verdicts(self, verdicts: Sequence[Verdict], withheld: int = 0) -> None:
        """Publish one ``HAMAD::verdicts`` batch (each verdict carries its interim flag).

        ``withheld`` scored connections are only counted, so Zeek can tell when
        every summary it sent has been answered.
        """

    async def send_hello(self, worker: str, version: str, model_version: str) -> None:
        """Publish ``HAMAD::hello``; Zeek answers with its worker-relevant options."""

    async def send_heartbeat(
        self, worker: str, seq: int, received: int, scored: int, shed: int
    ) -> None:
        """Publish ``HAMAD::heartbeat`` (also Zeek's clock while it waits for us)."""

    async def send_worker_error(self, uids: Sequence[str], msg: str) -> None:
        """Publish ``HAMAD::worker_error`` for summaries that could not be read."""

    async def send_unscored(self, items: Sequence[Unscored], reason: str) -> None:
        """Publish ``HAMAD::unscored`` for read summaries that get no verdict."""

    async def close(self) -> None:
        """Close the connection; safe to call twice."""
