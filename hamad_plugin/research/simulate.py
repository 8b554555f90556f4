"""``hamad simulate``: a seeded simulator of the traffic behind a home / small-office gateway.

Why it exists: the repository ships no third-party captures, yet ``make run``, the tests and
``hamad bench`` need conn logs. This module writes what Zeek 8 would write for a simulated
network: conn.log as TSV (Zeek's header lines, the ``ip_proto`` column, ``#close``) or as
JSON lines (Zeek's JSON writer: flat ``id.orig_h`` keys, unset fields omitted), with
IoT-23-style ``label`` / ``detailed-label`` columns and a small JSON ground-truth summary.

Behaviour is written from how the protocols and devices work (TCP handshakes and teardowns
as Zeek's ``history`` letters, SYN retransmission timing, DNS/NTP request-reply, multicast
announcements, periodic IoT keep-alives, bulk transfers limited by throughput), not fitted
to any dataset. What it leaves out is listed in docs/simulator.md. Detection figures on its
output are not evidence of detection on real traffic.

Fast and constant memory: the capture is cut into time windows of about
:data:`CHUNK_ROWS` connections. Each window's connections are drawn with numpy (a few
calls per column and service, never per row) and formatted by writing every column's
ASCII bytes into a NUL-padded byte matrix, then dropping the NULs. Zeek writes a
connection when it ends, so rows leave in end-time order: a connection still open when
its window closes waits in a buffer until the window its end falls in (the buffer holds
the connections open at one moment, as Zeek's own state does).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from .. import __version__
from ..core.durations import parse_duration
from ..core.records import CONN_FIELDS, ConnRecord
from ..errors import ConfigError

#: Connections per time window (one numpy batch, one write).
CHUNK_ROWS = 65_536
#: Periodic streams (device routines) kept at most, so memory does not grow with --hosts.
MAX_STREAMS = 200_000
#: At most this share of the benign connections comes from periodic routines.
MAX_PERIODIC_SHARE = 0.5
#: The home roster's first devices: a laptop, a phone, an IoT camera, a NAS and a printer.
MIN_HOSTS = 5
#: Hosts live in 10.0.0.0/8 when they do not fit 192.168.1.0/24.
MAX_HOSTS = (1 << 24) - 3
#: Every enabled scenario writes at least this many connections (when time allows).
MIN_SCENARIO_ROWS = 5
#: Attack rows may not exceed this share of --connections.
MAX_ATTACK_SHARE = 0.5
DEFAULT_START = "2025-06-02T17:00:00Z"
_US = 1_000_000

# --------------------------------------------------------------------------- vocabularies
PROTOS = ("tcp", "udp", "icmp")
TCP, UDP, ICMP = 0, 1, 2
_IP_PROTO = ("6", "17", "1")
#: Zeek's conn_state values (Conn::Info docs).
STATES = (
    "S0",
    "S1",
    "SF",
    "REJ",
    "S2",
    "S3",
    "RSTO",
    "RSTR",
    "RSTOS0",
    "RSTRH",
    "SH",
    "SHR",
    "OTH",
)
ZEEK_SERVICES = ("-", "dns", "ssl", "http", "ntp", "quic,ssl", "dhcp", "smb", "ssh")
#: Zeek 8.2 conn.log #types, in CONN_FIELDS order, plus the two label columns.
ZEEK_TYPES: dict[str, str] = {
    "ts": "time",
    "uid": "string",
    "id.orig_h": "addr",
    "id.orig_p": "port",
    "id.resp_h": "addr",
    "id.resp_p": "port",
    "proto": "enum",
    "service": "string",
    "duration": "interval",
    "orig_bytes": "count",
    "resp_bytes": "count",
    "conn_state": "string",
    "local_orig": "bool",
    "local_resp": "bool",
    "missed_bytes": "count",
    "history": "string",
    "orig_pkts": "count",
    "orig_ip_bytes": "count",
    "resp_pkts": "count",
    "resp_ip_bytes": "count",
    "tunnel_parents": "set[string]",
    "ip_proto": "count",
    "label": "string",
    "detailed-label": "string",
}
LOG_FIELDS: tuple[str, ...] = (*CONN_FIELDS, "label", "detailed-label")
_UID_ALPHABET = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8
)
_PUBLIC_DNS = ("8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9")
_MDNS, _SSDP = "224.0.0.251", "239.255.255.250"
# First octets used for made-up public addresses: skips private, CGNAT, loopback,
# link-local, documentation/benchmark blocks (whole /8s, to keep it simple) and 224+.
_FIRST_OCTETS = np.array(
    [o for o in range(1, 224) if o not in (10, 100, 127, 169, 172, 192, 198, 203)], np.uint64
)


def _ip(text: str) -> int:
    a, b, c, d = (int(x) for x in text.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def _ip_text(ip: int) -> str:
    return ".".join(str((ip >> s) & 255) for s in (24, 16, 8, 0))


# --------------------------------------------------------------------------- behaviour tables
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


@dataclass(frozen=True)
class Routine:
    """A periodic habit: one connection every ``period`` seconds (per device, log-uniform
    in the range), each shifted by up to ``jitter`` x period. Benign beacons."""

    service: str
    period: tuple[float, float]
    jitter: float


@dataclass(frozen=True)
class DeviceKind:
    """A kind of device: how common it is, how busy, what it talks to and how often."""

    name: str
    share: float
    activity: float
    human: bool
    habits: tuple[tuple[str, float], ...]
    routines: tuple[Routine, ...] = ()


_NTP_HOURLY = Routine("ntp", (1024, 3600), 0.01)
_WEB = (("dns", 0.3), ("https-cdn", 0.25), ("https-cloud", 0.13), ("quic", 0.12), ("http", 0.03))
_PHONE = _WEB + (
    ("dot", 0.02),
    ("dns-public", 0.02),
    ("video-call", 0.004),
    ("turn-tcp", 0.001),
    ("cast", 0.01),
    ("airplay", 0.01),
)
_PHONE_ROUTINES = (
    Routine("push", (900, 1800), 0.05),
    Routine("conncheck", (1800, 3600), 0.1),
    _NTP_HOURLY,
)
_IOT_WEB = (("dns", 0.55), ("https-cloud", 0.45))

DEVICE_KINDS: tuple[DeviceKind, ...] = (
    DeviceKind("laptop", share=0.2, activity=1.0, human=True,
               habits=_WEB + (("dns-public", 0.02), ("update", 0.008), ("video-call", 0.004),
                              ("turn-tcp", 0.001), ("smb", 0.02), ("ipp", 0.003),
                              ("airplay", 0.01), ("cast", 0.005), ("ping", 0.004)),
               routines=(Routine("ntp", (1024, 2048), 0.01), Routine("backup", (3600, 3600), 0.01),
                         Routine("dhcp", (21600, 43200), 0.001))),
    DeviceKind("phone", share=0.28, activity=0.7, human=True, habits=_PHONE,
               routines=_PHONE_ROUTINES),
    DeviceKind("tablet", share=0.05, activity=0.35, human=True, habits=_PHONE,
               routines=_PHONE_ROUTINES),
    DeviceKind("tv", share=0.06, activity=0.5, human=True,
               habits=(("streaming", 0.3), ("dns", 0.3), ("dns-public", 0.1), ("https-cdn", 0.15),
                       ("quic", 0.1), ("https-cloud", 0.05)),
               routines=(Routine("ssdp", (180, 300), 0.02), Routine("mdns", (120, 240), 0.05),
                         Routine("iot-https", (600, 900), 0.02), _NTP_HOURLY)),
    DeviceKind("speaker", share=0.07, activity=0.15, human=False,
               habits=(("dns", 0.35), ("https-cloud", 0.35), ("quic", 0.1), ("https-cdn", 0.2)),
               routines=(Routine("iot-https", (60, 120), 0.02), Routine("mdns", (120, 300), 0.05))),
    DeviceKind("camera", share=0.08, activity=0.2, human=False,
               habits=(("dns", 0.35), ("dns-public", 0.15), ("cam-upload", 0.2),
                       ("https-cloud", 0.3)),
               routines=(Routine("iot-https", (30, 60), 0.03), Routine("cam-relay", (20, 40), 0.05),
                         Routine("ntp", (600, 1200), 0.01))),
    DeviceKind("plug", share=0.08, activity=0.03, human=False, habits=_IOT_WEB,
               routines=(Routine("iot-tuya", (60, 180), 0.02), _NTP_HOURLY)),
    DeviceKind("hub", share=0.05, activity=0.08, human=False, habits=_IOT_WEB,
               routines=(Routine("iot-mqtts", (60, 120), 0.01), Routine("ssdp", (300, 600), 0.02),
                         Routine("mdns", (120, 300), 0.05))),
    DeviceKind("thermostat", share=0.04, activity=0.04, human=False, habits=_IOT_WEB,
               routines=(Routine("iot-mqtts", (300, 300), 0.01),)),
    DeviceKind("printer", share=0.03, activity=0.02, human=False, habits=_IOT_WEB,
               routines=(Routine("mdns", (300, 600), 0.05), _NTP_HOURLY)),
    DeviceKind("nas", share=0.02, activity=0.25, human=False,
               habits=(("dns", 0.35), ("dns-public", 0.05), ("nas-sync", 0.4), ("update", 0.02),
                       ("https-cdn", 0.18)),
               routines=(Routine("ntp", (1024, 2048), 0.01),)),
)  # fmt: skip
_KIND_INDEX = {k.name: i for i, k in enumerate(DEVICE_KINDS)}
#: The first hosts of every network, so small networks have one of everything that matters.
ROSTER = (
    "laptop", "phone", "camera", "nas", "printer", "tv", "speaker", "plug",
    "phone", "laptop", "hub", "thermostat", "tablet", "phone", "camera", "plug",
)  # fmt: skip
#: Destination classes that are hosts of a given kind (absent kind: the habit is dropped).
_LAN_DST = {"nas": "nas", "printer": "printer", "tv": "tv"}
#: Human activity by hour of day (local time = UTC here), relative to the evening peak.
DIURNAL = (
    0.25, 0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.45, 0.6, 0.55, 0.5, 0.55,
    0.6, 0.55, 0.5, 0.55, 0.65, 0.8, 0.95, 1.0, 1.0, 0.9, 0.7, 0.45,
)  # fmt: skip


# --------------------------------------------------------------------------- attack scenarios
@dataclass(frozen=True)
class Scenario:
    """A labelled attack: who, against what, how often, from when, and how big at most.

    Connections come every ``interval`` seconds (+- ``jitter`` x interval) from
    ``start`` x capture length, ``limit`` of them at most (0: until the capture ends),
    and never more than ``share`` x --connections (at least :data:`MIN_SCENARIO_ROWS`).
    ``target``: ``fresh`` (a new public address each time), ``one`` (one address never
    used by benign traffic), ``victims`` (four such addresses in turn), ``nas`` or
    ``gateway``. ``ports``: ``service`` (the service's ports), ``sweep`` (every port in a
    scrambled order; ``open_ports`` answer with ``open_outcome``) or ``random``.
    """

    name: str
    label: str
    actor: str
    start: float
    interval: float
    jitter: float
    share: float
    service: Service
    target: str
    limit: int = 0
    ports: str = "service"
    open_ports: tuple[int, ...] = ()
    open_outcome: str = ""
    about: str = ""


def _attack(name: str, proto: int, port: int | tuple[int, ...], zeek: str, **kw: Any) -> Service:
    return _svc(name, proto, port, zeek, "attack", **kw)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("hscan-fast", "PartOfAHorizontalPortScan", actor="camera", start=0.3,
                 interval=0.005, jitter=0.4, share=0.03, target="fresh",
                 service=_attack("telnet-syn-scan", TCP, (23,) * 9 + (2323,), "-",
                                 outcomes=(("no-answer", 0.93), ("refused", 0.05),
                                           ("probe-reset", 0.02)),
                                 orig_port=-1, syn_retries=0, raw=True),
                 about="Mirai-like SYN scan of random internet addresses on 23/2323 (200/s)"),
        Scenario("hscan-slow", "PartOfAHorizontalPortScan-Slow", actor="laptop", start=0.05,
                 interval=12.0, jitter=0.3, share=0.01, target="fresh",
                 service=_attack("ssh-connect-sweep", TCP, 22, "-",
                                 outcomes=(("no-answer", 0.85), ("refused", 0.1),
                                           ("connect-close", 0.05))),
                 about="connect() sweep of random internet addresses on 22, one every ~12 s"),
        Scenario("vscan-fast", "PartOfAVerticalPortScan", actor="laptop", start=0.5,
                 interval=0.002, jitter=0.4, share=0.02, limit=65535, target="nas",
                 service=_attack("syn-port-scan", TCP, (), "-", outcomes=(("refused", 1.0),),
                                 syn_retries=0, raw=True),
                 ports="sweep", open_ports=(22, 80, 139, 443, 445, 548, 5000, 5001),
                 open_outcome="probe-reset", about="SYN scan of every port of the NAS (500/s)"),
        Scenario("vscan-slow", "PartOfAVerticalPortScan-Slow", actor="laptop", start=0.55,
                 interval=15.0, jitter=0.2, share=0.01, limit=65535, target="gateway",
                 service=_attack("connect-port-scan", TCP, (), "-", outcomes=(("refused", 1.0),)),
                 ports="sweep", open_ports=(53, 80, 443), open_outcome="connect-reset",
                 about="connect() scan of the gateway's ports, one every ~15 s"),
        Scenario("telnet-bruteforce", "Attack-TelnetBruteForce", actor="camera", start=0.4,
                 interval=3.0, jitter=0.4, share=0.01, target="victims",
                 service=_attack("telnet-login", TCP, 23, "-",
                                 outcomes=(("established", 0.78), ("server-reset", 0.12),
                                           ("refused", 0.05), ("no-answer", 0.05)),
                                 orig_bytes=(45, 0.35), resp_bytes=(140, 0.4),
                                 duration=(2.5, 0.6), turns=4),
                 about="Mirai-like Telnet password guessing against four addresses"),
        Scenario("ssh-bruteforce", "Attack-SSHBruteForce", actor="camera", start=0.45, interval=4.0,
                 jitter=0.4, share=0.01, target="victims",
                 service=_attack("ssh-login", TCP, 22, "ssh",
                                 outcomes=(("established", 0.88), ("server-reset", 0.07),
                                           ("no-answer", 0.05)),
                                 orig_bytes=(1750, 0.12), resp_bytes=(1950, 0.15),
                                 duration=(3.0, 0.5), turns=6),
                 about="SSH password guessing against four addresses"),
        Scenario("cc-heartbeat", "C&C-HeartBeat", actor="camera", start=0.2, interval=60.0,
                 jitter=0.1, share=0.01, target="one",
                 service=_attack("cc-poll", TCP, 8080, "http",
                                 outcomes=(("established", 0.97), ("no-answer", 0.03)),
                                 orig_bytes=(190, 0.08), resp_bytes=(70, 0.25),
                                 duration=(0.25, 0.5)),
                 about="HTTP polling of one rare address every 60 s +- 10 %"),
        Scenario("payload-download", "FileDownload", actor="camera", start=0.15, interval=1.5,
                 jitter=0.3, share=0.01, limit=6, target="one",
                 service=_attack("bin-fetch", TCP, 80, "http", outcomes=(("established", 1.0),),
                                 orig_bytes=(110, 0.1), resp_bytes=(90e3, 0.5),
                                 duration=(0.3, 0.5), throughput=250e3),
                 about="HTTP download of six binaries from a fresh address"),
        Scenario("dns-tunnel", "DNSTunneling", actor="laptop", start=0.6, interval=0.4,
                 jitter=0.5, share=0.01, target="gateway",
                 service=_attack("dns-exfil", UDP, 53, "dns",
                                 outcomes=(("reply", 0.98), ("one-way", 0.02)),
                                 orig_bytes=(190, 0.15), resp_bytes=(240, 0.3),
                                 duration=(0.03, 0.7), seg=1500),
                 about="exfiltration in long DNS queries to the local resolver, ~2.5/s"),
        Scenario("outbound-flood", "DDoS", actor="camera", start=0.8, interval=0.0005,
                 jitter=0.5, share=0.04, target="one", ports="random",
                 service=_attack("udp-flood", UDP, (), "-", outcomes=(("one-way", 1.0),),
                                 orig_bytes=(900, 0.35), seg=1472, orig_port=-1),
                 about="UDP flood with random ports at one address (2000/s)"),
    )
}  # fmt: skip


# --------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class ScenarioChoice:
    """An enabled scenario and when it starts (seconds after the capture starts)."""

    name: str
    offset: float


@dataclass(frozen=True)
class SimConfig:
    """What to simulate. :func:`make_config` builds one from command-line strings."""

    seed: int = 0
    connections: int = 10_000
    hosts: int = 16
    duration: float = 3600.0
    start: float = 0.0
    scenarios: tuple[ScenarioChoice, ...] = ()
    fmt: str = "tsv"

    def __post_init__(self) -> None:
        if self.fmt not in ("tsv", "json"):
            raise ConfigError(f"--format must be tsv or json, got {self.fmt!r}")
        if not MIN_HOSTS <= self.hosts <= MAX_HOSTS:
            raise ConfigError(
                f"--hosts must be between {MIN_HOSTS} (a laptop, a phone, an IoT camera, a NAS "
                f"and a printer) and {MAX_HOSTS:,}, got {self.hosts:,}"
            )
        if self.connections < 1:
            raise ConfigError(f"--connections must be at least 1, got {self.connections}")
        if not 1.0 <= self.duration <= 366 * 86400:
            raise ConfigError(
                f"--duration must be between 1 s and 366 days, got {self.duration:g} s"
            )
        if not 1e9 <= self.start <= 9e9:
            raise ConfigError("--start must be between 2001-09-09 and 2255-03-14 (10-digit epoch)")
        for c in self.scenarios:
            if c.name not in SCENARIOS:
                raise ConfigError(f"unknown scenario {c.name!r}{_did_you_mean(c.name)}")
            if not 0 <= c.offset < self.duration:
                raise ConfigError(
                    f"scenario {c.name!r} starts at {c.offset:g} s, outside the "
                    f"{self.duration:g} s capture"
                )
        if self.seed < 0:
            raise ConfigError(f"--seed must be >= 0, got {self.seed}")


def _did_you_mean(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, SCENARIOS, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} (known: {', '.join(SCENARIOS)})"


def parse_start(text: str) -> float:
    """Epoch seconds from an ISO 8601 time (UTC unless it says otherwise) or a number."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        t = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(
            f"--start: expected an ISO time like 2025-06-02T17:00:00Z or epoch seconds, "
            f"got {text!r}"
        ) from exc
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.timestamp()


