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
from .base import EVENT_HEARTBEAT, EVENT_HELLO, EVENT_VERDICTS, EVENT_WORKER_ERROR


class EventSender:
    """The ``send_*`` half of :class:`~.base.Transport` on top of one ``_send``."""

    async def _send(self, name: str, args: Sequence[codec.Wire]) -> None:
        """Publish one event on the verdicts topic; raises TransportError if it cannot."""
        raise NotImplementedError

    async def send_verdicts(self, verdicts: Sequence[Verdict], withheld: int = 0) -> None:
        """Publish ``HAMAD::verdicts``."""
        await self._send(EVENT_VERDICTS, codec.verdicts_args(verdicts, withheld))

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
