"""The evasion study's rewrites touch only the attacker's rows, and do what they say."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from conftest import simulate_to

from hamad_plugin.research import evasion as ev


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("evasion") / "day.conn.log"
    simulate_to(path, seed=4, connections=6000, hosts=16, duration="2h")
    return path


def _rows(day: Path) -> tuple[list[str], dict[str, int], list[list[str]]]:
    return ev._read(day)


def _benign(rows: list[list[str]], col: dict[str, int]) -> list[list[str]]:
    return [r for r in rows if r[col["label"]] != "Malicious"]


@pytest.mark.parametrize("e", ev.EVASIONS, ids=lambda e: e.name)
def test_benign_rows_are_never_touched(day: Path, e: ev.Evasion) -> None:
    _, col, rows = _rows(day)
    before = [list(r) for r in _benign(rows, col)]
    after = e.rewrite(rows, col, e.strengths[-1], random.Random(0))
    assert _benign(after, col) == before


def test_strength_zero_is_the_unmodified_attack(day: Path) -> None:
    _, col, rows = _rows(day)
    for e in ev.EVASIONS:
        base = [list(r) for r in rows]
        assert e.rewrite(base, col, e.strengths[0], random.Random(0)) == rows, e.name


def test_pad_adds_the_bytes_each_way_to_data_carrying_attack_rows(day: Path) -> None:
    _, col, rows = _rows(day)
    orig = {r[col["uid"]]: list(r) for r in rows}
    padded = ev.pad([list(r) for r in rows], col, 200, random.Random(0))
    changed = 0
    for r in padded:
        o = orig[r[col["uid"]]]
        if r != o:
            changed += 1
            assert int(r[col["orig_bytes"]]) == int(o[col["orig_bytes"]]) + 200
            assert int(r[col["resp_ip_bytes"]]) == int(o[col["resp_ip_bytes"]]) + 200
            assert r[col["conn_state"]] in ev._DATA_STATES
    assert changed > 0


def test_slow_stretches_each_scan_from_its_first_connection(day: Path) -> None:
    _, col, rows = _rows(day)
    scans = [r for r in rows if r[col["detailed-label"]] in ev.SCANS]
    slowed = ev.slow([list(r) for r in rows], col, 4, random.Random(0))
    kept = [r for r in slowed if r[col["detailed-label"]] in ev.SCANS]
    assert 0 < len(kept) < len(scans)  # a 4x slower scan does not finish within the day
    end = max(float(r[col["ts"]]) for r in rows)
    assert all(float(r[col["ts"]]) <= end for r in kept)


def test_spread_uses_n_local_devices_and_hide_moves_the_beacon(day: Path) -> None:
    _, col, rows = _rows(day)
    spread = ev.spread([list(r) for r in rows], col, 4, random.Random(0))
    sources = {r[col["id.orig_h"]] for r in spread if r[col["detailed-label"]] in ev.GUESSING}
    assert len(sources) == 4
    busiest = ev._local_originators(rows, col)[0]
    hidden = ev.hide([list(r) for r in rows], col, 1, random.Random(0))
    assert {r[col["id.orig_h"]] for r in hidden if r[col["detailed-label"]] in ev.BEACON} == {
        busiest
    }


def test_jitter_moves_heartbeats_within_the_bound(day: Path) -> None:
    _, col, rows = _rows(day)
    before = {r[col["uid"]]: float(r[col["ts"]]) for r in rows}
    out = ev.jitter([list(r) for r in rows], col, 10, random.Random(0))
    moved = [
        abs(float(r[col["ts"]]) - before[r[col["uid"]]])
        for r in out
        if r[col["detailed-label"]] in ev.BEACON
    ]
    assert moved and max(moved) <= 10 and max(moved) > 1


def test_a_rewritten_log_is_a_conn_log_the_product_reads(day: Path, tmp_path: Path) -> None:
    from hamad_plugin.offline.ingest import read_conn_log

    header, col, rows = _rows(day)
    out = tmp_path / "rewritten.conn.log"
    ev._write(out, header, col, ev.slow(rows, col, 4, random.Random(0)))
    reader = read_conn_log(out)
    n = sum(1 for _ in reader)
    assert n > 0 and reader.stats.bad_lines == 0
