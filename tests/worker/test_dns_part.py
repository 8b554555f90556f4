"""The optional DNS part of the script-worker contract, end to end: a real ``hamad serve``
reads the query names Zeek's DNS analyzer saw, where it otherwise estimates them from bytes.

Three clients send the same-sized DNS traffic to their resolver (160 bytes per query
packet, which the byte estimate calls long): one with short names padded to that size
(EDNS padding, RFC 7830), one with long encoded names, one whose Zeek sends no DNS part
(``HAMAD::send_dns=F``, or scripts from before it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fake_zeek import serve_verdicts

from hamad_plugin.core.records import ConnRecord, DnsSummary
from hamad_plugin.worker.transport.codec import VERDICT_FIELDS

BEHAVIOUR = VERDICT_FIELDS.index("behaviour")
PADDED = DnsSummary(queries=1, longest=18, entropy=3.3, qtype=1)
ENCODED = DnsSummary(queries=1, longest=190, entropy=4.6, qtype=16)


def _queries(prefix: str, orig: str, dns: DnsSummary | None) -> list[ConnRecord]:
    return [
        ConnRecord(
            ts=1_700_000_000.0 + 2.0 * i,
            uid=f"{prefix}{i:03d}",
            orig_h=orig,
            orig_p=40000 + i,
            resp_h="10.0.0.1",
            resp_p=53,
            proto="udp",
            service="dns",
            duration=0.01,
            orig_bytes=160,
            resp_bytes=240,
            conn_state="SF",
            history="Dd",
            orig_pkts=1,
            resp_pkts=1,
            dns=dns,
        )  # fmt: skip
        for i in range(30)
    ]


def test_serve_reads_the_query_names_zeek_sends(tmp_path: Path) -> None:
    recs = sorted(_queries("P", "10.0.0.21", PADDED) + _queries("T", "10.0.0.22", ENCODED)
                  + _queries("B", "10.0.0.23", None), key=lambda r: r.ts)  # fmt: skip
    got = {u: v[BEHAVIOUR] for u, v in serve_verdicts(
        recs, "--learning-period", "0", "--state-dir", str(tmp_path)).items()}  # fmt: skip

    def named(prefix: str) -> list[Any]:
        return [got[r.uid] for r in recs if r.uid.startswith(prefix)]

    assert "dns-tunnel" not in named("P")  # short names: padding is not a tunnel
    assert named("T")[5:] == ["dns-tunnel"] * 25  # from the sixth long query on
    assert named("B")[5:] == ["dns-tunnel"] * 25  # no DNS part: the byte estimate, as before
