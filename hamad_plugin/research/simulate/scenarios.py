"""The labelled attack scenarios (IoT-23-style detailed labels) and their listing.

Why it exists: each scenario is data (actor, target, rate, share, a :class:`Service`);
the plan sizes them and the window generator draws them, and ``--list-scenarios``
prints this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .services import Service, _svc
from .zeek import TCP, UDP


@dataclass(frozen=True)
class Scenario:
    """A labelled attack: who, against what, how often, from when, and how big at most.

    Connections come every ``interval`` seconds (+- ``jitter`` x interval) from
    ``start`` x capture length, ``limit`` of them at most (0: until the capture ends),
    and never more than ``share`` x --connections (at least :data:`~.plan.MIN_SCENARIO_ROWS`).
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


def list_scenarios() -> str:
    """The scenario table for ``hamad simulate --list-scenarios``."""
    lines = [f"{'name':<18} {'detailed-label':<26} {'actor':<7} {'start':>5}  what"]
    for s in SCENARIOS.values():
        lines.append(f"{s.name:<18} {s.label:<26} {s.actor:<7} {s.start:>5.0%}  {s.about}")
    return "\n".join(lines)
