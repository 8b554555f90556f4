"""``--transport auto``: whichever transport Zeek listens with on the port.

Why: the Zeek package decides its transport when Zeek starts
(``HAMAD::TRANSPORT_AUTO``: WebSocket on Zeek 9.0 and on a ZeroMQ cluster,
Broker otherwise), so a worker configured with one fixed transport breaks
whenever Zeek is upgraded or its cluster backend changes. Both transports
listen on the same port (``HAMAD::listen_port``), so the worker asks.

WebSocket is tried first: a refused TCP connection tells at once that nothing
listens (no need to try Broker), and Broker's listener drops a WebSocket
handshake at once, while a Broker peering against a WebSocket server only
fails after its connect timeout. The transport that answered is tried first
on the next reconnect, so a Zeek that keeps its transport sees one attempt per
session.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from ...core.verdict import Verdict
from ...errors import DependencyError
from ..logs import LogEvent
from .base import Inbound, Transport, TransportError, Unscored

log = logging.getLogger("hamad.transport.auto")

#: (kind, builder(host, port, topic_prefix, connect_timeout)) in the order first tried.
Builder = Callable[[str, int, str, float], Transport]


class AutoTransport:
    """A :class:`~.base.Transport` that becomes WebSocket or Broker when it connects."""

    name = "auto"

    #: The kind that answered last, per (host, port): tried first next time.
    _last: dict[tuple[str, int], str] = {}

    def __init__(
        self,
        host: str,
        port: int,
        topic_prefix: str,
        connect_timeout: float,
        builders: Sequence[tuple[str, Builder]],
    ) -> None:
        self.host = host
        self.port = port
        self.topic_prefix = topic_prefix
        self.connect_timeout = connect_timeout
        self._builders = list(builders)
        self._inner: Transport | None = None

    def _order(self) -> list[tuple[str, Builder]]:
        last = self._last.get((self.host, self.port))
        return sorted(self._builders, key=lambda kb: kb[0] != last)

    async def connect(self) -> None:
        """Connect with the first transport Zeek answers; TransportError naming each failure."""
        tried: list[str] = []
        for kind, build in self._order():
            try:
                inner = build(self.host, self.port, self.topic_prefix, self.connect_timeout)
            except DependencyError as exc:  # no Broker bindings: WebSocket only
                tried.append(f"{kind}: {exc}")
                continue
            try:
                await inner.connect()
            except TransportError as exc:
                await inner.close()
                if isinstance(exc.__cause__, OSError):  # refused, unreachable: not a handshake
                    raise TransportError(
                        f"nothing answers on {self.host}:{self.port} ({exc.__cause__}). Is Zeek "
                        "running with '@load hamad', and does --port match HAMAD::listen_port?"
                    ) from exc
                tried.append(f"{kind}: {exc}")
                continue
            self._inner = inner
            self.name = inner.name
            self._last[(self.host, self.port)] = kind
            log.info(LogEvent("transport_chosen", transport=kind, host=self.host, port=self.port))
            return
        raise TransportError(
            f"something listens on {self.host}:{self.port} but answers neither as Zeek's "
            f"WebSocket API nor as its Broker endpoint ({' | '.join(tried)})"
        )

    def _require(self) -> Transport:
        if self._inner is None:
            raise TransportError("not connected to Zeek")
        return self._inner

    async def recv(self, timeout: float) -> Inbound | None:
        """Next message from Zeek (see :meth:`.base.Transport.recv`)."""
        return await self._require().recv(timeout)

    async def send_verdicts(self, verdicts: Sequence[Verdict], withheld: int = 0) -> None:
        """Publish ``HAMAD::verdicts`` on the chosen transport."""
        await self._require().send_verdicts(verdicts, withheld)

    async def send_hello(self, worker: str, version: str, model_version: str) -> None:
        """Publish ``HAMAD::hello`` on the chosen transport."""
        await self._require().send_hello(worker, version, model_version)

    async def send_heartbeat(
        self, worker: str, seq: int, received: int, scored: int, shed: int
    ) -> None:
        """Publish ``HAMAD::heartbeat`` on the chosen transport."""
        await self._require().send_heartbeat(worker, seq, received, scored, shed)

    async def send_worker_error(self, uids: Sequence[str], msg: str) -> None:
        """Publish ``HAMAD::worker_error`` on the chosen transport."""
        await self._require().send_worker_error(uids, msg)

    async def send_unscored(self, items: Sequence[Unscored], reason: str) -> None:
        """Publish ``HAMAD::unscored`` on the chosen transport."""
        await self._require().send_unscored(items, reason)

    async def close(self) -> None:
        """Close the chosen transport, if any; safe to call twice."""
        if self._inner is not None:
            await self._inner.close()
