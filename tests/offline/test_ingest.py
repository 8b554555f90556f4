"""conn.log reader: TSV/JSON, compression, IoT-23 quirk, escapes, bad lines, non-conn files.

Real Zeek output and labelled captures are read from ../shared/datasets when present
(those tests skip without it); the rest use inline text or simulated logs.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import pytest
from conftest import SimLogs, shared_datasets

from hamad_plugin.errors import InputFormatError
from hamad_plugin.offline.ingest import IngestStats, iter_conn_logs, parse_text, read_conn_log

HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\t"
    "orig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\t"
    "orig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\tip_proto\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\t"
    "bool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\tcount\n"
)
ROW = "1.5\tCabc\t10.0.0.1\t5000\t10.0.0.2\t80\ttcp\thttp\t0.5\t100\t200\tSF\tT\tF\t0\tShADadFf\t5\t300\t4\t400\t(empty)\t6\n"


def _shared(rel: str) -> Path:
    """A file under ../shared/datasets, or skip the test saying what was missing."""
    root = shared_datasets()
    if root is None or not (root / rel).is_file():
        pytest.skip(f"../shared/datasets/{rel} not present (real capture needed)")
    print("used:", rel)
    return root / rel


@pytest.mark.slow
def test_real_zeek82_tsv_and_json_give_the_same_connections() -> None:
    folder = "zeek-8.2-logs/slips-cc-periodic-2s"
    tsv = list(read_conn_log(_shared(f"{folder}/conn.log.xz")))
    js = list(read_conn_log(_shared(f"{folder}/conn.json.log.xz")))
    assert len(tsv) == len(js) == 299
    # Zeek assigns new uids per run, but everything else matches field by field.
    a, b = tsv[5], js[5]
    assert (a.orig_h, a.orig_p, a.resp_h, a.resp_p, a.proto) == (
        b.orig_h,
        b.orig_p,
        b.resp_h,
        b.resp_p,
        b.proto,
    )
    assert a.ip_proto == b.ip_proto == 6
    assert a.duration == pytest.approx(b.duration, abs=1e-6)
    assert a.orig_bytes == b.orig_bytes and a.history == b.history


def test_simulated_tsv_and_json_give_the_same_connections(sim_logs: SimLogs) -> None:
    tsv, js = read_conn_log(sim_logs.tsv), read_conn_log(sim_logs.json)
    a, b = list(tsv), list(js)
    assert len(a) == sim_logs.rows and a == b
    assert tsv.format == "tsv" and js.format == "json"
    assert tsv.stats.bad_lines == js.stats.bad_lines == 0


def test_tsv_fields_types_unset_and_empty() -> None:
    text = (
        HEADER
        + ROW
        + "2.0\tCdef\t10.0.0.1\t5001\t10.0.0.3\t53\tudp\t-\t-\t-\t-\tS0\t-\t-\t0\tD\t1\t60\t0\t0\t(empty)\t17\n"
    )
    recs, stats = parse_text(text)
    assert stats.bad_lines == 0 and len(recs) == 2
    r = recs[0]
    assert (r.ts, r.uid, r.orig_p, r.resp_p, r.service, r.duration) == (
        1.5,
        "Cabc",
        5000,
        80,
        "http",
        0.5,
    )
    assert r.local_orig is True and r.local_resp is False and r.ip_proto == 6
    s = recs[1]
    assert (
        s.service is None and s.duration is None and s.orig_bytes is None and s.local_orig is None
    )


def test_separator_escapes_are_decoded() -> None:
    text = HEADER.replace("\tservice\t", "\tservice\t") + ROW.replace("\thttp\t", "\tht\\x09tp\t")
    recs, stats = parse_text(text)
    assert recs[0].service == "ht\ttp"


def test_malformed_lines_are_skipped_counted_and_reported() -> None:
    bad = [
        "1.6\tCx\t10.0.0.1\tnotaport\t10.0.0.2\t80\ttcp\t-\t-\t-\t-\tS0\t-\t-\t0\tS\t1\t60\t0\t0\t(empty)\t6\n",
        "too\tfew\tcolumns\n",
        "nan\tCy\t10.0.0.1\t1\t10.0.0.2\t80\ttcp\t-\t-\t-\t-\tS0\t-\t-\t0\tS\t1\t60\t0\t0\t(empty)\t6\n",
        "1.7\tCz\t10.0.0.1\t70000\t10.0.0.2\t80\ttcp\t-\t-\t-\t-\tS0\t-\t-\t0\tS\t1\t60\t0\t0\t(empty)\t6\n",
    ]
    recs, stats = parse_text(HEADER + ROW + "".join(bad) + ROW)
    assert len(recs) == 2
    assert stats.bad_lines == 4
    lines = [n for n, _ in stats.errors]
    assert lines == [9, 10, 11, 12]  # 7 header lines, the good row on line 8
    assert "columns" in stats.errors[1][1]
    assert "line 9" in stats.summary()


def test_huge_counts_are_kept_not_crashing() -> None:
    recs, stats = parse_text(HEADER + ROW.replace("\t100\t200\t", "\t99999999999999999999\t200\t"))
    assert stats.bad_lines == 0 and recs[0].orig_bytes == 99999999999999999999


@pytest.mark.parametrize(
    "opener,suffix", [(gzip.open, ".gz"), (lzma.open, ".xz"), (bz2.open, ".bz2"), (open, "")]
)
def test_compressed_inputs(tmp_path: Path, opener, suffix: str) -> None:
    p = tmp_path / f"conn.log{suffix}"
    with opener(p, "wt") as fh:
        fh.write(HEADER + ROW * 3)
    recs = list(read_conn_log(p))
    assert len(recs) == 3 and recs[0].resp_bytes == 200


def test_json_lines_nested_and_flat_and_bad() -> None:
    text = (
        '{"ts":1.0,"uid":"C1","id.orig_h":"1.2.3.4","id.orig_p":1,"id.resp_h":"5.6.7.8","id.resp_p":2,"proto":"tcp"}\n'
        '{"ts":2.0,"uid":"C2","id":{"orig_h":"1.2.3.4","orig_p":1,"resp_h":"5.6.7.8","resp_p":2},"proto":"udp","duration":NaN}\n'
        '{"ts":3.0,"uid":"C3","id":{"orig_h":"1.2.3.4","orig_p":1,"resp_h":"5.6.7.8","resp_p":2},"proto":"udp"}\n'
        '{"ts":"x","uid":"C4"}\n'
        "[1,2]\n"
    )
    recs, stats = parse_text(text)
    assert [r.uid for r in recs] == ["C1", "C3"]
    assert stats.bad_lines == 3
    assert any("non-finite" in m for _, m in stats.errors)


def test_iot23_three_space_quirk_and_labels() -> None:
    head = HEADER.replace(
        "\ttunnel_parents\tip_proto\n", "\ttunnel_parents   label   detailed-label\n"
    )
    row = ROW.replace("\t(empty)\t6\n", "\t-   Malicious   C&C\n")
    recs, stats = parse_text(head + row + row.replace("Malicious   C&C", "benign   -"))
    assert stats.bad_lines == 0
    assert recs[0].label == "Malicious" and recs[0].detailed_label == "C&C" and recs[0].is_malicious
    assert recs[1].is_malicious is False and recs[1].detailed_label is None


def test_stratosphere_labels_background_is_unknown() -> None:
    head = HEADER.replace("\tip_proto\n", "\tip_proto\tlabel\n")
    rows = [ROW.replace("\t6\n", f"\t6\t{lab}\n") for lab in ("Background", "Malicious", "Benign")]
    recs, stats = parse_text(head + "".join(rows))
    assert stats.bad_lines == 0
    assert [r.is_malicious for r in recs] == [None, True, False]


@pytest.mark.slow
def test_real_stratosphere_capture_background_is_unknown() -> None:
    rel = "stratosphere-labeled-zeek/001-njrat-ctu-botnet-230-1.first1000.conn.log.labeled.xz"
    recs = list(read_conn_log(_shared(rel)))
    assert len(recs) == 992
    counts = {v: sum(1 for r in recs if r.is_malicious is v) for v in (True, False, None)}
    assert counts == {True: 244, False: 9, None: 739}


def test_not_a_conn_log_gets_one_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "dns.log"
    p.write_text(HEADER.replace("#path\tconn", "#path\tdns") + ROW)
    with pytest.raises(InputFormatError, match="'dns' log, not a conn log"):
        list(read_conn_log(p))
    q = tmp_path / "notes.txt"
    q.write_text("hello world\nthis is not zeek\n")
    with pytest.raises(InputFormatError, match="not a Zeek conn log"):
        list(read_conn_log(q))
    r = tmp_path / "other.json"
    r.write_text('{"a": 1}\n' * 60)
    with pytest.raises(InputFormatError, match="not a Zeek conn log"):
        list(read_conn_log(r))
    with pytest.raises(InputFormatError, match="no such file"):
        list(read_conn_log(tmp_path / "missing.log"))


def test_multi_file_stats_merge(sim_logs: SimLogs) -> None:
    stats = IngestStats()
    n = sum(1 for _ in iter_conn_logs([sim_logs.tsv, sim_logs.json, sim_logs.other], stats))
    assert n == stats.records == 3 * sim_logs.rows and stats.bad_lines == 0


@pytest.mark.slow
def test_real_shared_logs_parse_without_loss() -> None:
    root = shared_datasets()
    if root is None:
        pytest.skip("../shared/datasets not present: no real captures to read")
    files = sorted(root.glob("iot23/*/conn.log.labeled.xz")) + sorted(
        root.glob("zeek-8.2-logs/*/*.xz")
    )
    print("used:", *[str(f.relative_to(root)) for f in files])
    for f in files:
        reader = read_conn_log(f)
        n = sum(1 for _ in reader)
        assert n > 0 and reader.stats.bad_lines == 0, reader.stats.summary()


# -- damaged and unusual inputs (issue 11) -------------------------------------


@pytest.mark.parametrize(
    "opener,suffix", [(gzip.open, ".gz"), (lzma.open, ".xz"), (bz2.open, ".bz2")]
)
def test_truncated_or_corrupt_compression_keeps_what_came_before(
    sim_logs: SimLogs, tmp_path: Path, opener, suffix: str
) -> None:
    data = sim_logs.tsv.read_bytes() * 3
    whole = tmp_path / f"whole{suffix}"
    with opener(whole, "wb") as fh:
        fh.write(data)
    packed = whole.read_bytes()
    truncated = tmp_path / f"truncated{suffix}"
    truncated.write_bytes(packed[: len(packed) * 2 // 3])
    corrupt = tmp_path / f"corrupt{suffix}"
    mid = len(packed) * 2 // 3
    corrupt.write_bytes(packed[:mid] + bytes(64) + packed[mid + 64 :])
    for path in (truncated, corrupt):
        reader = read_conn_log(path)
        records = list(reader)
        assert reader.stats.damaged and str(path) in reader.stats.damaged[0]
        assert f"the {len(records)} records before it were read" in reader.stats.damaged[0]
        with pytest.raises(InputFormatError, match="damaged"):
            reader.stats.raise_if_damaged()


def test_overlong_lines_are_counted_not_held(tmp_path: Path) -> None:
    from hamad_plugin.offline.ingest import MAX_LINE

    head = "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\n"
    good = "1.0\tC1\t10.0.0.1\t1\t10.0.0.2\t80\ttcp\n"
    p = tmp_path / "long.log"
    p.write_text(head + good + "x" * (10 * MAX_LINE) + "\n" + good.replace("C1", "C2"))
    reader = read_conn_log(p)
    assert [r.uid for r in reader] == ["C1", "C2"]
    assert reader.stats.bad_lines == 1 and "longer than" in reader.stats.errors[0][1]


def test_a_json_line_nested_too_deeply_is_one_malformed_line() -> None:
    ok = '{"ts": 1.0, "uid": "C1", "id.orig_h": "1.1.1.1", "id.orig_p": 1, ' \
         '"id.resp_h": "2.2.2.2", "id.resp_p": 2, "proto": "tcp"}'  # fmt: skip
    recs, stats = parse_text(ok + "\n" + '{"a":' * 5000 + "\n" + ok.replace("C1", "C2") + "\n")
    assert [r.uid for r in recs] == ["C1", "C2"]
    assert stats.bad_lines == 1 and "nested too deeply" in stats.errors[0][1]


def test_a_pipe_or_fifo_is_read_like_a_file(sim_logs: SimLogs, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    import threading

    expected = [r.uid for r in read_conn_log(sim_logs.tsv)]
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    payload = gzip.compress(sim_logs.tsv.read_bytes())  # compression sniffed on a pipe, too

    def feed() -> None:
        with open(fifo, "wb") as fh:
            fh.write(payload)

    threading.Thread(target=feed, daemon=True).start()
    assert [r.uid for r in read_conn_log(fifo)] == expected
    code = "from hamad_plugin.offline.ingest import read_conn_log; print(sum(1 for _ in read_conn_log('-')))"
    out = subprocess.run([sys.executable, "-c", code], input=sim_logs.tsv.read_bytes(),
                         capture_output=True, check=True)  # fmt: skip
    assert int(out.stdout) == len(expected)
