"""Behaviour evidence on hand-made sequences: each detector fires on its behaviour,
stays quiet on the ordinary traffic that looks most like it, and keeps bounded state."""

from __future__ import annotations

import numpy as np
import pytest

from hamad_plugin.core.records import DUR, OB, OPK, RB, ConnColumns, ConnRecord
from hamad_plugin.scoring.behaviours import (
    Beacon,
    BehaviourEvidence,
    DnsTunnel,
    bowley_skew,
    regularity,
    robust_dispersion,
)


def conn(
    t: float,
    orig: str = "192.168.1.20",
    resp: str = "192.168.1.5",
    port: int = 22,
    proto: str = "tcp",
    state: str = "SF",
    history: str = "ShADadFf",
    dur: float = 2.0,
    ob: int = 1200,
    rb: int = 1800,
    pkts: int = 12,
    service: str | None = None,
    n: int = 0,
) -> ConnRecord:
    return ConnRecord(ts=t, uid=f"C{n}x{int(t * 1000)}", orig_h=orig, orig_p=40000 + n % 20000,
                      resp_h=resp, resp_p=port, proto=proto, service=service, duration=dur,
                      orig_bytes=ob, resp_bytes=rb, conn_state=state, history=history,
                      orig_pkts=pkts)  # fmt: skip


def run(recs: list[ConnRecord], ev: BehaviourEvidence | None = None) -> list[str]:
    ev = ev or BehaviourEvidence(["192.168.0.0/16"])
    recs = sorted(recs, key=lambda r: r.ts)
    cols = ConnColumns.from_records(recs)
    return ev.check(cols, np.array([r.ts for r in recs])).behaviour


def test_regularity_scores_a_metronome_high_and_noise_low() -> None:
    assert robust_dispersion([60, 60, 60, 60]) == 0.0
    assert bowley_skew([1, 2, 3, 4, 5]) == 0.0
    assert regularity([60.0] * 20) == 1.0
    rng = np.random.default_rng(0)
    assert regularity(rng.exponential(60.0, 200).tolist()) < 0.6


# ------------------------------------------------------------------ password guessing


def test_password_guessing_flags_a_burst_of_alike_short_logins() -> None:
    recs = [conn(10.0 * i, dur=1.5, ob=1100 + i % 3, rb=1700, n=i) for i in range(30)]
    got = run(recs)
    assert got[:9] == [""] * 9  # fewer than 10 attempts: no evidence yet
    assert got[9:] == ["password-guessing"] * 21


def test_password_guessing_ignores_interactive_sessions_and_slow_logins() -> None:
    # An admin's long SSH sessions (big, long) and an hourly backup login.
    sessions = [conn(300.0 * i, dur=900.0, ob=90000, rb=400000, n=i) for i in range(30)]
    hourly = [conn(3600.0 * i, orig="192.168.1.21", dur=3.0, n=i) for i in range(30)]
    assert set(run(sessions + hourly)) == {""}


def test_password_guessing_needs_the_same_exchange_each_time() -> None:
    # Short logins with payloads of every size (scp of small files) are not guessing.
    recs = [conn(10.0 * i, dur=1.0, ob=int(200 * 1.5 ** (i % 10)), rb=1700, n=i)
            for i in range(30)]  # fmt: skip
    assert set(run(recs)) == {""}


def test_ssh_on_another_port_counts_once_zeek_named_it_with_the_resets_beside_it() -> None:
    # nmap's ssh-brute on 902: full exchanges Zeek calls ssh, and banner probes it cannot name.
    recs = []
    for i in range(30):
        named = i % 2 == 0
        recs.append(conn(1.0 * i, port=902, service="ssh" if named else None, n=i,
                         ob=1744 if named else 24, rb=1839 if named else 22,
                         state="SF" if named else "RSTR"))  # fmt: skip
    got = run(recs)
    assert got[0] == "" and set(got[12:]) == {"password-guessing"}
    # Without a named login first, the same port is nobody's login service.
    assert set(run([r for r in recs if r.service is None])) == {""}


def test_a_telnet_sweep_is_a_scan_not_password_guessing() -> None:
    recs = [conn(2.0 * i, resp=f"10.9.{i}.7", port=23, state="S0", history="S", dur=0.0, ob=0,
                 rb=0, pkts=1, n=i) for i in range(30)]  # fmt: skip
    assert set(run(recs)[9:]) == {"scan"}


def test_password_guessing_spread_over_servers_counts_together() -> None:
    recs = [conn(10.0 * i, resp=f"192.168.1.{100 + i}", dur=1.2, ob=1100, n=i) for i in range(20)]
    assert run(recs)[-1] == "password-guessing"


# ------------------------------------------------------------------ scans


