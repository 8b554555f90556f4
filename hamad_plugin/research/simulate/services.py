"""The benign model's connection kinds: how attempts end (Outcome) and each Service.

Why it exists: these tables say how a protocol behaves as Zeek logs it (conn_state,
history, packets, sizes and durations) and are shared by benign traffic and the attack
scenarios, which are built from the same :class:`Service` record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .zeek import ICMP, TCP, UDP


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended, in Zeek's words: conn_state, history and who sent payload.

    ``control`` counts the packets without payload besides ACKs of data (SYN, handshake
    ACK, FIN, RST) sent by originator and responder. ``timing`` says what the duration is:
    the service's flow time (``flow``), ``rtts`` round trips (``rtt``), SYN retransmissions
    with Linux's 1 s doubling timeout (``retry``).
    """

    state: str
    histories: tuple[tuple[str, float], ...]
    payload: tuple[bool, bool]
    control: tuple[int, int] = (0, 0)
    timing: str = "flow"
    rtts: float = 1.0


OUTCOMES: dict[str, Outcome] = {
    # Normal TCP life: handshake, data both ways, FINs (sometimes in the other order,
    # the responder talking first, or with a retransmission).
    "established": Outcome(
        "SF",
        (("ShADadFf", 0.62), ("ShADadfF", 0.2), ("ShAdDaFf", 0.1), ("ShADadtFf", 0.08)),
        (True, True),
        (3, 2),
    ),
    "client-reset": Outcome("RSTO", (("ShADadR", 1.0),), (True, True), (3, 1)),
    "server-reset": Outcome("RSTR", (("ShADadr", 1.0),), (True, True), (2, 2)),
    # Nothing answers the SYN: retransmitted after 1 s, 2 s, ... (one packet: unset fields).
    "no-answer": Outcome("S0", (("S", 1.0),), (False, False), (1, 0), "retry"),
    "refused": Outcome("REJ", (("Sr", 1.0),), (False, False), (1, 1), "rtt"),
    # SYN scan of an open port: SYN, SYN-ACK, the scanner's RST.
    "probe-reset": Outcome("RSTO", (("ShR", 1.0),), (False, False), (2, 1), "rtt"),
    # connect() scan: the handshake completes and the scanner closes or resets at once.
    "connect-close": Outcome("SF", (("ShAFf", 1.0),), (False, False), (4, 2), "rtt", 2.0),
    "connect-reset": Outcome("RSTO", (("ShAR", 1.0),), (False, False), (3, 1), "rtt", 1.5),
    "reply": Outcome("SF", (("Dd", 1.0),), (True, True)),
    "one-way": Outcome("S0", (("D", 1.0),), (True, False)),
    # ICMP: Zeek logs no history for it; echo request/reply counts as OTH.
    "echo": Outcome("OTH", (("-", 1.0),), (True, True)),
    "echo-lost": Outcome("OTH", (("-", 1.0),), (True, False)),
}
_OUTCOME_NAMES = tuple(OUTCOMES)
#: Zeek history strings the outcomes use; ``-`` (unset, ICMP) first.
HISTORIES: tuple[str, ...] = tuple(
    dict.fromkeys(["-"] + [h for o in OUTCOMES.values() for h, _ in o.histories])
)
_TCP_OK = (
    ("established", 0.9),
    ("client-reset", 0.04),
    ("server-reset", 0.02),
    ("no-answer", 0.025),
    ("refused", 0.015),
)
_UDP_OK = (("reply", 0.97), ("one-way", 0.03))
_KEEPALIVE = (("established", 0.93), ("client-reset", 0.02), ("no-answer", 0.03), ("refused", 0.02))


@dataclass(frozen=True)
class Service:
    """One kind of connection: protocol, responder, sizes, durations and outcomes.

    Sizes and think times are lognormal (``(median, sigma)``): most flows are small, a
    few are huge. Streaming flows (``rate`` > 0) carry bytes in proportion to their
    duration; bulk flows add ``bytes / throughput`` to it.
    """

    name: str
    proto: int
    ports: tuple[int, ...]
    zeek_service: str
    dst: str
    outcomes: tuple[tuple[str, float], ...] = ()
    orig_bytes: tuple[float, float] = (0.0, 0.0)
    resp_bytes: tuple[float, float] = (0.0, 0.0)
    duration: tuple[float, float] = (0.0, 0.0)
    rate: float = 0.0
    throughput: float = 4e6
    seg: int = 1448
    turns: float = 2.0
    #: 0: an ephemeral port; -1: any port (crafted packets); else this port.
    orig_port: int = 0
    syn_retries: int = 2
    #: Crafted packets without TCP options (raw-socket scanners and floods).
    raw: bool = False
    max_duration: float = 4 * 3600.0


def _svc(
    name: str, proto: int, port: int | tuple[int, ...], zeek: str, dst: str, **kw: Any
) -> Service:
    """A Service with the common defaults: TCP outcomes for TCP, request-reply for UDP."""
    ports = port if isinstance(port, tuple) else (port,)
    kw.setdefault("outcomes", _TCP_OK if proto == TCP else _UDP_OK)
    return Service(name=name, proto=proto, ports=ports, zeek_service=zeek, dst=dst, **kw)


