"""The gateway-traffic simulator: determinism, Zeek's formats, labels, valid rows, the CLI."""

from __future__ import annotations

import io
import json
import lzma
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import SimLogs, shared_datasets

from hamad_plugin.cli import cli
from hamad_plugin.offline.ingest import parse_text, read_conn_log
from hamad_plugin.research.simulate import SCENARIOS, make_config, simulate

#: Zeek 8 conn.log #types (Conn::Info), written out here independently of the simulator.
ZEEK8_TYPES = (
    "time string addr port addr port enum string interval count count string bool bool "
    "count string count count count count set[string] count"
).split()
ZEEK_STATES = {
    "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH"
}  # fmt: skip


def run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def sim_bytes(fmt: str = "tsv", **kw: object) -> bytes:
    buf = io.BytesIO()
    simulate(make_config(fmt=fmt, **kw), buf)  # type: ignore[arg-type]
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["tsv", "json"])
def test_same_seed_same_bytes_other_seed_other_bytes(fmt: str) -> None:
    a = sim_bytes(fmt, seed=5, connections=3000)
    assert a == sim_bytes(fmt, seed=5, connections=3000)
    assert a != sim_bytes(fmt, seed=6, connections=3000)


def test_cli_output_is_byte_identical_and_reports_its_rate(tmp_path: Path) -> None:
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name / "conn.log"
        res = run("simulate", "--out", str(out), "--seed", "3", "--connections", "2500")
        assert res.exit_code == 0, res.output
        assert "wrote 2,500 connections" in res.output and "rows/s" in res.output
        outs.append(out.read_bytes())
        truth = json.loads((out.parent / "conn.log.truth.json").read_text())
        assert truth["seed"] == 3 and truth["rows"] == 2500
    assert outs[0] == outs[1]


def test_tsv_follows_zeek_header_conventions(sim_logs: SimLogs) -> None:
    lines = sim_logs.tsv.read_text().splitlines()
    head = [ln for ln in lines[:8]]
    assert head[0] == "#separator \\x09"
    assert head[1:5] == [
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        "#path\tconn",
    ]
    assert head[5].startswith("#open\t") and len(head[5].split("\t")[1]) == len(
        "2025-06-02-17-00-00"
    )
    fields = head[6].split("\t")
    types = head[7].split("\t")
    assert fields[0] == "#fields" and types[0] == "#types"
    assert len(fields) == len(types) == 25
    assert types[1:23] == ZEEK8_TYPES and fields[22] == "ip_proto"
    assert fields[23:] == ["label", "detailed-label"] and types[23:] == ["string", "string"]
    assert lines[-1].startswith("#close\t") and lines[-1].split("\t")[1] >= head[5].split("\t")[1]
    body = lines[8:-1]
    assert len(body) == sim_logs.rows and not any(ln.startswith("#") for ln in body)
    assert all(ln.count("\t") == len(fields) - 2 for ln in body)


def test_tsv_header_matches_real_zeek_82() -> None:
    root = shared_datasets()
    if root is None:
        pytest.skip("../shared/datasets not present: no real Zeek 8.2 conn.log to compare with")
    real = sorted(root.glob("zeek-8.2-logs/*/conn.log.xz"))[0]
    print("used:", real.relative_to(root))
    with lzma.open(real, "rt") as fh:
        want = [next(fh).rstrip("\n") for _ in range(8)]
    got = sim_bytes(connections=100).decode().splitlines()[:8]
    for w, g in zip(want, got, strict=True):
        if w.startswith("#open"):
            continue
        if w.startswith(("#fields", "#types")):
            g = "\t".join(g.split("\t")[:-2])  # our two label columns come last
        assert g == w


def test_json_is_zeeks_writer_and_equals_the_tsv(sim_logs: SimLogs) -> None:
    objs = [json.loads(ln) for ln in sim_logs.json.read_text().splitlines()]
    assert len(objs) == sim_logs.rows
    for o in objs:
        assert "id.orig_h" in o and "id" not in o and "tunnel_parents" not in o
        assert None not in o.values() and "-" not in o.values()
        if o["orig_pkts"] + o["resp_pkts"] == 1:  # Zeek leaves these unset for one packet
            assert "duration" not in o and "orig_bytes" not in o
        assert ("detailed-label" in o) == (o["label"] == "Malicious")
    assert list(read_conn_log(sim_logs.json)) == list(read_conn_log(sim_logs.tsv))


