"""Broker transport: the worker peers with a Zeek that called ``Broker::listen``.

Broker's Python bindings must match the Broker inside the Zeek you talk to
(Debian's ``python3-broker`` 1.4 cannot peer with Zeek 8), so this module
looks for them in this order: an importable ``broker``; the directories in
``HAMAD_BROKER_PYTHONPATH``; ``zeek-config --python_dir``. The bindings are
blocking C++ calls, so this module only uses their non-blocking forms
(``peer_nosync``, ``poll``) from the event-loop thread.

Broker API differences handled here: Broker 1.4 builds events as
``broker.zeek.Event(name, arg, ...)`` and exposes ``name()``/``args()`` as
methods; newer bindings may expose them as attributes.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import shutil
import subprocess
import sys
from collections import deque
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

from ...errors import DependencyError
from ..logs import LogEvent
from . import codec
from .base import (
    DEFAULT_BROKER_PORT,
    DEFAULT_TOPIC_PREFIX,
    BadMessage,
    Inbound,
    TransportError,
    summaries_topic,
    verdicts_topic,
)
from .sender import EventSender

log = logging.getLogger("hamad.transport.broker")

#: Environment variable with extra directories (``os.pathsep``-separated) holding ``broker``.
BROKER_PATH_ENV = "HAMAD_BROKER_PYTHONPATH"


def _is_broker(mod: ModuleType) -> bool:
    return hasattr(mod, "Endpoint") and hasattr(mod, "zeek")


def _zeek_python_dir() -> str | None:
    exe = shutil.which("zeek-config")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "--python_dir"], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _candidates() -> Iterator[str | None]:
    yield None  # already importable
    yield from (p for p in os.environ.get(BROKER_PATH_ENV, "").split(os.pathsep) if p)
    yield _zeek_python_dir()  # only asked when the cheaper ways failed


def load_broker() -> ModuleType:
    """Import Broker's Python bindings or raise a :class:`DependencyError` saying how to fix it.

    A directory is put on ``sys.path`` only while importing from it, so a
    system ``dist-packages`` holding the bindings cannot shadow the worker's
    own packages afterwards.
    """
    tried: list[str] = []
    for where in _candidates():
        if where is not None and not os.path.isdir(where):
            tried.append(f"{where} (not a directory)")
            continue
        if where is not None:
            sys.modules.pop("broker", None)
            sys.path.insert(0, where)
        try:
            mod = importlib.import_module("broker")
        except ImportError as exc:
            tried.append(f"{where or 'sys.path'} ({exc})")
            continue
        finally:
            if where is not None:
                sys.path.remove(where)
        if _is_broker(mod):
            return mod
        tried.append(f"{where or 'sys.path'} (a 'broker' module without Endpoint)")
    raise DependencyError(
        "the Broker transport needs the Python bindings of the Broker inside your Zeek, "
        f"but none were found (tried: {'; '.join(tried)}). Fix: put zeek-config on PATH "
        f"(it reports them with 'zeek-config --python_dir'), or set {BROKER_PATH_ENV} to "
        "that directory, or use the WebSocket transport ('--transport websocket' with "
        "'@load hamad/websocket' in Zeek)."
    )


class BrokerTransport(EventSender):
    """Peers with Zeek's ``Broker::listen`` and exchanges HAMAD events."""

    name = "broker"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_BROKER_PORT,
        topic_prefix: str = DEFAULT_TOPIC_PREFIX,
        connect_timeout: float = 5.0,
        broker_module: ModuleType | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.topic_prefix = topic_prefix
        self.connect_timeout = connect_timeout
        self._bk = broker_module if broker_module is not None else load_broker()
        self._ep: Any = None
        self._sub: Any = None
        self._status: Any = None
        self._inbox: deque[Any] = deque()

    async def connect(self) -> None:
        """Peer with Zeek (one attempt; the serve loop owns the retry policy)."""
        bk = self._bk
        ep = bk.Endpoint()
        status = ep.make_status_subscriber(True)
        sub = ep.make_subscriber(summaries_topic(self.topic_prefix))
        # peer_nosync + status polling: bounded by our timeout and never in another
        # thread (Broker 1.4 deadlocks in shutdown() if peer() ran in a thread).
        ep.peer_nosync(self.host, self.port, 0)
        ok = await self._await_peering(status)
        if not ok:
            await _shutdown_bounded(ep)
            raise TransportError(
                f"cannot peer with Zeek's Broker endpoint at {self.host}:{self.port}. Is Zeek "
                "listening with the Broker transport (HAMAD::active_transport), and do "
                "--host/--port match HAMAD::listen_addr/HAMAD::listen_port? (Broker's Python "
                "bindings must also match the Zeek version.)"
            )
        self._ep, self._sub, self._status = ep, sub, status
        log.info(LogEvent("connected", transport=self.name, peer=f"{self.host}:{self.port}"))

    async def _await_peering(self, status: Any) -> bool:
        bk = self._bk
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.connect_timeout
        while loop.time() < deadline:
            for st in status.poll():
                code = _code(st)
                if code == bk.SC.PeerAdded:
                    return True
                if code in (bk.EC.PeerUnavailable, bk.EC.PeerInvalid, bk.EC.PeerIncompatible):
                    log.debug(LogEvent("peer_failed", status=st))
                    return False
            await asyncio.sleep(0.02)
        return False

    def _check_status(self) -> None:
        bk = self._bk
        lost = {bk.SC.PeerLost, bk.SC.PeerRemoved, bk.SC.EndpointUnreachable}
        for st in self._status.poll():
            code = _code(st)
            if code in lost:
                raise TransportError(f"lost the Broker peering with Zeek: {st}")
            if code == bk.EC.PeerUnavailable:
                raise TransportError(f"Zeek's Broker endpoint became unavailable: {st}")

    async def recv(self, timeout: float) -> Inbound | None:
        """Next decoded message, ``None`` on timeout; raises TransportError if Zeek went away.

        Polls without blocking (no threads: Broker 1.4's blocking calls are
        unsafe off the thread that owns the endpoint).
        """
        if self._sub is None:
            raise TransportError("Broker transport is not connected")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._inbox:
            self._check_status()
            self._inbox.extend(self._sub.poll())
            if self._inbox:
                break
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(0.01)
        return self.decode_message(self._inbox.popleft())

    def decode_message(self, msg: Any) -> Inbound:
        """Decode one ``(topic, data)`` pair from a subscriber; never raises for bad content."""
        try:
            _topic, data = msg
            ev = self._bk.zeek.Event(data)
            name = _call_or_get(ev, "name")
            raw_args = _call_or_get(ev, "args")
        except Exception as exc:  # noqa: BLE001 - anything Broker raises means "not an event"
            return BadMessage(f"Broker message is not a Zeek event: {exc!r:.200}")
        if not isinstance(name, str) or name == "":
            return BadMessage(f"Broker message is not a Zeek event: {msg!r:.200}")
        try:
            return codec.decode_event(name, raw_args, codec.broker_to_plain)
        except codec.WireFormatError as exc:
            return BadMessage(str(exc)[: codec.MAX_REASON])
        except RecursionError:
            return BadMessage("event arguments nested too deeply")

    async def _send(self, name: str, args: Sequence[codec.Wire]) -> None:
        if self._ep is None:
            raise TransportError("Broker transport is not connected")
        self._check_status()
        bk = self._bk
        values = [codec.wire_to_broker(a, bk) for a in args]
        ev = bk.zeek.Event(name, *values)
        self._ep.publish(verdicts_topic(self.topic_prefix), ev)

    async def close(self) -> None:
        """Drop the peering and shut the endpoint down (idempotent)."""
        ep, self._ep, self._sub, self._status = self._ep, None, None, None
        if ep is not None:
            await _shutdown_bounded(ep)


def _code(status: Any) -> Any:
    code = getattr(status, "code", None)
    return code() if callable(code) else code


def _call_or_get(obj: Any, attr: str) -> Any:
    v = getattr(obj, attr)
    return v() if callable(v) else v


def _shutdown(ep: Any) -> None:
    try:
        ep.shutdown()
    except Exception:  # noqa: BLE001 - best effort during teardown
        log.debug(LogEvent("broker_shutdown_failed"), exc_info=True)


async def _shutdown_bounded(ep: Any) -> None:
    """Shut an endpoint down from the event-loop thread.

    Broker 1.4's ``Endpoint.shutdown`` deadlocked when called from another
    thread (it holds the GIL while waiting for Broker threads that need it),
    so it runs here, synchronously; it returns within milliseconds when the
    peer is reachable or gone.
    """
    _shutdown(ep)
