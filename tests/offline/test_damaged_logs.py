"""Property-based: damage anywhere in a conn log loses only the damaged lines.

A Zeek killed mid-write leaves a cut last line; a full disk or a crash leaves
NUL-filled blocks; a log concatenated by hand has lines from other files. Each
generated log interleaves good rows with such damage at random positions, in
TSV and JSON, plain and gzip-compressed; both readers (the per-line one the
transports' tests use and the columnar one ``hamad replay`` uses, at several
batch sizes) must return every good row, in order, and count every damaged
line, never raise.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="pip install hypothesis (dev extra)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from hamad_plugin.offline.ingest import MAX_LINE, ConnLogReader  # noqa: E402

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FIELDS = ("ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes "
          "resp_bytes conn_state local_orig local_resp missed_bytes history orig_pkts "
          "orig_ip_bytes resp_pkts resp_ip_bytes tunnel_parents").split()  # fmt: skip
HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
    "#fields\t" + "\t".join(FIELDS) + "\n"
)
#: Text of a garbage line: never a header ('#'), never JSON ('{'), no tab, no line break.
GARBAGE = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="#{\t\r\n\x0b\x0c\x1c\x1d\x1e\x85"),
    min_size=1,
    max_size=60,
).filter(lambda s: s.strip("\r\n") != "" and s[0] not in "#{")

DAMAGE = ("cut", "garbage", "columns", "nul", "giant")


def _tsv_row(i: int) -> str:
    return (f"{1000 + i}.5\tC{i}\t10.0.0.{i % 200 + 1}\t{40000 + i}\t10.0.9.9\t443\ttcp\tssl\t0.5"
            "\t10\t20\tSF\tT\tF\t0\tShADadFf\t3\t100\t3\t200\t-")  # fmt: skip


def _json_row(i: int) -> str:
    values: dict[str, Any] = dict(zip(FIELDS, _tsv_row(i).split("\t"), strict=True))
    for k in ("ts", "duration"):
        values[k] = float(values[k])
    for k in ("id.orig_p", "id.resp_p", "orig_bytes", "resp_bytes", "missed_bytes", "orig_pkts",
              "orig_ip_bytes", "resp_pkts", "resp_ip_bytes"):  # fmt: skip
        values[k] = int(values[k])
    values["local_orig"], values["local_resp"] = True, False
    del values["tunnel_parents"]
    return json.dumps(values)


def _damaged(kind: str, i: int, fmt: str, cut_at: float, garbage: str) -> str:
    """One damaged line (without its newline) of the given kind."""
    good = _tsv_row(i) if fmt == "tsv" else _json_row(i)
    if kind == "cut":  # cut before the last field separator: fewer columns / broken JSON
        last = good.rfind("\t") if fmt == "tsv" else len(good) - 1
        return good[: max(1, int(cut_at * last))]
    if kind == "garbage":
        return garbage
    if kind == "columns":  # one column too many; in JSON an object without conn fields
        return good + "\textra" if fmt == "tsv" else '{"ts": 1.0, "note": "not a connection"}'
    if kind == "nul":
        return "\x00" * (1 + int(cut_at * 300))
    return "x" * (MAX_LINE + 1 + int(cut_at * 1000))  # giant


plan = st.lists(
    st.tuples(
        st.sampled_from(("good", "good", "good", "blank", *DAMAGE)), st.floats(0.0, 0.999), GARBAGE
    ),  # fmt: skip
    min_size=1,
    max_size=40,
)


@SETTINGS
@given(plan, st.sampled_from(["tsv", "json"]), st.booleans(), st.booleans(),
       st.sampled_from([1, 7, 1024]))  # fmt: skip
def test_damage_anywhere_loses_only_the_damaged_lines(
    tmp_path_factory: Any,
    steps: list[tuple[str, float, str]],
    fmt: str,
    compressed: bool,
    final_newline: bool,
    batch: int,
) -> None:
    # A JSON log has no header: its first line is a connection, or the reader could not
    # tell it from another JSON file (it refuses those; tests/offline/test_ingest.py).
    lines = [] if fmt == "tsv" else [_json_row(0)]
    want = [] if fmt == "tsv" else ["C0"]
    bad = 0
    for n, (kind, cut_at, garbage) in enumerate(steps, start=1):
        if kind == "good":
            lines.append(_tsv_row(n) if fmt == "tsv" else _json_row(n))
            want.append(f"C{n}")
        elif kind == "blank":
            lines.append("")
        else:
            lines.append(_damaged(kind, n, fmt, cut_at, garbage))
            bad += 1
    text = (HEADER if fmt == "tsv" else "") + "\n".join(lines) + ("\n" if final_newline else "")
    path: Path = tmp_path_factory.mktemp("damaged") / ("conn.log.gz" if compressed else "conn.log")
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if compressed else data)

    per_line = ConnLogReader(path)
    assert [r.uid for r in per_line] == want
    assert (per_line.stats.records, per_line.stats.bad_lines) == (len(want), bad)

    columnar = ConnLogReader(path)
    uids = [u for part in columnar.batches(batch) for u in part.uid]
    assert uids == want
    assert (columnar.stats.records, columnar.stats.bad_lines) == (len(want), bad)


def test_a_log_cut_inside_its_only_row_reads_as_zero_connections(tmp_path: Path) -> None:
    """Zeek killed while writing the first row: a conn log with nothing readable, not
    'another kind of file' and not a crash (issue 26)."""
    path = tmp_path / "conn.log"
    path.write_text(HEADER + _tsv_row(1)[:40])
    reader = ConnLogReader(path)
    assert [len(p) for p in reader.batches(1024)] == []
    assert (reader.stats.records, reader.stats.bad_lines) == (0, 1)


def test_twenty_thousand_garbage_lines_between_good_rows(tmp_path: Path) -> None:
    """The issue's case: every good row after the damage is still read."""
    path = tmp_path / "conn.log"
    rows = [_tsv_row(i) for i in range(2000)]
    junk = [f"garbage {i} \x01 {'x' * (i % 50)}" for i in range(20_000)]
    path.write_text(HEADER + "\n".join(rows[:1000] + junk + rows[1000:]) + "\n")
    reader = ConnLogReader(path)
    uids = [u for part in reader.batches(1024) for u in part.uid]
    assert uids == [f"C{i}" for i in range(2000)]
    assert reader.stats.bad_lines == 20_000