def test_a_slow_horizontal_scan_over_hours_is_seen() -> None:
    # One SYN every 20 minutes to a new host on 23: 18 probes over 6 h.
    recs = [conn(1200.0 * i, resp=f"10.9.{i}.7", port=23, state="S0", history="S", dur=0.0,
                 ob=0, rb=0, pkts=1, n=i) for i in range(18)]  # fmt: skip
    got = run(recs)
    assert got[:9] == [""] * 9 and got[9:] == ["scan"] * 9


def test_a_slow_vertical_scan_is_seen_and_failures_of_a_working_service_are_not() -> None:
    vertical = [conn(600.0 * i, resp="192.168.1.9", port=1000 + i, state="REJ", history="Sr",
                     dur=0.0, ob=0, rb=0, pkts=1, n=i) for i in range(15)]  # fmt: skip
    assert run(vertical)[-1] == "scan"
    # A laptop whose HTTPS mostly works: a few failures to many hosts on 443 are not a scan.
    mixed = []
    for i in range(60):
        failed = i % 5 == 0
        mixed.append(conn(60.0 * i, orig="192.168.1.30", resp=f"151.101.{i}.1", port=443,
                          state="S0" if failed else "SF", history="S" if failed else "ShADadFf",
                          ob=0 if failed else 900, n=i))  # fmt: skip
    assert set(run(mixed)) == {""}


def test_mid_connection_fragments_are_not_probes() -> None:
    # Zeek logs the rest of a long connection after an inactivity timeout: no SYN, no bytes.
    recs = [conn(30.0 * i, resp=f"52.216.{i}.3", port=80, state="SH", history="F", dur=0.0,
                 ob=0, rb=0, pkts=1, n=i) for i in range(40)]  # fmt: skip
    assert set(run(recs)) == {""}


# ------------------------------------------------------------------ DNS tunnelling


def test_dns_tunnel_flags_many_long_queries_only() -> None:
    ordinary = [conn(5.0 * i, resp="192.168.1.1", port=53, proto="udp", state="SF", history="Dd",
                     dur=0.01, ob=45, rb=120, pkts=1, n=i) for i in range(200)]  # fmt: skip
    tunnel = [conn(3.0 * i + 1.0, resp="192.168.1.1", port=53, proto="udp", state="SF",
                   history="Dd", dur=0.02, ob=230, rb=300, pkts=1, n=1000 + i)
              for i in range(30)]  # fmt: skip
    recs = sorted(ordinary + tunnel, key=lambda r: r.ts)
    got = dict(zip((r.uid for r in recs), run(recs), strict=True))
    assert all(got[r.uid] == "" for r in ordinary)
    hits = [got[r.uid] for r in sorted(tunnel, key=lambda r: r.ts)]
    k = DnsTunnel.MIN_QUERIES - 1
    assert hits[:k] == [""] * k and set(hits[k:]) == {"dns-tunnel"}


def test_a_few_long_queries_are_not_a_tunnel() -> None:
    # Antivirus or DNSBL lookups: a long name every 130 s (5 in any 10 minutes).
    recs = [conn(130.0 * i, port=53, proto="udp", history="Dd", dur=0.01, ob=180, rb=200, pkts=1,
                 n=i) for i in range(40)]  # fmt: skip
    assert set(run(recs)) == {""}


# ------------------------------------------------------------------ beacons


def _beacon(start: float, every: float, n: int, jitter: float, seed: int = 1,
            orig: str = "192.168.1.40", resp: str = "203.0.113.9") -> list[ConnRecord]:  # fmt: skip
    rng = np.random.default_rng(seed)
    return [conn(start + every * i + rng.uniform(-jitter, jitter) * every, orig=orig, resp=resp,
                 port=8080, dur=0.3, ob=310, rb=95, n=5000 + i) for i in range(n)]  # fmt: skip


def _background(hours: float) -> list[ConnRecord]:
    """Another host browsing: starts the detector's clock at 0."""
    return [conn(600.0 * i, orig="192.168.1.50", resp=f"198.51.100.{i % 200}", port=443,
                 ob=700 + 37 * i % 5000, n=i) for i in range(int(hours * 6))]  # fmt: skip


def test_a_new_jittered_heartbeat_is_a_beacon() -> None:
    recs = _background(8) + _beacon(start=2 * 3600.0, every=60.0, n=60, jitter=0.1)
    got = dict(zip((r.uid for r in sorted(recs, key=lambda r: r.ts)), run(recs), strict=True))
    beacon = [got[r.uid] for r in recs if r.resp_h == "203.0.113.9"]
    assert beacon[:12] == [""] * 12
    assert beacon[12:].count("beacon") >= 0.9 * len(beacon[12:])


