"""ConnColumns carries the optional DNS part through every batch operation the scoring
path uses (from records, parts, concatenation, back to records)."""

from __future__ import annotations

import math

from hamad_plugin.core.records import DNS_FIELDS, ConnColumns, ConnRecord, DnsSummary


def _rec(i: int, dns: DnsSummary | None) -> ConnRecord:
    return ConnRecord(ts=float(i), uid=f"C{i}", orig_h="10.0.0.2", orig_p=40000 + i,
                      resp_h="10.0.0.1", resp_p=53, proto="udp", dns=dns)  # fmt: skip


def test_the_dns_part_survives_parts_concat_and_records() -> None:
    d = DnsSummary(queries=2, longest=120, entropy=4.25, qtype=16)
    with_dns = ConnColumns.from_records([_rec(0, d), _rec(1, None)])
    plain = ConnColumns.from_records([_rec(2, None)])
    assert plain.dns is None  # a conn.log batch costs nothing
    assert with_dns.dns is not None and with_dns.dns.shape == (2, len(DNS_FIELDS))
    assert math.isnan(with_dns.dns[1, 0])
    both = ConnColumns.concat([plain, with_dns])
    assert [r.dns for r in both.records()] == [None, d, None]
    assert [r.dns for r in both.part(1, 2).records()] == [d]
    assert ConnColumns.concat([plain, plain]).dns is None