@pytest.mark.parametrize("which", ["tsv", "json"])
def test_replay_reads_the_simulator_with_zero_malformed_lines(
    sim_logs: SimLogs, which: str
) -> None:
    res = run("replay", str(getattr(sim_logs, which)), "--json-summary", "--top", "0")
    assert res.exit_code == 0, res.output
    d = json.loads(res.output[res.output.index("{") :])
    assert d["connections"] == sim_logs.rows and d["malformed_lines"] == 0
    per_label = {r["label"]: r for r in d["per_label"]}
    assert per_label["Benign"]["rows"] == sim_logs.truth["labels"]["Benign"]
    for s in sim_logs.truth["scenarios"]:
        assert per_label[s["detailed_label"]]["rows"] == s["connections"] > 0


def test_every_enabled_scenario_appears_with_its_label(sim_logs: SimLogs) -> None:
    recs = list(read_conn_log(sim_logs.tsv))
    seen = Counter((r.label, r.detailed_label) for r in recs)
    truth = sim_logs.truth
    assert {s["name"] for s in truth["scenarios"]} == set(SCENARIOS)
    for s in truth["scenarios"]:
        assert seen[("Malicious", s["detailed_label"])] == s["connections"] >= 5, s["name"]
        actor = {r.orig_h for r in recs if r.detailed_label == s["detailed_label"]}
        assert actor == {s["actor"]}
    assert seen[("Benign", None)] == truth["labels"]["Benign"]
    assert sum(seen.values()) == truth["rows"] == sim_logs.rows


def test_scenarios_are_switchable_and_start_when_asked() -> None:
    text = sim_bytes(connections=2000, scenarios=["cc-heartbeat@5m", "dns-tunnel@50%"]).decode()
    recs, stats = parse_text(text)
    assert stats.bad_lines == 0
    labels = Counter(r.detailed_label for r in recs)
    assert set(labels) == {None, "C&C-HeartBeat", "DNSTunneling"}
    t0 = make_config().start
    first = {lab: min(r.ts for r in recs if r.detailed_label == lab) - t0 for lab in labels if lab}
    assert 300 <= first["C&C-HeartBeat"] < 300 + 60 * 1.1
    assert 1800 <= first["DNSTunneling"] < 1802
    short = {c.name for c in make_config(duration="30s").scenarios}  # no room for a 60 s beacon
    assert short == set(SCENARIOS) - {"cc-heartbeat", "vscan-slow"}
    benign = sim_bytes(connections=2000, no_attacks=True).decode()
    assert "Malicious" not in benign and benign.count("\tBenign\t") == 2000


def test_rows_are_valid_zeek_rows_in_end_time_order(sim_logs: SimLogs) -> None:
    recs = list(read_conn_log(sim_logs.other))
    ends = np.array([r.end_ts for r in recs])
    assert np.all(np.diff(ends) >= -1e-6), "Zeek writes a connection when it ends"
    for r in recs:
        assert 0 <= r.orig_p <= 65535 and 0 <= r.resp_p <= 65535
        assert r.conn_state in ZEEK_STATES
        assert r.ip_proto == {"tcp": 6, "udp": 17, "icmp": 1}[r.proto]
        assert r.orig_pkts is not None and r.resp_pkts is not None
        assert r.orig_ip_bytes >= 20 * r.orig_pkts and r.resp_ip_bytes >= 20 * r.resp_pkts
        if r.orig_pkts + r.resp_pkts > 1:
            assert r.duration is not None and r.duration >= 0
            assert r.orig_bytes is not None and r.orig_bytes >= 0 and r.resp_bytes >= 0
        else:
            assert r.duration is None and r.orig_bytes is None
        if r.proto == "icmp":
            assert r.history is None and r.conn_state == "OTH"
        else:
            assert r.history
        if r.conn_state == "REJ":
            assert r.history == "Sr" and r.orig_bytes == r.resp_bytes == 0
        assert r.local_orig is True  # everything starts behind the gateway
    states = Counter(r.conn_state for r in recs)
    assert {"SF", "S0", "REJ", "RSTO", "RSTR", "OTH"} <= set(states)
    assert {r.proto for r in recs} == {"tcp", "udp", "icmp"}


