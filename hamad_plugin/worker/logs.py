"""The worker's structured logs: events with fields, rendered once at the handler.

Why a module of its own: the loop, the scorer and the transports all log
events (``event=stopped received=0 ...``); they hand :class:`LogEvent` objects
to :mod:`logging`, and the one :class:`LogFormatter` renders their fields as
``key=value`` text (the default) or as one JSON object per line
(``--log-format json``). Fields are never turned into text and parsed back.

Both formats carry every value as text (``"port": "1"``), as they always
have, so a JSON consumer and a ``key=value`` reader see the same values.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any

#: The logger of the serve loop, its scorer and the CLI command (``logger=hamad.serve``).
SERVE_LOGGER = "hamad.serve"
#: Log formats of ``hamad serve --log-format``.
LOG_FORMATS: tuple[str, ...] = ("kv", "json")

_KV_LINE = "ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"


def _kv_value(value: Any) -> str:
    s = str(value)
    if s == "" or any(c in s for c in ' \t"='):
        s = json.dumps(s)
    return s


def kv(**fields: Any) -> str:
    """Render ``key=value`` pairs for log lines; strings with spaces are quoted."""
    return " ".join(f"{k}={_kv_value(v)}" for k, v in fields.items())


class LogEvent:
    """The message of one structured log record: an event name and its fields.

    ``log.info(LogEvent("stopped", accounting="ok", received=0))``. Its text
    (``str()``, what any handler's ``getMessage()`` shows) is the ``key=value``
    rendering; :class:`LogFormatter` reads :meth:`items` for JSON instead.
    """

    __slots__ = ("fields", "name")

    def __init__(self, name: str, /, **fields: Any) -> None:
        self.name = name
        self.fields: Mapping[str, Any] = fields

    def items(self) -> Iterator[tuple[str, Any]]:
        """``("event", name)`` then the fields, in the order given."""
        yield "event", self.name
        yield from self.fields.items()

    def __str__(self) -> str:
        return kv(**dict(self.items()))

    def __repr__(self) -> str:
        return f"LogEvent({self})"


class LogFormatter(logging.Formatter):
    """Renders records as ``ts=... level=... logger=... event=...`` or as JSON lines.

    A record whose message is not a :class:`LogEvent` (a library's, say)
    keeps its text: after the prefix in ``kv``, as ``"msg"`` in ``json``.
    """

    def __init__(self, fmt: str = "kv") -> None:
        if fmt not in LOG_FORMATS:
            raise ValueError(f"unknown log format {fmt!r}; expected one of {LOG_FORMATS}")
        super().__init__(_KV_LINE)
        self.json = fmt == "json"

    def format(self, record: logging.LogRecord) -> str:
        if not self.json:
            return super().format(record)
        out: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        msg = record.msg
        if isinstance(msg, LogEvent) and not record.args:
            out.update((k, str(v)) for k, v in msg.items())
        else:
            out["msg"] = record.getMessage()
        return json.dumps(out)


def setup_logging(level: str, fmt: str) -> None:
    """Structured logs on stderr: ``key=value`` (default) or one JSON object per line."""
    handler = logging.StreamHandler()
    handler.setFormatter(LogFormatter(fmt))
    root = logging.getLogger("hamad")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