def test_a_heartbeat_begun_in_the_first_hour_is_a_beacon() -> None:
    # The learning period is when an attacker would start: 15 minutes in, 15 polls after
    # the detector started watching; a keep-alive that ran before shows up in its first minute.
    recs = _background(8) + _beacon(start=900.0, every=60.0, n=60, jitter=0.1)
    got = dict(zip((r.uid for r in sorted(recs, key=lambda r: r.ts)), run(recs), strict=True))
    beacon = [got[r.uid] for r in recs if r.resp_h == "203.0.113.9"]
    assert beacon[12:].count("beacon") >= 0.9 * len(beacon[12:])


def test_random_polling_a_shared_cloud_and_an_old_keepalive_are_not_beacons() -> None:
    rng = np.random.default_rng(3)
    t = 2 * 3600.0 + np.cumsum(rng.exponential(60.0, 80))
    irregular = [conn(float(x), orig="192.168.1.41", resp="203.0.113.10", port=8080, dur=0.3,
                      ob=int(rng.integers(200, 4000)), n=i) for i, x in enumerate(t)]  # fmt: skip
    shared = _beacon(2 * 3600.0, 60.0, 60, 0.05, orig="192.168.1.42", resp="203.0.113.11")
    shared += [conn(2 * 3600.0 + 3.0, orig="192.168.1.43", resp="203.0.113.11", port=443)]
    # A device's keep-alive that ran before the detector started watching.
    keepalive = _beacon(0.0, 60.0, 300, 0.02, orig="192.168.1.44", resp="203.0.113.12")
    recs = _background(8) + irregular + shared + keepalive
    assert "beacon" not in run(recs)


def test_beacon_score_is_robust_to_one_missed_poll() -> None:
    times = [60.0 * i for i in range(40) if i != 17]
    assert Beacon.score(times, [310.0] * len(times)) > 0.9


# ------------------------------------------------------------------ downloads and exfiltration


def _device(hours: float, orig: str = "192.168.1.60") -> list[ConnRecord]:
    """A camera: DNS to the gateway and TLS video uploads to its cloud, every 5 min."""
    out = []
    for i in range(int(hours * 12)):
        t = 300.0 * i
        out.append(conn(t, orig=orig, resp="192.168.1.1", port=53, proto="udp", state="SF",
                        history="Dd", dur=0.01, ob=40, rb=120, pkts=1, n=i))  # fmt: skip
        out.append(conn(t + 1.0, orig=orig, resp=f"198.51.100.{i % 7}", port=443, dur=20.0,
                        ob=2_000_000, rb=9000, n=i))  # fmt: skip
    return out


def test_a_device_fetching_binaries_over_a_service_it_never_used_is_a_download() -> None:
    fetch = [conn(2 * 3600.0 + 1.5 * i, orig="192.168.1.60", resp="203.0.113.66", port=80,
                  dur=0.6, ob=110, rb=rb, n=9000 + i)
             for i, rb in enumerate([140_000, 250_000, 40_000, 24_000, 150_000])]  # fmt: skip
    recs = _device(4) + fetch
    got = dict(zip((r.uid for r in sorted(recs, key=lambda r: r.ts)), run(recs), strict=True))
    assert [got[r.uid] for r in fetch] == ["download"] * 5  # the 24 kB one follows the first
    assert {got[r.uid] for r in recs if r not in fetch} == {""}  # its uploads are its own


def test_ordinary_big_transfers_are_not_downloads() -> None:
    # A laptop that downloads on 443 all day, and a new big download on it; a popular
    # mirror that two hosts fetch from; a video call (both ways); a client's first minutes.
    laptop = [conn(600.0 * i, orig="192.168.1.70", resp=f"198.51.100.{i % 50}", port=443,
                   ob=1500, rb=int(50_000 * 1.3 ** (i % 12)), n=i) for i in range(40)]  # fmt: skip
    laptop.append(conn(7 * 3600.0, orig="192.168.1.70", resp="203.0.113.80", port=443,
                       ob=2000, rb=80_000_000, n=99))  # fmt: skip
    mirror = [conn(3600.0, orig="192.168.1.81", resp="203.0.113.81", port=80, ob=300, rb=900,
                   n=200),  # another host's update check: the mirror is in use here
              conn(2 * 3600.0, orig="192.168.1.60", resp="203.0.113.81", port=80, ob=300,
                   rb=5_000_000, n=201)]  # fmt: skip
    call = [conn(2 * 3600.0, orig="192.168.1.60", resp="203.0.113.82", port=3478, proto="udp",
                 history="Dd", ob=40_000_000, rb=45_000_000, n=300)]  # fmt: skip
    early = [conn(60.0, orig="192.168.1.90", resp="203.0.113.83", port=80, ob=200,
                  rb=900_000, n=400)]  # fmt: skip
    # A voice assistant: small plain-HTTP checks all day, then its audio over the same port.
    assistant = [conn(300.0 * i, orig="192.168.1.95", resp=f"198.51.100.{100 + i % 9}",
                      port=80, ob=150, rb=700, n=500 + i) for i in range(30)]  # fmt: skip
    assistant.append(conn(3 * 3600.0, orig="192.168.1.95", resp="203.0.113.84", port=80,
                          ob=180, rb=189_000, n=599))  # fmt: skip
    recs = _device(8) + laptop + mirror + call + early + assistant
    got = run(recs)
    assert "download" not in got and "exfiltration" not in got