def test_c2_beacon_is_periodic_and_so_are_benign_keepalives(sim_logs: SimLogs) -> None:
    recs = list(read_conn_log(sim_logs.tsv))
    cc = sorted(r.ts for r in recs if r.detailed_label == "C&C-HeartBeat")
    gaps = np.diff(cc)
    assert np.all((gaps > 60 * 0.75) & (gaps < 60 * 1.25)) and abs(gaps.mean() - 60) < 3
    # The hard negative: benign device-to-cloud keep-alives are periodic too.
    by_pair: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    for r in recs:
        if r.label == "Benign" and r.resp_p in (443, 6668, 8883):
            by_pair[(r.orig_h, r.resp_h, r.resp_p)].append(r.ts)
    regular = [
        k for k, ts in by_pair.items()
        if len(ts) >= 20 and np.std(np.diff(sorted(ts))) < 0.1 * np.mean(np.diff(sorted(ts)))
    ]  # fmt: skip
    assert regular, "expected periodic benign keep-alives"


def test_heavy_tailed_sizes_and_a_diurnal_network() -> None:
    text = sim_bytes(connections=20000, hosts=400, duration="24h", no_attacks=True).decode()
    recs, _ = parse_text(text)
    resp = np.array([r.resp_bytes for r in recs if r.resp_bytes])
    assert np.percentile(resp, 99.9) > 100 * np.median(resp)
    assert all(r.orig_h.startswith("10.") for r in recs)
    assert len({r.orig_h for r in recs}) > 300
    hours = Counter(int((r.ts % 86400) // 3600) for r in recs)
    assert hours[20] > 2 * hours[4], "evenings are busier than 4 am"


def test_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    out = str(tmp_path / "x.log")
    cases = [
        (["--hosts", "2"], "--hosts must be between 5"),
        (["--duration", "soon"], "not a duration"),
        (["--scenario", "cc-heartbeet"], "did you mean 'cc-heartbeat'"),
        (["--scenario", "cc-heartbeat@2h"], "outside the 3600 s capture"),
        (["--scenario", "cc-heartbeat", "--no-attacks"], "contradict"),
        (["--start", "yesterday"], "expected an ISO time"),
        (["--connections", "20"], "more than half of --connections"),
    ]
    for args, msg in cases:
        res = run("simulate", "--out", out, *args)
        assert res.exit_code == 2, (args, res.output)
        assert res.output.startswith("Error: ") and msg in res.output, res.output
        assert res.output.count("\n") == 1 and "Traceback" not in res.output
    res = run("simulate")
    assert res.exit_code == 2 and "--out is required" in res.output


def test_list_scenarios_and_stdout() -> None:
    res = run("simulate", "--list-scenarios")
    assert res.exit_code == 0
    for name, s in SCENARIOS.items():
        assert name in res.output and s.label in res.output
    res = CliRunner().invoke(
        cli, ["simulate", "--out", "-", "--connections", "300", "--format", "json"]
    )
    assert res.exit_code == 0
    assert res.stdout.count('"uid":"C') == 300


def test_records_api_equals_what_the_reader_makes_of_the_log() -> None:
    """``iter_records`` (the benchmark's memory run) yields exactly the written connections."""
    from itertools import chain

    from hamad_plugin.research.simulate import iter_records, make_plan

    kw = {"seed": 4, "connections": 4000, "hosts": 300}
    recs, stats = parse_text(sim_bytes(**kw).decode())
    assert stats.bad_lines == 0
    assert list(chain.from_iterable(iter_records(make_plan(make_config(**kw))))) == recs