def parse_scenario(text: str, duration: float) -> ScenarioChoice:
    """``NAME`` (default start) or ``NAME@OFFSET`` with OFFSET like 10m, 90s or 25%."""
    name, _, at = text.partition("@")
    name = name.strip()
    if name not in SCENARIOS:
        raise ConfigError(f"--scenario: unknown scenario {name!r}{_did_you_mean(name)}")
    if not at:
        return ScenarioChoice(name, SCENARIOS[name].start * duration)
    if at.strip().endswith("%"):
        try:
            frac = float(at.strip()[:-1]) / 100.0
        except ValueError as exc:
            raise ConfigError(f"--scenario {text!r}: bad percentage {at!r}") from exc
        return ScenarioChoice(name, frac * duration)
    return ScenarioChoice(name, parse_duration(at, f"--scenario {text!r}"))


def make_config(
    seed: int = 0,
    connections: int = 10_000,
    hosts: int = 16,
    duration: str = "1h",
    start: str = DEFAULT_START,
    scenarios: Sequence[str] = (),
    no_attacks: bool = False,
    fmt: str = "tsv",
) -> SimConfig:
    """A validated :class:`SimConfig` from command-line strings.

    No ``scenarios`` and not ``no_attacks``: every scenario at its default start (those
    with no room for one connection in a very short capture are left out).
    """
    if no_attacks and scenarios:
        raise ConfigError("--no-attacks and --scenario contradict each other; pass one")
    secs = parse_duration(duration, "--duration")
    if no_attacks:
        chosen: tuple[ScenarioChoice, ...] = ()
    elif scenarios:
        chosen = tuple(parse_scenario(s, secs) for s in scenarios)
        names = [c.name for c in chosen]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"--scenario given twice for {', '.join(dup)}")
    else:  # every scenario that has room for a connection in this capture
        chosen = tuple(
            ScenarioChoice(s.name, s.start * secs)
            for s in SCENARIOS.values()
            if secs * (1.0 - s.start) >= s.interval
        )
    return SimConfig(
        seed=seed,
        connections=connections,
        hosts=hosts,
        duration=secs,
        start=parse_start(start),
        scenarios=chosen,
        fmt=fmt,
    )


