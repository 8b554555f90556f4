"""Transports between Zeek and the HAMAD worker.

``websocket`` talks to Zeek's WebSocket API; ``broker`` peers with Zeek's
Broker endpoint (needs Broker's Python bindings; deprecated by Zeek 9.0);
``auto`` (:mod:`.auto`) uses whichever of the two Zeek listens with. All
implement :class:`~hamad_plugin.worker.transport.base.Transport` and share the
event names in :mod:`.base` and the value codec in :mod:`.codec`.
:func:`make_transport` imports the chosen one lazily, so a machine without
Broker bindings can still use the WebSocket transport.
"""

from __future__ import annotations

from collections.abc import Callable

from ...core.settings import TRANSPORTS
from ...errors import ConfigError
from .base import (
    DEFAULT_BROKER_PORT,
    DEFAULT_PORT,
    DEFAULT_TOPIC_PREFIX,
    DEFAULT_WEBSOCKET_PORT,
    BadMessage,
    ConfigChange,
    Inbound,
    SummaryBatch,
    Transport,
    TransportError,
)


def _websocket(host: str, port: int, topic_prefix: str, connect_timeout: float) -> Transport:
    from .websocket import WebSocketTransport

    return WebSocketTransport(host, port, topic_prefix, connect_timeout)


def _broker(host: str, port: int, topic_prefix: str, connect_timeout: float) -> Transport:
    from .broker import BrokerTransport

    return BrokerTransport(host, port, topic_prefix, connect_timeout)


def _auto(host: str, port: int, topic_prefix: str, connect_timeout: float) -> Transport:
    from .auto import AutoTransport

    return AutoTransport(host, port, topic_prefix, connect_timeout,
                         [("websocket", _websocket), ("broker", _broker)])  # fmt: skip


#: Every transport of :data:`~hamad_plugin.core.settings.TRANSPORTS`: name -> (Zeek's
#: default HAMAD listen port, builder).
_KINDS: dict[str, tuple[int, Callable[[str, int, str, float], Transport]]] = {
    "auto": (DEFAULT_PORT, _auto),
    "broker": (DEFAULT_BROKER_PORT, _broker),
    "websocket": (DEFAULT_WEBSOCKET_PORT, _websocket),
}

assert tuple(_KINDS) == TRANSPORTS, "a transport named in the settings has no builder here"


def _kind(kind: str) -> tuple[int, Callable[[str, int, str, float], Transport]]:
    try:
        return _KINDS[kind]
    except KeyError:
        raise ConfigError(
            f"unknown transport {kind!r}; expected one of {', '.join(TRANSPORTS)}"
        ) from None


def default_port(kind: str) -> int:
    """Zeek's default HAMAD listen port for a transport; ConfigError for an unknown name."""
    return _kind(kind)[0]


def make_transport(
    kind: str,
    host: str = "127.0.0.1",
    port: int | None = None,
    topic_prefix: str = DEFAULT_TOPIC_PREFIX,
    connect_timeout: float = 5.0,
) -> Transport:
    """Build a transport by name (importing only that one); ConfigError for an unknown name."""
    default, build = _kind(kind)
    return build(host, default if port is None else port, topic_prefix, connect_timeout)


__all__ = [
    "TRANSPORTS",
    "BadMessage",
    "ConfigChange",
    "Inbound",
    "SummaryBatch",
    "Transport",
    "TransportError",
    "default_port",
    "make_transport",
]
