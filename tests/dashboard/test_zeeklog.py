"""The generic Zeek log reader/writer the dashboard reads hamad.log and notice.log with."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from hamad_plugin.dashboard.zeeklog import LogStats, find_logs, read_log, read_logs, write_log

COLUMNS = [("ts", "time"), ("uid", "string"), ("id.resp_p", "port"), ("score", "double"),
           ("anomalous", "bool"), ("top_features", "vector[string]"), ("note", "string")]  # fmt: skip
ROWS = [
    {"ts": 1767225640.020137, "uid": "C1", "id.resp_p": 3, "score": 0.7175, "anomalous": True,
     "top_features": ["dst_30m_log_count", "dst_2m_mean_log_bytes"], "note": "a\tb"},
    {"ts": 1767225641.5, "uid": "C2", "id.resp_p": 443, "score": 0.05, "anomalous": False,
     "top_features": [], "note": None},
    {"ts": 1767225642.5, "uid": "C3", "id.resp_p": 22, "score": 0.9, "anomalous": True,
     "top_features": [], "note": ""},  # Zeek writes "" as (empty)
]  # fmt: skip

#: What a real Zeek 8.2.2 wrote (hamad.log of `zeek -r` on tests/pcapgen.py's trace, one line).
REAL_TSV = """#separator \\x09
#set_separator\t,
#empty_field\t(empty)
#unset_field\t-
#path\thamad
#open\t2026-11-29-10-05-01
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tscore\tthreshold\tanomalous\ttop_features\ttop_model\tmodel_version\tinterim\tlearning\tfamiliar
#types\ttime\tstring\taddr\tport\taddr\tport\tdouble\tdouble\tbool\tvector[string]\tstring\tstring\tbool\tbool\tbool
1767225640.020137\tCYDvTU2FTIhfSNiukk\t192.168.1.66\t61000\t192.168.1.30\t3\t0.7175\t0.059997\tT\tdst_30m_log_count,dst_30m_mean_log_bytes,dst_2m_mean_log_bytes\tnovelty\tdefault-2026.11.23\tF\tF\tF
#close\t2026-11-29-10-05-03
"""


def test_reads_what_zeek_writes_with_types_from_the_header(tmp_path: Path) -> None:
    p = tmp_path / "hamad.log"
    p.write_text(REAL_TSV)
    (row,) = list(read_log(p))
    assert row["ts"] == 1767225640.020137 and row["id.resp_p"] == 3 and row["score"] == 0.7175
    assert row["anomalous"] is True and row["learning"] is False
    assert row["top_features"] == ["dst_30m_log_count", "dst_30m_mean_log_bytes",
                                   "dst_2m_mean_log_bytes"]  # fmt: skip


@pytest.mark.parametrize("name", ["hamad.log", "hamad.log.gz"])
def test_tsv_round_trip_with_unset_empty_and_escapes(tmp_path: Path, name: str) -> None:
    p = write_log(tmp_path / name, "hamad", COLUMNS, ROWS)
    if name.endswith(".gz"):
        assert gzip.open(p).read(2) == b"#s"
    back = list(read_log(p))
    assert back == [dict(r, note=r["note"]) for r in ROWS]


def test_json_lines_with_nested_id_and_iso_timestamps(tmp_path: Path) -> None:
    p = tmp_path / "notice.log"
    p.write_text(
        json.dumps({"ts": "2026-01-01T00:00:40.020137Z", "id": {"orig_h": "10.0.0.1"},
                    "note": "HAMAD::Anomalous_Host"}) + "\n"
        + '{"ts": 1767225641.5, "note": "x"}\n' + "not json\n" + "[1, 2]\n"
    )  # fmt: skip
    st = LogStats()
    rows = list(read_log(p, st))
    assert rows[0]["ts"] == pytest.approx(1767225640.020137)
    assert rows[0]["id.orig_h"] == "10.0.0.1"
    assert rows[1]["ts"] == 1767225641.5
    assert st.rows == 2 and st.bad_lines == 2


def test_malformed_and_damaged_files_are_counted_not_fatal(tmp_path: Path) -> None:
    p = tmp_path / "hamad.log"
    p.write_text(REAL_TSV.replace("\tT\t", "\tmaybe\t") + "too\tfew\n")
    st = LogStats()
    assert list(read_log(p, st)) == [] and st.bad_lines == 2
    gz = tmp_path / "hamad.x.log.gz"
    gz.write_bytes(gzip.compress(REAL_TSV.encode() * 50)[:-40])
    st = LogStats()
    rows = list(read_log(gz, st))
    assert st.damaged and len(rows) >= 1


def test_finds_current_rotated_and_archived_logs_oldest_first(tmp_path: Path) -> None:
    arch = tmp_path / "2026-01-01" / "hamad.00:00:00-01:00:00.log.gz"
    rot = tmp_path / "hamad.2026-01-01-01-00-00.log"
    cur = tmp_path / "current" / "hamad.log"
    for i, p in enumerate((arch, rot, cur)):
        write_log(p, "hamad", COLUMNS, ROWS[:1])
        os.utime(p, (1000.0 + i, 1000.0 + i))
    write_log(tmp_path / "current" / "hamadx.log", "x", COLUMNS, ROWS)  # another stream
    write_log(tmp_path / "current" / "notice.log", "notice", COLUMNS, ROWS)
    assert find_logs(tmp_path, "hamad") == [arch, rot, cur]
    assert len(list(read_logs(tmp_path, "hamad"))) == 3
    assert find_logs(cur, "hamad") == [cur]
    assert find_logs(tmp_path / "nothing-here", "hamad") == []
