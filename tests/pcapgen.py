#!/usr/bin/env python3
"""Writes small synthetic pcap traces for the real-Zeek tests (stdlib only).

The repository ships no third-party captures, so the tests that run Zeek on
packets make their own: a home network behind a gateway with a few ordinary
connections (DNS, HTTPS, ICMP, an IGMP report, NTP), one long SSH session that
is still open when the trace ends, and an attack pattern: a vertical port
scan of one host (every port answered with RST) plus a Telnet sweep of the
local /24 (SYNs nobody answers). Checksums are not filled in (run Zeek with
``-C``). Deterministic: the same arguments give the same bytes.

    python3 tests/pcapgen.py out.pcap              # the default trace
    python3 tests/pcapgen.py out.pcap --no-attack  # benign part only
    python3 tests/pcapgen.py out.pcap --site 2     # other addresses (a second sensor)
    python3 tests/pcapgen.py out.pcap --bulk 50000 # plus 50,000 short web sessions (benchmarks)
"""

from __future__ import annotations

import argparse
import ipaddress
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

# 2026-01-01 00:00:00.000137 UTC: sub-millisecond digits show whether a path keeps microseconds.
T0 = 1_767_225_600.000137
ETH_GW = bytes.fromhex("020000000001")
ETH_HOST = bytes.fromhex("020000000002")
SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10


@dataclass
class Trace:
    """Packets (timestamp, frame) collected out of order and written sorted."""

    packets: list[tuple[float, bytes]] = field(default_factory=list)

    def add(self, ts: float, frame: bytes) -> None:
        self.packets.append((ts, frame))

    def write(self, path: str) -> int:
        self.packets.sort(key=lambda p: p[0])
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
            for ts, frame in self.packets:
                sec = int(ts)
                usec = int(round((ts - sec) * 1e6))
                f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
                f.write(frame)
        return len(self.packets)


def _ip(src: str, dst: str, proto: int, payload: bytes, ident: int = 1) -> bytes:
    hdr = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, 0, 64, proto, 0,
        ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed,
    )  # fmt: skip
    return ETH_GW + ETH_HOST + b"\x08\x00" + hdr + payload


def tcp(
    src: str, sp: int, dst: str, dp: int, flags: int, seq: int, ack: int, data: bytes = b""
) -> bytes:
    seg = struct.pack(
        "!HHIIBBHHH", sp, dp, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0
    )
    return _ip(src, dst, 6, seg + data)


def udp(src: str, sp: int, dst: str, dp: int, data: bytes) -> bytes:
    return _ip(src, dst, 17, struct.pack("!HHHH", sp, dp, 8 + len(data), 0) + data)


def icmp_echo(src: str, dst: str, reply: bool, ident: int, seq: int) -> bytes:
    return _ip(src, dst, 1, struct.pack("!BBHHH", 0 if reply else 8, 0, 0, ident, seq) + b"x" * 32)


def igmp_report(src: str, group: str) -> bytes:
    return _ip(
        src, group, 2, struct.pack("!BBH4s", 0x16, 0, 0, ipaddress.IPv4Address(group).packed)
    )


def dns_query(qid: int, name: str) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + struct.pack("!HH", 1, 1)


def dns_answer(qid: int, name: str, addr: str) -> bytes:
    q = dns_query(qid, name)
    body = q[12:]
    rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + ipaddress.IPv4Address(addr).packed
    return struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + body + rr


def _segments(n: int, mss: int = 1448) -> list[int]:
    """Payload sizes of ``n`` bytes sent in segments of at most ``mss`` (Ethernet-sized frames)."""
    return [min(mss, n - i) for i in range(0, n, mss)]


def tcp_session(
    t: Trace,
    ts: float,
    cli: str,
    sp: int,
    srv: str,
    dp: int,
    exchanges: list[tuple[int, int]],
    gap: float = 0.05,
    close: bool = True,
) -> float:
    """A full TCP session: handshake, (client bytes, server bytes) exchanges, FIN/ACK."""
    cs, ss = 1000, 5000
    t.add(ts, tcp(cli, sp, srv, dp, SYN, cs, 0))
    t.add(ts + 0.01, tcp(srv, dp, cli, sp, SYN | ACK, ss, cs + 1))
    t.add(ts + 0.02, tcp(cli, sp, srv, dp, ACK, cs + 1, ss + 1))
    cs, ss, now = cs + 1, ss + 1, ts + 0.02
    for out_b, in_b in exchanges:
        now += gap
        for size in _segments(out_b):
            t.add(now, tcp(cli, sp, srv, dp, PSH | ACK, cs, ss, b"c" * size))
            cs += size
            now += 0.0001
        for size in _segments(in_b):
            t.add(now + 0.01, tcp(srv, dp, cli, sp, PSH | ACK, ss, cs, b"s" * size))
            ss += size
            now += 0.0001
    if close:
        now += gap
        t.add(now, tcp(cli, sp, srv, dp, FIN | ACK, cs, ss))
        t.add(now + 0.01, tcp(srv, dp, cli, sp, FIN | ACK, ss, cs + 1))
        t.add(now + 0.02, tcp(cli, sp, srv, dp, ACK, cs + 1, ss + 1))
    return now