def test_a_device_sending_far_more_than_ever_to_a_new_responder_is_exfiltration() -> None:
    recs = _device(4)
    leak = conn(3 * 3600.0, orig="192.168.1.60", resp="203.0.113.90", port=21, dur=30.0,
                ob=3_000_000, rb=900, n=500)  # fmt: skip
    got = dict(zip((r.uid for r in sorted(recs + [leak], key=lambda r: r.ts)),
                   run(recs + [leak]), strict=True))  # fmt: skip
    assert got[leak.uid] == "exfiltration"


# ------------------------------------------------------------------ the whole


def test_update_false_judges_without_remembering() -> None:
    ev = BehaviourEvidence(["192.168.0.0/16"])
    recs = [conn(10.0 * i, dur=1.5, ob=1100, n=i) for i in range(30)]
    cols = ConnColumns.from_records(recs)
    times = np.array([r.ts for r in recs])
    probe = ev.check(cols, times, update=False).behaviour
    assert set(probe) == {""}  # each row judged alone against an empty memory
    tables = ("keys", "horizontal", "vertical", "pairs", "services", "clients", "follow")
    assert all(len(getattr(d, t, {})) == 0 for d in (*ev.detectors, ev.transfers) for t in tables)
    assert ev.check(cols, times).behaviour[-1] == "password-guessing"


def test_memory_is_bounded_on_a_flood_of_new_keys() -> None:
    ev = BehaviourEvidence(["192.168.0.0/16"], max_keys=100)
    recs = [conn(0.01 * i, orig=f"10.{i // 250 % 250}.{i % 250}.1", resp=f"198.51.{i % 250}.9",
                 port=22 if i % 2 else 1000 + i % 5000, state="S0", history="S", ob=0, rb=0,
                 n=i) for i in range(20000)]  # fmt: skip
    run(recs, ev)
    pg, scan, dns, beacon = ev.detectors
    assert len(pg.keys) <= 100 and len(dns.keys) <= 100
    assert len(scan.horizontal) <= 100 and len(scan.vertical) <= 100
    assert len(beacon.pairs) <= 100 and len(beacon.users.table) <= 100
    assert len(ev.transfers.services) <= 100 and len(ev.transfers.clients) <= 100


def test_disabled_evidence_names_nothing() -> None:
    ev = BehaviourEvidence(["192.168.0.0/16"])
    ev.enabled = False
    assert set(run([conn(10.0 * i, dur=1.5, n=i) for i in range(30)], ev)) == {""}


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 1e300])
def test_non_finite_and_huge_values_do_not_break_it(bad: float) -> None:
    recs = [conn(10.0 * i, dur=1.5, n=i) for i in range(30)]
    cols = ConnColumns.from_records(recs)
    cols.num[::3, [DUR, OB, RB, OPK]] = bad
    got = BehaviourEvidence(["192.168.0.0/16"]).check(cols, np.array([r.ts for r in recs]))
    assert len(got.behaviour) == 30


def test_the_pure_python_quantiles_are_numpys_to_the_bit() -> None:
    """The detectors' dispersion and skew match numpy's median and linear percentile exactly
    (they replaced numpy for speed; a boundary such as the beacon's 0.8 must not move)."""
    rng = np.random.default_rng(5)
    for _ in range(2000):
        n = int(rng.integers(1, 60))
        a = rng.exponential(60.0, n) * rng.choice([1e-3, 1.0, 1e3])
        if rng.random() < 0.3:
            a = np.round(a)
        med = float(np.median(a))
        want = np.inf if med <= 0 else float(np.median(np.abs(a - med))) / med
        q1, q2, q3 = np.percentile(a, [25, 50, 75])
        skew = 0.0 if q3 - q1 <= 1e-9 else float((q3 + q1 - 2 * q2) / (q3 - q1))
        assert robust_dispersion(a) == want and robust_dispersion(a.tolist()) == want
        assert bowley_skew(a) == skew