BENIGN_SERVICES: dict[str, Service] = {
    s.name: s
    for s in (
        _svc("dns", UDP, 53, "dns", "gateway", orig_bytes=(38, 0.25), resp_bytes=(110, 0.45),
             duration=(0.004, 0.9), seg=1500),
        _svc("dns-public", UDP, 53, "dns", "public-dns", orig_bytes=(38, 0.25),
             resp_bytes=(110, 0.45), duration=(0.02, 0.6), seg=1500),
        _svc("dot", TCP, 853, "ssl", "public-dns", orig_bytes=(1400, 0.5), resp_bytes=(3500, 0.6),
             duration=(25, 1.2)),
        _svc("https-cdn", TCP, 443, "ssl", "cdn", orig_bytes=(900, 1.1), resp_bytes=(14000, 2.0),
             duration=(1.5, 1.8)),
        _svc("https-cloud", TCP, 443, "ssl", "cloud", orig_bytes=(1600, 1.0),
             resp_bytes=(5000, 1.4), duration=(6, 1.6)),
        _svc("quic", UDP, 443, "quic,ssl", "cdn", outcomes=(("reply", 0.98), ("one-way", 0.02)),
             orig_bytes=(4000, 1.2), resp_bytes=(60000, 2.0), duration=(4, 1.5), seg=1250),
        _svc("http", TCP, 80, "http", "cdn", orig_bytes=(420, 0.5), resp_bytes=(3000, 1.8),
             duration=(0.4, 1.0)),
        _svc("conncheck", TCP, 80, "http", "conncheck", orig_bytes=(150, 0.1),
             resp_bytes=(210, 0.1), duration=(0.05, 0.4)),
        _svc("update", TCP, 443, "ssl", "update", orig_bytes=(1800, 0.6), resp_bytes=(25e6, 1.6),
             duration=(2, 0.8), throughput=6e6),
        _svc("streaming", TCP, 443, "ssl", "cdn", orig_bytes=(1200, 0.6), resp_bytes=(8e6, 1.2),
             duration=(30, 1.0), throughput=3e6),
        _svc("video-call", UDP, (3478, 3479, 19302, 8801), "-", "media",
             outcomes=(("reply", 1.0),), duration=(1500, 0.7), rate=190e3, seg=1100,
             max_duration=3 * 3600.0),
        _svc("turn-tcp", TCP, 3478, "-", "media", duration=(1200, 0.8), rate=160e3,
             max_duration=3 * 3600.0),
        _svc("ntp", UDP, 123, "ntp", "ntp", orig_bytes=(48, 0.0), resp_bytes=(48, 0.0),
             duration=(0.03, 0.6)),
        _svc("mdns", UDP, 5353, "dns", "mdns", outcomes=(("one-way", 1.0),),
             orig_bytes=(330, 0.8), duration=(3, 1.5), seg=300, orig_port=5353),
        _svc("ssdp", UDP, 1900, "-", "ssdp", outcomes=(("one-way", 1.0),), orig_bytes=(700, 0.6),
             duration=(1.5, 1.0), seg=350),
        _svc("dhcp", UDP, 67, "dhcp", "gateway", outcomes=(("reply", 1.0),),
             orig_bytes=(300, 0.05), resp_bytes=(300, 0.05), duration=(0.003, 0.5), seg=1500,
             orig_port=68),
        _svc("iot-mqtts", TCP, 8883, "ssl", "iot-cloud", outcomes=_KEEPALIVE,
             orig_bytes=(420, 0.4), resp_bytes=(330, 0.4), duration=(0.5, 0.7)),
        _svc("iot-https", TCP, 443, "ssl", "iot-cloud", outcomes=_KEEPALIVE,
             orig_bytes=(900, 0.5), resp_bytes=(1200, 0.5), duration=(0.8, 0.7)),
        _svc("iot-tuya", TCP, 6668, "-", "iot-cloud", outcomes=_KEEPALIVE,
             orig_bytes=(160, 0.3), resp_bytes=(120, 0.3), duration=(0.3, 0.6)),
        _svc("cam-relay", UDP, 10001, "-", "iot-cloud", orig_bytes=(90, 0.3),
             resp_bytes=(60, 0.3), duration=(0.05, 0.5)),
        _svc("cam-upload", TCP, 443, "ssl", "cloud", orig_bytes=(2.5e6, 1.0),
             resp_bytes=(6000, 0.5), duration=(3, 0.8), throughput=1.5e6),
        _svc("push", TCP, 5223, "ssl", "cloud", orig_bytes=(600, 0.5), resp_bytes=(900, 0.6),
             duration=(600, 1.0)),
        _svc("smb", TCP, 445, "smb", "nas", orig_bytes=(6000, 1.4), resp_bytes=(60000, 2.0),
             duration=(8, 2.0), throughput=40e6),
        _svc("backup", TCP, 445, "smb", "nas",
             outcomes=(("established", 0.97), ("client-reset", 0.03)), orig_bytes=(60e6, 1.5),
             resp_bytes=(300e3, 1.0), duration=(20, 0.8), throughput=30e6),
        _svc("ipp", TCP, 631, "http", "printer", orig_bytes=(400e3, 1.5), resp_bytes=(2000, 0.5),
             duration=(2, 0.8), throughput=5e6),
        _svc("cast", TCP, 8009, "ssl", "tv", orig_bytes=(2500, 0.8), resp_bytes=(3500, 0.8),
             duration=(60, 1.5)),
        _svc("airplay", TCP, 7000, "http", "tv", outcomes=(("established", 0.7), ("refused", 0.3)),
             orig_bytes=(800, 0.8), resp_bytes=(1500, 0.8), duration=(2, 1.0)),
        _svc("ping", ICMP, 0, "-", "gateway", outcomes=(("echo", 0.95), ("echo-lost", 0.05)),
             orig_bytes=(224, 0.5), seg=56, orig_port=8),
        _svc("nas-sync", TCP, 443, "ssl", "cloud", orig_bytes=(2e6, 1.5), resp_bytes=(2e6, 1.5),
             duration=(30, 1.2)),
    )
}  # fmt: skip
