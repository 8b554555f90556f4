"""``--transport auto``: the worker finds the transport Zeek listens with."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from conftest import free_port
from fake_zeek import FakeZeekWS, run

from hamad_plugin.core.verdict import Verdict
from hamad_plugin.errors import DependencyError
from hamad_plugin.worker.transport import TransportError, make_transport
from hamad_plugin.worker.transport.auto import AutoTransport, Builder
from hamad_plugin.worker.transport.base import Inbound, Transport


class _Stub:
    """A transport that connects or fails as told, and records what was sent."""

    def __init__(self, name: str, ok: bool) -> None:
        self.name = name
        self.ok = ok
        self.sent: list[str] = []
        self.closed = False

    async def connect(self) -> None:
        if not self.ok:
            raise TransportError(f"{self.name} refused the handshake")

    async def recv(self, timeout: float) -> Inbound | None:
        return None

    async def send_verdicts(self, verdicts: Sequence[Verdict], withheld: int = 0) -> None:
        self.sent.append("verdicts")

    async def send_hello(self, worker: str, version: str, model_version: str) -> None:
        self.sent.append("hello")

    async def send_heartbeat(
        self, worker: str, seq: int, received: int, scored: int, shed: int
    ) -> None:
        self.sent.append("heartbeat")

    async def send_worker_error(self, uids: Sequence[str], msg: str) -> None:
        self.sent.append("error")

    async def close(self) -> None:
        self.closed = True


def _builders(ok: dict[str, bool], made: list[_Stub]) -> list[tuple[str, Builder]]:
    def build(kind: str) -> Builder:
        def make(host: str, port: int, prefix: str, timeout: float) -> Transport:
            stub = _Stub(kind, ok[kind])
            made.append(stub)
            return stub

        return make

    return [(kind, build(kind)) for kind in ok]


async def _listener() -> tuple[asyncio.Server, int]:
    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(drop, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_falls_back_to_the_transport_zeek_answers_and_remembers_it() -> None:
    async def body() -> None:
        server, port = await _listener()
        made: list[_Stub] = []
        auto = AutoTransport("127.0.0.1", port, "hamad", 1.0,
                             _builders({"websocket": False, "broker": True}, made))  # fmt: skip
        await auto.connect()
        assert auto.name == "broker"
        assert [m.name for m in made] == ["websocket", "broker"] and made[0].closed
        await auto.send_hello("w", "1", "m")
        assert made[1].sent == ["hello"]
        # The next session (a reconnect builds a new one) tries Broker first.
        made.clear()
        again = AutoTransport("127.0.0.1", port, "hamad", 1.0,
                              _builders({"websocket": False, "broker": True}, made))  # fmt: skip
        await again.connect()
        assert [m.name for m in made] == ["broker"]
        server.close()

    run(body)


def test_nothing_listening_is_one_clear_error() -> None:
    """A refused connection ends the attempt: Broker is not tried against a closed port."""
    auto = make_transport("auto", "127.0.0.1", free_port(), connect_timeout=1.0)
    with pytest.raises(TransportError, match="nothing answers on 127.0.0.1"):
        run(auto.connect)


def test_missing_broker_bindings_leave_websocket() -> None:
    async def body() -> None:
        server, port = await _listener()

        def no_broker(host: str, port: int, prefix: str, timeout: float) -> Transport:
            raise DependencyError("no Broker bindings")

        auto = AutoTransport("127.0.0.1", port, "hamad", 1.0, [("broker", no_broker)])
        with pytest.raises(TransportError, match="no Broker bindings"):
            await auto.connect()
        server.close()

    run(body)


def test_auto_reaches_a_websocket_zeek() -> None:
    """Against the fake Zeek that answers like the recorded Zeek 8.2.2 WebSocket API."""

    async def body() -> None:
        fake = FakeZeekWS()
        port = await fake.start()
        auto = make_transport("auto", "127.0.0.1", port, connect_timeout=2.0)
        await auto.connect()
        assert auto.name == "websocket"
        await auto.close()
        await fake.stop()

    run(body)