def list_scenarios() -> str:
    """The scenario table for ``hamad simulate --list-scenarios``."""
    lines = [f"{'name':<18} {'detailed-label':<26} {'actor':<7} {'start':>5}  what"]
    for s in SCENARIOS.values():
        lines.append(f"{s.name:<18} {s.label:<26} {s.actor:<7} {s.start:>5.0%}  {s.about}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- hashing, addresses
_M1, _M2, _GOLD = (
    np.uint64(0xBF58476D1CE4E5B9),
    np.uint64(0x94D049BB133111EB),
    np.uint64(0x9E3779B97F4A7C15),
)


def _mix(x: np.ndarray, salt: int) -> np.ndarray:
    """splitmix64 of ``x`` with ``salt``: stable pseudo-random uint64 per value."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) * _GOLD + np.uint64(salt & 0xFFFFFFFFFFFFFFFF)
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    out: np.ndarray = z ^ (z >> np.uint64(31))
    return out


def _unit(x: np.ndarray, salt: int) -> np.ndarray:
    """A stable uniform [0, 1) per value (destinations of periodic routines)."""
    out: np.ndarray = (_mix(x, salt) >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    return out


def _public_ip(idx: np.ndarray, salt: int) -> np.ndarray:
    """Made-up public IPv4 addresses, one per index and salt (a pool of servers)."""
    h = _mix(idx, salt)
    first = _FIRST_OCTETS[(h % np.uint64(len(_FIRST_OCTETS))).astype(np.intp)]
    mid = (h >> np.uint64(16)) & np.uint64(0xFFFF)
    last = np.uint64(1) + (h >> np.uint64(40)) % np.uint64(254)
    out: np.ndarray = ((first << np.uint64(24)) | (mid << np.uint64(8)) | last).astype(np.uint32)
    return out


def _zipf_index(u: np.ndarray, size: int) -> np.ndarray:
    """Index in [0, size) with P(k) ~ 1/(k+1): a few servers get most of the traffic."""
    k = np.floor(np.exp(u * math.log(size + 1.0))).astype(np.int64) - 1
    out: np.ndarray = np.clip(k, 0, size - 1)
    return out


def is_local(ip: np.ndarray) -> np.ndarray:
    """Zeek's default Site::local_nets view: private, CGNAT, link-local, loopback, multicast."""
    a = ip.astype(np.uint32)
    top = a >> np.uint32(24)
    out: np.ndarray = (
        (top == 10)
        | (top == 127)
        | (top >= 224)
        | ((a >> np.uint32(20)) == 0xAC1)
        | ((a >> np.uint32(16)) == 0xC0A8)
        | ((a >> np.uint32(16)) == 0xA9FE)
        | ((a >> np.uint32(22)) == (100 << 2 | 1))
    )
    return out


# --------------------------------------------------------------------------- rows
ROW = np.dtype(
    [
        ("ts", "<i8"),  # microseconds since the epoch
        ("dur", "<i8"),  # microseconds, -1 unset
        ("oh", "<u4"),
        ("op", "<u2"),
        ("rh", "<u4"),
        ("rp", "<u2"),
        ("proto", "u1"),
        ("svc", "u1"),
        ("state", "u1"),
        ("hist", "u1"),
        ("lab", "u1"),  # 0 benign, else 1 + index of the scenario
        ("ob", "<i8"),  # -1 unset
        ("rb", "<i8"),
        ("opk", "<i8"),
        ("oip", "<i8"),
        ("rpk", "<i8"),
        ("rip", "<i8"),
    ]
)


def _lognormal(rng: np.random.Generator, spec: tuple[float, float], n: int) -> np.ndarray:
    median, sigma = spec
    if sigma <= 0:
        return np.full(n, float(median))
    out: np.ndarray = median * np.exp(sigma * rng.standard_normal(n))
    return out


def _choose(rng: np.random.Generator, weights: Sequence[float] | np.ndarray, n: int) -> np.ndarray:
    """``n`` indices drawn with the given (unnormalised) weights."""
    cum = np.cumsum(np.asarray(weights, dtype=np.float64))
    idx = np.searchsorted(cum, rng.random(n) * cum[-1], side="right")
    out: np.ndarray = np.minimum(idx, len(cum) - 1)
    return out


_STATE_CODE = {s: i for i, s in enumerate(STATES)}
_HIST_CODE = {h: i for i, h in enumerate(HISTORIES)}
_SVC_CODE = {s: i for i, s in enumerate(ZEEK_SERVICES)}


def _outcome_codes(rng: np.random.Generator, svc: Service, n: int) -> np.ndarray:
    names = [_OUTCOME_NAMES.index(o) for o, _ in svc.outcomes]
    out: np.ndarray = np.asarray(names, np.int64)[_choose(rng, [w for _, w in svc.outcomes], n)]
    return out


def _payload(
    rng: np.random.Generator, svc: Service, flow: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Bytes each way: proportional to duration for streams, lognormal otherwise."""
    n = len(flow)
    if svc.rate > 0:
        ob = flow * svc.rate * np.exp(0.3 * rng.standard_normal(n))
        rb = flow * svc.rate * np.exp(0.3 * rng.standard_normal(n))
    else:
        ob = _lognormal(rng, svc.orig_bytes, n)
        rb = _lognormal(rng, svc.resp_bytes, n)
    ob_i = np.where(ob > 0, np.maximum(np.rint(ob), 1), 0).astype(np.int64)
    rb_i = np.where(rb > 0, np.maximum(np.rint(rb), 1), 0).astype(np.int64)
    if svc.proto == ICMP:  # echo: whole pings, the reply mirrors the request
        ob_i = np.maximum(-(-ob_i // svc.seg), 1) * svc.seg
        rb_i = ob_i.copy()
    return ob_i, rb_i


def _orig_ports(rng: np.random.Generator, svc: Service, n: int) -> np.ndarray:
    if svc.orig_port > 0:
        return np.full(n, svc.orig_port, np.int64)
    if svc.orig_port < 0:
        return rng.integers(1024, 65536, n)
    return rng.integers(32768, 65536, n)


def build_rows(
    rng: np.random.Generator,
    svc: Service,
    ts_us: np.ndarray,
    oh: np.ndarray,
    rh: np.ndarray,
    rp: np.ndarray,
    outcome: np.ndarray,
    label: int,
) -> np.ndarray:
    """Connections of one service as Zeek would log them, given who, when and how it ended.

    Packets: TCP carries ``seg``-byte segments plus a few request/response turns, each side
    ACKs every second segment of the other, plus the outcome's control packets; UDP and
    ICMP carry ``seg``-byte datagrams. A connection of one packet has duration and byte
    counts unset, as Zeek logs it.
    """
    n = len(ts_us)
    rows = np.zeros(n, ROW)
    rows["ts"], rows["oh"], rows["rh"], rows["rp"] = ts_us, oh, rh, rp
    rows["op"] = _orig_ports(rng, svc, n)
    rows["proto"], rows["lab"] = svc.proto, label
    rtt = np.where(is_local(rh), _lognormal(rng, (6e-4, 0.5), n), _lognormal(rng, (0.03, 0.6), n))
    flow = np.minimum(_lognormal(rng, svc.duration, n), svc.max_duration)
    ob, rb = _payload(rng, svc, flow)
    if svc.proto == ICMP:  # ping sends one echo request a second
        flow = (ob // svc.seg - 1).astype(np.float64)
    elif svc.rate <= 0:
        flow = flow + (ob + rb) / svc.throughput
    dur = np.zeros(n)
    opk = np.zeros(n, np.int64)
    rpk = np.zeros(n, np.int64)
    for code in np.unique(outcome):
        o = OUTCOMES[_OUTCOME_NAMES[int(code)]]
        m = outcome == code
        k = int(m.sum())
        rows["state"][m] = _STATE_CODE[o.state]
        hist = [_HIST_CODE[h] for h, _ in o.histories]
        rows["hist"][m] = np.asarray(hist)[_choose(rng, [w for _, w in o.histories], k)]
        ob[m] *= o.payload[0]
        rb[m] *= o.payload[1]
        od, rd = -(-ob[m] // svc.seg), -(-rb[m] // svc.seg)
        if svc.proto == TCP:
            od = od + rng.poisson(svc.turns, k) * (od > 0)
            rd = rd + rng.poisson(svc.turns, k) * (rd > 0)
            opk[m] = o.control[0] + od + rd // 2
            rpk[m] = o.control[1] + rd + od // 2
        else:
            opk[m], rpk[m] = od, rd
        if o.timing == "flow":
            dur[m] = flow[m] + rtt[m]
        elif o.timing == "rtt":
            dur[m] = rtt[m] * o.rtts
        elif o.timing == "retry":
            r = rng.integers(0, svc.syn_retries + 1, k)
            opk[m] += r
            dur[m] = (2.0**r - 1.0) * (1.0 + 0.02 * rng.random(k))
    if svc.proto == TCP:
        hdr = 40 if svc.raw else 52
        rows["oip"] = opk * hdr + ob + (0 if svc.raw else 8)
        rows["rip"] = rpk * hdr + rb
    else:
        rows["oip"] = opk * 28 + ob
        rows["rip"] = rpk * 28 + rb
    rows["svc"] = np.where((ob > 0) | (rb > 0), _SVC_CODE[svc.zeek_service], 0)
    single = opk + rpk <= 1
    rows["dur"] = np.where(single, -1, np.rint(dur * _US).astype(np.int64))
    rows["ob"] = np.where(single, -1, ob)
    rows["rb"] = np.where(single, -1, rb)
    rows["opk"], rows["rpk"] = opk, rpk
    return rows


# --------------------------------------------------------------------------- the network plan
@dataclass
class _Streams:
    """Periodic routines, sorted by service: device, period, phase, jitter, destination draw."""

    host: np.ndarray
    service: np.ndarray
    period: np.ndarray
    phase: np.ndarray
    jitter: np.ndarray
    u: np.ndarray

    def events(self, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
        """(stream index, nominal time) of every routine connection due in [a, b)."""
        lo = np.ceil((a - self.phase) / self.period)
        cnt = np.maximum(np.ceil((b - self.phase) / self.period) - lo, 0).astype(np.int64)
        idx = np.repeat(np.arange(len(cnt)), cnt)
        first = np.repeat(np.cumsum(cnt) - cnt, cnt)
        k = lo[idx] + (np.arange(len(idx)) - first)
        return idx, self.phase[idx] + k * self.period[idx]


@dataclass
class _ScenarioRun:
    """An enabled scenario with its size and schedule fixed for this capture."""

    index: int
    spec: Scenario
    offset: float
    count: int
    actor: int
    salt: int

    def nominal(self, i: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.offset + i * self.spec.interval
        return out

    def due(self, a: float, b: float, last: bool) -> np.ndarray:
        """Indices of this scenario's connections nominally in [a, b)."""
        iv = self.spec.interval
        lo = max(0, math.ceil((a - self.offset) / iv))
        hi = self.count if last else min(self.count, math.ceil((b - self.offset) / iv))
        return np.arange(lo, max(lo, hi), dtype=np.int64)


@dataclass
class Plan:
    """Everything fixed before the first row: hosts, routines, scenario sizes, windows."""

    cfg: SimConfig
    lan: str
    gateway: int
    first_host: int
    kinds: np.ndarray
    by_kind: list[np.ndarray]
    cum_activity: list[np.ndarray]
    habits: list[tuple[np.ndarray, np.ndarray]]
    streams: _Streams
    scenarios: list[_ScenarioRun]
    n_human: int
    n_iot: int
    n_periodic: int
    windows: np.ndarray
    grid: np.ndarray
    human_cdf: np.ndarray
    class_weights: tuple[np.ndarray, np.ndarray]
    pools: dict[str, int] = field(default_factory=dict)

    @property
    def start_us(self) -> int:
        return round(self.cfg.start * _US)

    def host_ip(self, idx: np.ndarray) -> np.ndarray:
        out: np.ndarray = (self.first_host + idx).astype(np.uint32)
        return out


_SERVICE_LIST = tuple(BENIGN_SERVICES)
_SERVICE_INDEX = {s: i for i, s in enumerate(_SERVICE_LIST)}


def _pool_sizes(hosts: int) -> dict[str, int]:
    """External servers grow with the network: more devices reach more distinct servers."""
    return {
        "cdn": min(4_000_000, 300 + 4 * hosts),
        "cloud": min(2_000_000, 150 + 2 * hosts),
        "update": 40 + hosts // 16,
        "media": 60 + hosts // 8,
        "ntp": 20 + hosts // 64,
        "conncheck": 3,
    }


def _assign_kinds(rng: np.random.Generator, hosts: int) -> np.ndarray:
    kinds = np.empty(hosts, np.uint8)
    head = min(hosts, len(ROSTER))
    kinds[:head] = [_KIND_INDEX[k] for k in ROSTER[:head]]
    if hosts > head:
        kinds[head:] = _choose(rng, [k.share for k in DEVICE_KINDS], hosts - head)
    return kinds


def _usable(service: str, by_kind: list[np.ndarray]) -> bool:
    """A service needing a LAN peer (NAS, printer, TV) is only used when one exists."""
    dst = BENIGN_SERVICES[service].dst
    return dst not in _LAN_DST or len(by_kind[_KIND_INDEX[_LAN_DST[dst]]]) > 0


def _build_streams(
    rng: np.random.Generator, cfg: SimConfig, by_kind: list[np.ndarray], budget: int
) -> _Streams:
    """Routines of (a sample of at most MAX_STREAMS) devices, trimmed to ``budget`` connections."""
    blocks: list[tuple[int, Routine]] = [
        (ki, r)
        for ki, kind in enumerate(DEVICE_KINDS)
        for r in kind.routines
        if len(by_kind[ki]) and _usable(r.service, by_kind)
    ]
    sizes = np.array([len(by_kind[ki]) for ki, _ in blocks], np.int64)
    total = int(sizes.sum())
    pick = (
        np.arange(total)
        if total <= MAX_STREAMS
        else np.sort(rng.choice(total, MAX_STREAMS, replace=False))
    )
    block = np.searchsorted(np.cumsum(sizes), pick, side="right")
    starts = np.cumsum(sizes) - sizes
    host = np.empty(len(pick), np.int64)
    lo = np.empty(len(pick))
    hi = np.empty(len(pick))
    jit = np.empty(len(pick))
    svc = np.empty(len(pick), np.int64)
    for b, (ki, r) in enumerate(blocks):
        m = block == b
        host[m] = by_kind[ki][pick[m] - starts[b]]
        lo[m], hi[m], jit[m] = r.period[0], r.period[1], r.jitter
        svc[m] = _SERVICE_INDEX[r.service]
    period = np.exp(np.log(lo) + rng.random(len(pick)) * (np.log(hi) - np.log(lo)))
    phase = rng.random(len(pick)) * period
    count = np.maximum(np.ceil((cfg.duration - phase) / period), 0)
    order = rng.permutation(len(pick))
    keep = order[np.cumsum(count[order]) <= budget]
    keep = keep[np.lexsort((host[keep], svc[keep]))]
    return _Streams(
        host=host[keep],
        service=svc[keep],
        period=period[keep],
        phase=phase[keep],
        jitter=jit[keep],
        u=_unit(host[keep] * 64 + svc[keep], cfg.seed * 7 + 1),
    )


def _scenario_runs(cfg: SimConfig, by_kind: list[np.ndarray]) -> list[_ScenarioRun]:
    runs = []
    for i, choice in enumerate(cfg.scenarios):
        spec = SCENARIOS[choice.name]
        room = int((cfg.duration - choice.offset) // spec.interval)
        if room < 1:
            raise ConfigError(
                f"scenario {spec.name!r} starts {choice.offset:g} s into a {cfg.duration:g} s "
                f"capture: no room for one connection every {spec.interval:g} s"
            )
        count = min(room, max(MIN_SCENARIO_ROWS, int(spec.share * cfg.connections)))
        if spec.limit:
            count = min(count, spec.limit)
        actor = int(by_kind[_KIND_INDEX[spec.actor]][0])
        runs.append(_ScenarioRun(i, spec, choice.offset, count, actor, cfg.seed * 1000 + 101 + i))
    attacks = sum(r.count for r in runs)
    if attacks > MAX_ATTACK_SHARE * cfg.connections:
        raise ConfigError(
            f"the enabled scenarios need {attacks:,} connections, more than half of "
            f"--connections {cfg.connections:,}; raise --connections or enable fewer scenarios"
        )
    return runs


def _human_cdf(cfg: SimConfig, grid: np.ndarray) -> np.ndarray:
    """Cumulative share of human activity over the capture (piecewise-linear by hour)."""
    hours = ((cfg.start + grid) / 3600.0) % 24.0
    knots = np.asarray(DIURNAL + DIURNAL[:1])
    rate = np.interp(hours, np.arange(25.0), knots)
    cum = np.concatenate([[0.0], np.cumsum((rate[1:] + rate[:-1]) / 2 * np.diff(grid))])
    out: np.ndarray = cum / cum[-1]
    return out


def _windows(
    cfg: SimConfig,
    grid: np.ndarray,
    human_cdf: np.ndarray,
    n_flat: int,
    n_human: int,
    runs: list[_ScenarioRun],
) -> np.ndarray:
    """Window edges such that each window expects about CHUNK_ROWS connections."""
    cum = n_human * human_cdf + n_flat * grid / cfg.duration + 1e-9 * grid
    for r in runs:
        span = max(r.count * r.spec.interval, 1e-6)
        cum = cum + r.count * np.clip((grid - r.offset) / span, 0.0, 1.0)
    k = max(1, math.ceil(cfg.connections / CHUNK_ROWS))
    cuts = np.interp(np.arange(1, k) * cum[-1] / k, cum, grid)
    return np.concatenate([[0.0], cuts, [cfg.duration]])


def make_plan(cfg: SimConfig) -> Plan:
    """Hosts and their kinds, routines, scenario sizes and the time windows, from the seed."""
    rng = np.random.default_rng([cfg.seed, 0x504C414E])
    small = cfg.hosts <= 253
    lan, base = ("192.168.1.0/24", _ip("192.168.1.0")) if small else ("10.0.0.0/8", _ip("10.0.0.0"))
    kinds = _assign_kinds(rng, cfg.hosts)
    by_kind = [np.flatnonzero(kinds == i) for i in range(len(DEVICE_KINDS))]
    mult = np.exp(rng.standard_normal(cfg.hosts) - 0.5)  # busy and quiet devices, mean 1
    cum_activity = [np.cumsum(mult[h]) for h in by_kind]
    habits = []
    for kind in DEVICE_KINDS:
        names = [s for s, _ in kind.habits]
        w = np.array([w if _usable(s, by_kind) else 0.0 for s, w in kind.habits])
        habits.append((np.array([_SERVICE_INDEX[s] for s in names]), np.cumsum(w) / w.sum()))
    runs = _scenario_runs(cfg, by_kind)
    benign = cfg.connections - sum(r.count for r in runs)
    streams = _build_streams(rng, cfg, by_kind, int(MAX_PERIODIC_SHARE * benign))
    n_periodic = int(np.maximum(np.ceil((cfg.duration - streams.phase) / streams.period), 0).sum())
    weight = np.array([len(h) * k.activity for h, k in zip(by_kind, DEVICE_KINDS, strict=True)])
    human = np.array([k.human for k in DEVICE_KINDS])
    share_h = weight[human].sum() / weight.sum()
    n_random = benign - n_periodic
    n_human = int(round(n_random * share_h))
    grid = np.linspace(0.0, cfg.duration, int(min(200_000, max(1000, cfg.duration))) + 1)
    hcdf = _human_cdf(cfg, grid)
    return Plan(
        cfg=cfg,
        lan=lan,
        gateway=base + 1,
        first_host=base + 2,
        kinds=kinds,
        by_kind=by_kind,
        cum_activity=cum_activity,
        habits=habits,
        streams=streams,
        scenarios=runs,
        n_human=n_human,
        n_iot=n_random - n_human,
        n_periodic=n_periodic,
        windows=_windows(cfg, grid, hcdf, n_random - n_human + n_periodic, n_human, runs),
        grid=grid,
        human_cdf=hcdf,
        class_weights=(np.where(human, weight, 0.0), np.where(human, 0.0, weight)),
        pools=_pool_sizes(cfg.hosts),
    )


# --------------------------------------------------------------------------- one window
def _responders(plan: Plan, svc: Service, host: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Responder address per connection for a benign service's destination class."""
    n = len(host)
    dst, seed = svc.dst, plan.cfg.seed
    if dst == "gateway":
        return np.full(n, plan.gateway, np.uint32)
    if dst in ("mdns", "ssdp"):
        return np.full(n, _ip(_MDNS if dst == "mdns" else _SSDP), np.uint32)
    if dst == "public-dns":  # each device sticks to one resolver
        dns = np.array([_ip(a) for a in _PUBLIC_DNS], np.uint32)
        out: np.ndarray = dns[(_mix(host, seed + 3) % np.uint64(len(dns))).astype(np.intp)]
        return out
    if dst in _LAN_DST:  # a NAS / printer / TV of the network, fixed per device
        peers = plan.by_kind[_KIND_INDEX[_LAN_DST[dst]]]
        pick = (_mix(host, seed + 5) % np.uint64(len(peers))).astype(np.intp)
        return plan.host_ip(peers[pick])
    if dst == "iot-cloud":  # three vendors per kind of device, two servers each
        vendor = plan.kinds[host].astype(np.int64) * 3 + (
            _mix(host, seed + 9) % np.uint64(3)
        ).astype(np.int64)
        return _public_ip(vendor * 2 + (u * 2).astype(np.int64), seed * 31 + 17)
    size = plan.pools[dst]
    return _public_ip(_zipf_index(u, size), seed * 31 + sorted(plan.pools).index(dst))


def _service_rows(
    plan: Plan,
    rng: np.random.Generator,
    svc: Service,
    t: np.ndarray,
    host: np.ndarray,
    u: np.ndarray,
    floor_us: int,
) -> np.ndarray:
    """Benign connections of one service from ``host`` at times ``t`` (seconds)."""
    ts = np.maximum(plan.start_us + np.rint(t * _US).astype(np.int64), floor_us)
    rp = np.asarray(svc.ports, np.int64)[rng.integers(0, len(svc.ports), len(t))]
    outcome = _outcome_codes(rng, svc, len(t))
    return build_rows(
        rng, svc, ts, plan.host_ip(host), _responders(plan, svc, host, u), rp, outcome, 0
    )


def _random_hosts(
    plan: Plan, rng: np.random.Generator, n: int, cls: int
) -> tuple[np.ndarray, np.ndarray]:
    """(host, service index) of ``n`` on-demand connections of one activity class."""
    kind = _choose(rng, plan.class_weights[cls], n)
    host = np.empty(n, np.int64)
    svc = np.empty(n, np.int64)
    for k in np.unique(kind):
        m = kind == k
        cum = plan.cum_activity[k]
        pick = np.searchsorted(cum, rng.random(int(m.sum())) * cum[-1], side="right")
        host[m] = plan.by_kind[k][np.minimum(pick, len(cum) - 1)]
        ids, cdf = plan.habits[k]
        svc[m] = ids[
            np.minimum(np.searchsorted(cdf, rng.random(int(m.sum())), side="right"), len(ids) - 1)
        ]
    return host, svc


def _benign_window(plan: Plan, rng: np.random.Generator, a: float, b: float) -> list[np.ndarray]:
    cfg = plan.cfg
    floor_us = plan.start_us + round(a * _US)
    f_a, f_b = np.interp([a, b], plan.grid, plan.human_cdf)
    n_h = round(plan.n_human * f_b) - round(plan.n_human * f_a)
    n_i = round(plan.n_iot * b / cfg.duration) - round(plan.n_iot * a / cfg.duration)
    t_h = np.interp(rng.uniform(f_a, f_b, n_h), plan.human_cdf, plan.grid)
    t_i = rng.uniform(a, b, n_i)
    h_h, s_h = _random_hosts(plan, rng, n_h, 0)
    h_i, s_i = _random_hosts(plan, rng, n_i, 1)
    st = plan.streams
    idx, t_p = st.events(a, b)
    t_p = t_p + st.jitter[idx] * st.period[idx] * rng.uniform(-1.0, 1.0, len(idx))
    t = np.concatenate([t_h, t_i, t_p])
    host = np.concatenate([h_h, h_i, st.host[idx]])
    svc = np.concatenate([s_h, s_i, st.service[idx]])
    u = np.concatenate([rng.random(n_h + n_i), st.u[idx]])
    parts = []
    for s in np.unique(svc):
        m = svc == s
        parts.append(
            _service_rows(
                plan, rng, BENIGN_SERVICES[_SERVICE_LIST[s]], t[m], host[m], u[m], floor_us
            )
        )
    return parts


def _scenario_window(
    plan: Plan, rng: np.random.Generator, run: _ScenarioRun, a: float, b: float, last: bool
) -> np.ndarray:
    spec, svc = run.spec, run.spec.service
    i = run.due(a, b, last)
    n = len(i)
    t = np.maximum(
        run.nominal(i) + spec.jitter * spec.interval * rng.uniform(-1.0, 1.0, n), run.offset
    )
    ts = np.maximum(
        plan.start_us + np.rint(t * _US).astype(np.int64), plan.start_us + round(a * _US)
    )
    if spec.target == "fresh":
        rh = _public_ip(i, run.salt)
    elif spec.target == "victims":
        rh = _public_ip(i % 4, run.salt)
    elif spec.target == "one":
        rh = _public_ip(np.zeros(n, np.int64), run.salt)
    elif spec.target == "nas":
        rh = np.full(n, plan.host_ip(plan.by_kind[_KIND_INDEX["nas"]][:1])[0], np.uint32)
    else:
        rh = np.full(n, plan.gateway, np.uint32)
    if spec.ports == "sweep":  # a permutation of 1..65535 (7919 is prime to 65535)
        rp = 1 + (i * 7919 + run.salt) % 65535
    elif spec.ports == "random":
        rp = rng.integers(1, 65536, n)
    else:
        rp = np.asarray(svc.ports, np.int64)[rng.integers(0, len(svc.ports), n)]
    outcome = _outcome_codes(rng, svc, n)
    if spec.open_ports:
        outcome = np.where(
            np.isin(rp, spec.open_ports), _OUTCOME_NAMES.index(spec.open_outcome), outcome
        )
    oh = plan.host_ip(np.full(n, run.actor, np.int64))
    return build_rows(rng, svc, ts, oh, rh, rp, outcome, run.index + 1)


def window_rows(plan: Plan, k: int) -> np.ndarray:
    """All connections that start in window ``k`` (unsorted)."""
    a, b = float(plan.windows[k]), float(plan.windows[k + 1])
    last = k == len(plan.windows) - 2
    rng = np.random.default_rng([plan.cfg.seed, k, 1])
    parts = _benign_window(plan, rng, a, b)
    for run in plan.scenarios:
        srng = np.random.default_rng([plan.cfg.seed, k, 3, run.index])
        parts.append(_scenario_window(plan, srng, run, a, b, last))
    return np.concatenate(parts) if parts else np.zeros(0, ROW)


# --------------------------------------------------------------------------- formatting
def _table(words: Sequence[str]) -> np.ndarray:
    """A NUL-padded byte matrix, one row per word, for vectorised lookups."""
    w = max(1, max(len(s) for s in words))
    m = np.zeros((len(words), w), np.uint8)
    for i, s in enumerate(words):
        m[i, : len(s)] = np.frombuffer(s.encode("ascii"), np.uint8)
    return m


def _digits(x: np.ndarray, width: int | None = None, strip: bool = True) -> np.ndarray:
    """Decimal digits of non-negative ints as ASCII, one row each; leading zeros are NUL
    (dropped later) unless ``strip`` is False. Built digit by digit in column-major order,
    which is several times faster than broadcasting divisions over a matrix."""
    top = int(x.max()) if len(x) else 0
    x = x.astype(np.int32 if top < 2**31 else np.int64)  # 32-bit division is faster
    if width is None:
        width = len(str(top))
    out = np.empty((width, len(x)), np.uint8)
    y = x
    for j in range(width - 1, -1, -1):
        q = y // 10
        np.subtract(y, q * 10, out=out[j], casting="unsafe")
        out[j] += 48
        if strip and j < width - 1:
            out[j] *= x >= 10 ** (width - 1 - j)
        y = q
    rows: np.ndarray = out.T
    return rows


_DASH = ord("-")
_COMPACT_ROWS = 4096


def _unset(m: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Zeek's TSV unset marker ``-`` where ``mask``."""
    m[mask] = 0
    m[mask, 0] = _DASH
    return m


def _micros(x: np.ndarray, strip: bool) -> np.ndarray:
    """Microseconds as seconds with six decimals (TSV) or trailing zeros stripped (JSON)."""
    x = np.maximum(x, 0)
    frac = _digits(x % _US, 6, strip=False).copy()
    dot = np.full((len(x), 1), ord("."), np.uint8)
    if strip:
        zero = np.logical_and.accumulate(frac[:, ::-1] == 48, axis=1)[:, ::-1]
        frac[zero] = 0
        dot[zero[:, 0], 0] = 0
    return np.hstack([_digits(x // _US), dot, frac])


def _uint(x: np.ndarray) -> np.ndarray:
    return _unset(_digits(np.maximum(x, 0)), x < 0)


def _ipv4(ip: np.ndarray) -> np.ndarray:
    a = ip.astype(np.int64)
    dot = np.full((len(a), 1), ord("."), np.uint8)
    parts = []
    for shift in (24, 16, 8, 0):
        parts += [_digits((a >> shift) & 255, 3), dot]
    return np.hstack(parts[:-1])


def _assemble(parts: list[bytes | np.ndarray], n: int) -> bytes:
    """Concatenate per-row byte columns and constants, then drop the NUL padding."""
    widths = [len(p) if isinstance(p, bytes) else p.shape[1] for p in parts]
    m = np.empty((n, sum(widths)), np.uint8)
    col = 0
    for p, w in zip(parts, widths, strict=True):
        m[:, col : col + w] = np.frombuffer(p, np.uint8) if isinstance(p, bytes) else p
        col += w
    # np.compress is the fastest way to drop the NULs, but it builds an index array
    # 8 bytes per input byte: compact a block of rows at a time to bound that.
    out = []
    for i in range(0, n, _COMPACT_ROWS):
        flat = m[i : i + _COMPACT_ROWS].ravel()
        out.append(np.compress(flat.astype(bool), flat).tobytes())
    return b"".join(out)


@dataclass(frozen=True)
class _Vocab:
    """Byte tables for the categorical columns (labels depend on the enabled scenarios)."""

    proto: np.ndarray = field(default_factory=lambda: _table(PROTOS))
    ip_proto: np.ndarray = field(default_factory=lambda: _table(_IP_PROTO))
    service: np.ndarray = field(default_factory=lambda: _table(ZEEK_SERVICES))
    state: np.ndarray = field(default_factory=lambda: _table(STATES))
    history: np.ndarray = field(default_factory=lambda: _table(HISTORIES))
    tsv_bool: np.ndarray = field(default_factory=lambda: _table(("F", "T")))
    json_bool: np.ndarray = field(default_factory=lambda: _table(("false", "true")))
    label: np.ndarray = field(default_factory=lambda: _table(("Benign", "Malicious")))
    detail: np.ndarray = field(default_factory=lambda: _table(("-",)))


def _uids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Zeek-looking connection ids: ``C`` and 17 base62 characters."""
    c = np.full((n, 1), ord("C"), np.uint8)
    return np.hstack([c, _UID_ALPHABET[rng.integers(0, 62, (n, 17))]])


def format_tsv(rows: np.ndarray, uids: np.ndarray, v: _Vocab) -> bytes:
    """Rows as Zeek TSV lines (``-`` for unset, ``T``/``F`` bools, six-decimal times)."""
    lo, lr = is_local(rows["oh"]).astype(np.intp), is_local(rows["rh"]).astype(np.intp)
    mal = (rows["lab"] > 0).astype(np.intp)
    t = b"\t"
    parts: list[bytes | np.ndarray] = [
        _micros(rows["ts"], False), t, uids, t, _ipv4(rows["oh"]), t, _digits(rows["op"]), t,
        _ipv4(rows["rh"]), t, _digits(rows["rp"]), t, v.proto[rows["proto"]], t,
        v.service[rows["svc"]], t, _unset(_micros(rows["dur"], False), rows["dur"] < 0), t,
        _uint(rows["ob"]), t, _uint(rows["rb"]), t, v.state[rows["state"]], t, v.tsv_bool[lo], t,
        v.tsv_bool[lr], b"\t0\t", v.history[rows["hist"]], t, _digits(rows["opk"]), t,
        _digits(rows["oip"]), t, _digits(rows["rpk"]), t, _digits(rows["rip"]), b"\t-\t",
        v.ip_proto[rows["proto"]], t, v.label[mal], t, v.detail[rows["lab"]], b"\n",
    ]  # fmt: skip
    return _assemble(parts, len(rows))


def _optional(key: bytes, value: np.ndarray, unset: np.ndarray, quote: bool = False) -> np.ndarray:
    """``,"key":value`` per row, all NUL (omitted) where ``unset``, as Zeek's JSON writer does."""
    n = len(value)
    q = [np.full((n, 1), ord('"'), np.uint8)] if quote else []
    head = np.broadcast_to(np.frombuffer(b',"' + key + b'":', np.uint8), (n, len(key) + 4))
    m = np.hstack([head, *q, value, *q])
    m[unset] = 0
    return m


def format_json(rows: np.ndarray, uids: np.ndarray, v: _Vocab) -> bytes:
    """Rows as Zeek JSON lines: flat ``id.*`` keys, unset fields left out."""
    lo, lr = is_local(rows["oh"]).astype(np.intp), is_local(rows["rh"]).astype(np.intp)
    mal = (rows["lab"] > 0).astype(np.intp)
    dur, svc, hist = rows["dur"], rows["svc"], rows["hist"]
    parts: list[bytes | np.ndarray] = [
        b'{"ts":', _micros(rows["ts"], True), b',"uid":"', uids, b'","id.orig_h":"',
        _ipv4(rows["oh"]), b'","id.orig_p":', _digits(rows["op"]), b',"id.resp_h":"',
        _ipv4(rows["rh"]), b'","id.resp_p":', _digits(rows["rp"]), b',"proto":"',
        v.proto[rows["proto"]], b'"', _optional(b"service", v.service[svc], svc == 0, True),
        _optional(b"duration", _micros(dur, True), dur < 0),
        _optional(b"orig_bytes", _digits(np.maximum(rows["ob"], 0)), rows["ob"] < 0),
        _optional(b"resp_bytes", _digits(np.maximum(rows["rb"], 0)), rows["rb"] < 0),
        b',"conn_state":"', v.state[rows["state"]], b'","local_orig":', v.json_bool[lo],
        b',"local_resp":', v.json_bool[lr], b',"missed_bytes":0',
        _optional(b"history", v.history[hist], hist == 0, True), b',"orig_pkts":',
        _digits(rows["opk"]), b',"orig_ip_bytes":', _digits(rows["oip"]), b',"resp_pkts":',
        _digits(rows["rpk"]), b',"resp_ip_bytes":', _digits(rows["rip"]), b',"ip_proto":',
        v.ip_proto[rows["proto"]], b',"label":"', v.label[mal], b'"',
        _optional(b"detailed-label", v.detail[rows["lab"]], rows["lab"] == 0, True), b"}\n",
    ]  # fmt: skip
    return _assemble(parts, len(rows))


def _zeek_time(epoch: float) -> str:
    """Zeek's #open/#close stamp (UTC here, from the simulated clock)."""
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d-%H-%M-%S")


def tsv_header(open_ts: float) -> bytes:
    """The header lines Zeek 8 writes at the top of conn.log, plus the label columns."""
    lines = [
        "#separator \\x09",
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        "#path\tconn",
        f"#open\t{_zeek_time(open_ts)}",
        "#fields\t" + "\t".join(LOG_FIELDS),
        "#types\t" + "\t".join(ZEEK_TYPES[f] for f in LOG_FIELDS),
    ]
    return ("\n".join(lines) + "\n").encode("ascii")


# --------------------------------------------------------------------------- the run
@dataclass
class SimResult:
    """What was written: counts per label and scenario, timing, the ground truth."""

    rows: int = 0
    seconds: float = 0.0
    counts: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    first_ts: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    last_ts: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    last_end_us: int = 0
    truth: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def _account(res: SimResult, rows: np.ndarray, end: np.ndarray) -> None:
    lab = rows["lab"].astype(np.intp)
    res.rows += len(rows)
    counts = np.bincount(lab, minlength=len(res.counts))
    res.counts += counts
    for j in np.flatnonzero(counts):
        ts = rows["ts"][lab == j]
        first = int(ts.min())
        res.first_ts[j] = first if res.first_ts[j] == 0 else min(int(res.first_ts[j]), first)
        res.last_ts[j] = max(int(res.last_ts[j]), int(ts.max()))
    res.last_end_us = max(res.last_end_us, int(end.max()))


def _in_end_order(plan: Plan) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(rows, uids, end times) in Zeek's write order, at most CHUNK_ROWS at a time.

    Rows of a window whose connection ends after the window wait for a later one, so
    ends never decrease (windows start where the previous ones end).
    """
    pending = np.zeros(0, ROW)
    n_win = len(plan.windows) - 1
    for k in range(n_win):
        rows = np.concatenate([pending, window_rows(plan, k)])
        end = rows["ts"] + np.maximum(rows["dur"], 0)
        edge = plan.start_us + round(float(plan.windows[k + 1]) * _US)
        done = np.ones(len(rows), bool) if k == n_win - 1 else end < edge
        idx = np.flatnonzero(done)
        idx = idx[np.argsort(end[idx], kind="stable")]
        emit, emit_end, pending = rows[idx], end[idx], rows[~done]
        uid_rng = np.random.default_rng([plan.cfg.seed, k, 2])
        for i in range(0, len(emit), CHUNK_ROWS):  # the last window flushes the buffer too
            part = emit[i : i + CHUNK_ROWS]
            yield part, _uids(uid_rng, len(part)), emit_end[i : i + CHUNK_ROWS]


def _labels(plan: Plan) -> list[str]:
    """detailed-label per row label code (0 = benign, ``-``)."""
    return ["-"] + [r.spec.label for r in plan.scenarios]


def simulate(
    cfg: SimConfig, out: IO[bytes], progress: Callable[[int], None] | None = None
) -> SimResult:
    """Write the simulated capture to ``out``; return counts and the ground truth.

    Rows leave in non-decreasing end time (``ts + duration``): Zeek logs a connection
    when it is over. Same config, same bytes.
    """
    t0 = time.perf_counter()
    plan = make_plan(cfg)
    vocab = _Vocab(detail=_table(_labels(plan)))
    fmt = format_tsv if cfg.fmt == "tsv" else format_json
    nlab = 1 + len(plan.scenarios)
    res = SimResult(
        counts=np.zeros(nlab, np.int64),
        first_ts=np.zeros(nlab, np.int64),
        last_ts=np.zeros(nlab, np.int64),
        last_end_us=plan.start_us,
    )
    if cfg.fmt == "tsv":
        out.write(tsv_header(cfg.start))
    for rows, uids, end in _in_end_order(plan):
        out.write(fmt(rows, uids, vocab))
        _account(res, rows, end)
        if progress is not None:
            progress(len(rows))
    if cfg.fmt == "tsv":
        close = max(res.last_end_us / _US, cfg.start + cfg.duration)
        out.write(f"#close\t{_zeek_time(close)}\n".encode("ascii"))
    res.seconds = time.perf_counter() - t0
    if res.rows != cfg.connections:  # the plan's counts are exact; anything else is a bug
        raise AssertionError(f"wrote {res.rows} rows, planned {cfg.connections}")
    res.truth = ground_truth(plan, res)
    return res


def iter_records(plan: Plan) -> Iterator[list[ConnRecord]]:
    """The connections :func:`simulate` writes for ``plan.cfg``, as ConnRecords, by chunk.

    For benchmarks that need many records without writing and parsing a file; what
    the reader makes of the written log is exactly this (a test checks it).
    """
    details: list[str | None] = [None, *_labels(plan)[1:]]
    svc: list[str | None] = [None, *ZEEK_SERVICES[1:]]
    hist: list[str | None] = [None, *HISTORIES[1:]]
    for rows, uids, _ in _in_end_order(plan):
        lab = rows["lab"].tolist()
        dur, ob, rb = rows["dur"].tolist(), rows["ob"].tolist(), rows["rb"].tolist()
        cols = zip(
            (rows["ts"] / _US).tolist(),
            uids.view("S18").ravel().astype(str).tolist(),
            (_ip_text(x) for x in rows["oh"].tolist()),
            rows["op"].tolist(),
            (_ip_text(x) for x in rows["rh"].tolist()),
            rows["rp"].tolist(),
            rows["proto"].tolist(),
            rows["svc"].tolist(),
            dur,
            ob,
            rb,
            rows["state"].tolist(),
            is_local(rows["oh"]).tolist(),
            is_local(rows["rh"]).tolist(),
            rows["hist"].tolist(),
            rows["opk"].tolist(),
            rows["oip"].tolist(),
            rows["rpk"].tolist(),
            rows["rip"].tolist(),
            lab,
            strict=True,
        )
        yield [
            ConnRecord(
                ts=ts, uid=uid, orig_h=oh, orig_p=op, resp_h=rh, resp_p=rp, proto=PROTOS[pr],
                service=svc[sv], duration=d / _US if d >= 0 else None,
                orig_bytes=o if o >= 0 else None, resp_bytes=r if r >= 0 else None,
                conn_state=STATES[st], local_orig=lo, local_resp=lr, missed_bytes=0,
                history=hist[h], orig_pkts=opk, orig_ip_bytes=oip, resp_pkts=rpk,
                resp_ip_bytes=rip, ip_proto=int(_IP_PROTO[pr]),
                label="Malicious" if lb else "Benign", detailed_label=details[lb],
            )
            for (ts, uid, oh, op, rh, rp, pr, sv, d, o, r, st, lo, lr, h, opk, oip, rpk, rip, lb)
            in cols
        ]  # fmt: skip


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def ground_truth(plan: Plan, res: SimResult) -> dict[str, Any]:
    """The summary written next to the log: parameters, network, scenarios, label counts."""
    cfg = plan.cfg
    scen = []
    for r in plan.scenarios:
        j = r.index + 1
        target = {
            "fresh": "a new public address per connection",
            "victims": ", ".join(_ip_text(int(a)) for a in _public_ip(np.arange(4), r.salt)),
            "one": _ip_text(int(_public_ip(np.zeros(1, np.int64), r.salt)[0])),
            "nas": _ip_text(int(plan.host_ip(plan.by_kind[_KIND_INDEX["nas"]][:1])[0])),
            "gateway": _ip_text(plan.gateway),
        }[r.spec.target]
        scen.append(
            {
                "name": r.spec.name,
                "label": "Malicious",
                "detailed_label": r.spec.label,
                "actor": _ip_text(int(plan.host_ip(np.array([r.actor]))[0])),
                "actor_kind": r.spec.actor,
                "target": target,
                "start": _iso(cfg.start + r.offset),
                "start_offset_s": round(r.offset, 3),
                "interval_s": r.spec.interval,
                "connections": int(res.counts[j]),
                "first_ts": int(res.first_ts[j]) / _US if res.counts[j] else None,
                "last_ts": int(res.last_ts[j]) / _US if res.counts[j] else None,
                "about": r.spec.about,
            }
        )
    detailed: dict[str, int] = {"-": int(res.counts[0])}
    for r in plan.scenarios:
        detailed[r.spec.label] = detailed.get(r.spec.label, 0) + int(res.counts[r.index + 1])
    return {
        "generator": f"hamad simulate (hamad {__version__})",
        "note": "simulated traffic; detection figures on it are not evidence on real traffic",
        "seed": cfg.seed,
        "parameters": {
            "connections": cfg.connections,
            "hosts": cfg.hosts,
            "duration_s": cfg.duration,
            "start": _iso(cfg.start),
            "format": cfg.fmt,
            "scenarios": [f"{c.name}@{c.offset:g}s" for c in cfg.scenarios],
        },
        "network": {
            "lan": plan.lan,
            "gateway": _ip_text(plan.gateway),
            "hosts_by_kind": {
                k.name: int(len(h))
                for k, h in zip(DEVICE_KINDS, plan.by_kind, strict=True)
                if len(h)
            },
            "periodic_streams": int(len(plan.streams.host)),
            "periodic_connections": plan.n_periodic,
        },
        "capture": {"start": _iso(cfg.start), "end": _iso(cfg.start + cfg.duration)},
        "rows": res.rows,
        "labels": {"Benign": int(res.counts[0]), "Malicious": int(res.counts[1:].sum())},
        "detailed_labels": detailed,
        "scenarios": scen,
    }


def write_truth(path: str, truth: dict[str, Any]) -> None:
    with open(path, "w") as fh:
        json.dump(truth, fh, indent=1)
        fh.write("\n")
