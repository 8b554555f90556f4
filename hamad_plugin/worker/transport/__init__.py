"""Transports between Zeek and the HAMAD worker.

``websocket`` talks to Zeek's WebSocket API (Zeek >= 8.0); ``broker`` peers
with Zeek's Broker endpoint (Zeek 7 and 8; needs Broker's Python bindings).
Both implement :class:`~hamad_plugin.worker.transport.base.Transport` and share the
event names in :mod:`.base` and the value codec in :mod:`.codec`.
:func:`make_transport` imports the chosen one lazily, so a machine without
Broker bindings can still use the WebSocket transport.
"""

from __future__ import annotations

from ...errors import ConfigError
from .base import (
    DEFAULT_BROKER_PORT,
    DEFAULT_TOPIC_PREFIX,
    DEFAULT_WEBSOCKET_PORT,
    BadMessage,
    ConfigChange,
    Inbound,
    SummaryBatch,
    Transport,
    TransportError,
)

#: Transport names accepted by ``hamad serve --transport``.
TRANSPORTS: tuple[str, ...] = ("broker", "websocket")


def default_port(kind: str) -> int:
    """Zeek's default HAMAD listen port for a transport."""
    return DEFAULT_BROKER_PORT if kind == "broker" else DEFAULT_WEBSOCKET_PORT


def make_transport(
    kind: str,
    host: str = "127.0.0.1",
    port: int | None = None,
    topic_prefix: str = DEFAULT_TOPIC_PREFIX,
    connect_timeout: float = 5.0,
) -> Transport:
    """Build a transport by name; raises ConfigError for an unknown name."""
    port = default_port(kind) if port is None else port
    if kind == "websocket":
        from .websocket import WebSocketTransport

        return WebSocketTransport(host, port, topic_prefix, connect_timeout)
    if kind == "broker":
        from .broker import BrokerTransport

        return BrokerTransport(host, port, topic_prefix, connect_timeout)
    raise ConfigError(f"unknown transport {kind!r}; expected one of {', '.join(TRANSPORTS)}")


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