def benign(t: Trace, net: str) -> None:
    """Ordinary traffic of a small site with gateway ``<net>.1``."""
    gw, laptop, phone, tv = f"{net}.1", f"{net}.10", f"{net}.11", f"{net}.20"
    for i, (host, name) in enumerate(
        [(laptop, "example.org"), (phone, "updates.example.com"), (tv, "cdn.example.net")]
    ):
        ts = T0 + 1 + i * 3
        t.add(ts, udp(host, 40000 + i, gw, 53, dns_query(0x100 + i, name)))
        t.add(ts + 0.02, udp(gw, 53, host, 40000 + i, dns_answer(0x100 + i, name, "93.184.216.34")))
        tcp_session(t, ts + 0.1, host, 50000 + i, "93.184.216.34", 443,
                    [(517, 4000), (90, 1200), (300, 25000)])  # fmt: skip
    for seq in range(4):
        t.add(T0 + 20 + seq, icmp_echo(laptop, "9.9.9.9", False, 77, seq))
        t.add(T0 + 20.02 + seq, icmp_echo("9.9.9.9", laptop, True, 77, seq))
    t.add(T0 + 25, igmp_report(tv, "224.0.0.251"))
    t.add(T0 + 30, udp(phone, 123, "162.159.200.1", 123, b"\x23" + b"\x00" * 47))
    t.add(T0 + 30.03, udp("162.159.200.1", 123, phone, 123, b"\x24" + b"\x00" * 47))
    # A long SSH session to the NAS, still open when the trace ends (no FIN):
    # its duration passes 1 min, so Zeek sends an interim summary on the way.
    cs, ss = 2001, 9001
    cli, srv = laptop, f"{net}.5"
    t.add(T0 + 2, tcp(cli, 51515, srv, 22, SYN, 2000, 0))
    t.add(T0 + 2.01, tcp(srv, 22, cli, 51515, SYN | ACK, 9000, 2001))
    t.add(T0 + 2.02, tcp(cli, 51515, srv, 22, ACK, 2001, 9001))
    for k in range(9):
        now = T0 + 5 + k * 15
        t.add(now, tcp(cli, 51515, srv, 22, PSH | ACK, cs, ss, b"k" * 48))
        cs += 48
        t.add(now + 0.01, tcp(srv, 22, cli, 51515, PSH | ACK, ss, cs, b"r" * 96))
        ss += 96
    # A DNS query nobody answered, at the very end (an open UDP connection).
    t.add(T0 + 139, udp(tv, 41000, gw, 53, dns_query(0x999, "late.example.com")))


def attack(t: Trace, net: str) -> None:
    """A vertical scan of one host (RSTs) and a Telnet sweep of the /24 (no answers)."""
    scanner, target = f"{net}.66", f"{net}.30"
    for i, dport in enumerate(range(1, 301)):
        ts = T0 + 40 + i * 0.01
        t.add(ts, tcp(scanner, 61000, target, dport, SYN, 7000 + i, 0))
        t.add(ts + 0.001, tcp(target, dport, scanner, 61000, RST | ACK, 0, 7001 + i))
    for host in range(100, 200):
        t.add(
            T0 + 60 + (host - 100) * 0.02,
            tcp(scanner, 62000 + host, f"{net}.{host}", 23, SYN, 1, 0),
        )


def bulk(t: Trace, net: str, n: int) -> None:
    """``n`` short HTTPS sessions from 50 hosts to 200 servers, 20 per second (load tests)."""
    for i in range(n):
        host = f"{net}.{100 + i % 50}"
        server = f"203.0.{113 + (i // 50) % 2}.{(i * 7) % 200 + 1}"
        tcp_session(t, T0 + 150 + i * 0.05, host, 20000 + i % 40000, server, 443,
                    [(200 + i % 700, 1000 + (i * 13) % 460)], gap=0.01)  # fmt: skip


def packets(site: int, with_attack: bool, n_bulk: int = 0) -> Iterator[tuple[float, bytes]]:
    t = Trace()
    net = f"192.168.{site}"
    benign(t, net)
    if with_attack:
        attack(t, net)
    if n_bulk:
        bulk(t, net, n_bulk)
    t.packets.sort(key=lambda p: p[0])
    yield from t.packets


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--no-attack", action="store_true")
    ap.add_argument("--site", type=int, default=1, help="third octet of the site's 192.168.x.0/24")
    ap.add_argument("--bulk", type=int, default=0, help="add this many short HTTPS sessions")
    args = ap.parse_args(argv)
    t = Trace(list(packets(args.site, not args.no_attack, args.bulk)))
    n = t.write(args.out)
    print(f"wrote {args.out}: {n} packets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
