"""The worker -> Zeek events, built once for every transport.

Why a module of its own: each transport differs only in how it puts one event
on the wire (:meth:`EventSender._send`); which events exist and what their
arguments are is the same for all of them, so it is written here once
(:mod:`.base` cannot hold it: :mod:`.codec`, which builds the arguments,
imports :mod:`.base`).
"""

from __future__ import annotations

from collections.abc import Sequence

from ...core.verdict import Verdict
from . import codec
from .base import (
    EVENT_HEARTBEAT,
    EVENT_HELLO,
    EVENT_UNSCORED,
    EVENT_VERDICTS,
    EVENT_WORKER_ERROR,
    Unscored,
)

#: Verdicts per ``HAMAD::verdicts`` event. A WebSocket verdict is about 1.3 kB of JSON, so a
#: full worker batch (1,024) would pass the 1 MiB a WebSocket peer commonly accepts per
#: message; smaller events also keep Zeek's event queue moving between them.
MAX_VERDICTS_PER_EVENT = 256


class EventSender:
    """The ``send_*`` half of :class:`~.base.Transport` on top of one ``_send``."""

    async def _send(self, name: str, args: Sequence[codec.Wire]) -> None:
        """Publish one event on the verdicts topic; raises TransportError if it cannot."""
        raise NotImplementedError

    async def send_verdicts(self, verdicts: Sequence[Verdict], withheld: int = 0) -> None:
        """Publish ``HAMAD::verdicts``, in events of at most :data:`MAX_VERDICTS_PER_EVENT`
        (the withheld count rides on the last one)."""
        n = len(verdicts)
        for s in range(0, max(n, 1), MAX_VERDICTS_PER_EVENT):
            last = s + MAX_VERDICTS_PER_EVENT >= n
            part = verdicts[s : s + MAX_VERDICTS_PER_EVENT]
            await self._send(EVENT_VERDICTS, codec.verdicts_args(part, withheld if last else 0))

    async def send_hello(self, worker: str, version: str, model_version: str) -> None:
        """Publish ``HAMAD::hello``."""
        await self._send(EVENT_HELLO, codec.hello_args(worker, version, model_version))

    async def send_heartbeat(
        self, worker: str, seq: int, received: int, scored: int, shed: int
    ) -> None:
        """Publish ``HAMAD::heartbeat``."""
        await self._send(EVENT_HEARTBEAT, codec.heartbeat_args(worker, seq, received, scored, shed))

    async def send_worker_error(self, uids: Sequence[str], msg: str) -> None:
        """Publish ``HAMAD::worker_error``."""
        await self._send(EVENT_WORKER_ERROR, codec.worker_error_args(uids, msg))

    async def send_unscored(self, items: Sequence[Unscored], reason: str) -> None:
        """Publish ``HAMAD::unscored``, in events of at most :data:`MAX_VERDICTS_PER_EVENT`."""
        for s in range(0, len(items), MAX_VERDICTS_PER_EVENT):
            part = items[s : s + MAX_VERDICTS_PER_EVENT]
            await self._send(EVENT_UNSCORED, codec.unscored_args(part, reason))
