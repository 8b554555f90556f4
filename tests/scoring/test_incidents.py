"""Incidents: anomalous verdicts folded per originator and behaviour."""

from __future__ import annotations

import numpy as np

from hamad_plugin.scoring.incidents import GAP, JOIN_WINDOW, IncidentTracker


def fold(tr: IncidentTracker, rows: list[tuple[float, str, str, str, bool]], update: bool = True):  # type: ignore[no-untyped-def]
    """rows: (time, orig, resp, behaviour, anomalous)."""
    n = len(rows)
    return tr.fold(
        [f"U{int(t)}" for t, *_ in rows], np.array([r[0] for r in rows]), [r[1] for r in rows],
        [r[2] for r in rows], [22] * n, ["tcp"] * n, [r[3] for r in rows],
        np.linspace(0.5, 0.9, n), np.array([r[4] for r in rows]), np.zeros(n, bool), update,
    )  # fmt: skip


def test_one_originator_one_behaviour_is_one_incident_with_counts_peers_and_examples() -> None:
    tr = IncidentTracker()
    out = fold(tr, [(10.0 * i, "10.0.0.5", f"192.0.2.{i % 4}", "password-guessing", True)
                    for i in range(10)] + [(200.0, "10.0.0.5", "192.0.2.9", "", False)])  # fmt: skip
    assert len(set(out.incident[:10])) == 1 and out.incident[10] == ""
    assert out.incident[0] == "10.0.0.5/password-guessing/0"
    assert out.count[:10].tolist() == list(range(1, 11)) and out.peers[9] == 4
    assert out.uids[9] == ["U0", "U10", "U20"] and out.first[9] == 0.0
    assert out.score[9] == np.linspace(0.5, 0.9, 11)[9]
    (inc,) = tr.incidents()
    assert inc.to_dict()["connections"] == 10 and inc.services == ["22/tcp"]


def test_another_behaviour_another_host_or_a_long_gap_open_new_incidents() -> None:
    tr = IncidentTracker()
    # The beacon's evidence comes more than JOIN_WINDOW after the host's scan began.
    out = fold(tr, [(0.0, "10.0.0.5", "a", "scan", True), (2.0, "10.0.0.6", "a", "scan", True),
                    (JOIN_WINDOW + 1, "10.0.0.5", "b", "beacon", True),
                    (JOIN_WINDOW + GAP + 2, "10.0.0.5", "a", "scan", True)])  # fmt: skip
    assert len(set(out.incident)) == 4
    assert len(tr.incidents()) == 4 and tr.total == 4


def test_what_the_model_and_guards_say_of_a_host_is_one_incident_named_by_most() -> None:
    # A flood as it happens: model-flagged first, then a fan-out (scan), then the flood;
    # evidence (a DNS tunnel) from the same host in between keeps its own incident.
    tr = IncidentTracker()
    rows = [(0.0, "", True), (1.0, "", True), (2.0, "scan", True), (700.0, "dns-tunnel", True),
            (701.0, "flood", True), (702.0, "flood", True), (703.0, "", True)]  # fmt: skip
    out = fold(tr, [(t, "10.0.0.5", "203.0.113.1", b, a) for t, b, a in rows])
    host = out.incident[0]
    assert host == "10.0.0.5/anomalous/0"
    assert [x == host for x in out.incident] == [True, True, True, False, True, True, True]
    assert out.count[6] == 6
    names = {i.id: i.behaviour for i in tr.incidents()}
    assert names == {host: "flood", "10.0.0.5/dns-tunnel/700": "dns-tunnel"}


def test_evidence_that_explains_a_young_host_incident_joins_it_for_the_whole_run() -> None:
    # The model flags a guessing run's first attempts; the evidence names it from the tenth.
    # The run lasts 30 minutes: it stays one incident, named by its evidence.
    tr = IncidentTracker()
    rows = [(30.0 * i, "10.0.0.5", "192.0.2.7", "" if i < 9 else "password-guessing", True)
            for i in range(60)]  # fmt: skip
    out = fold(tr, rows)
    assert len(set(out.incident)) == 1 and out.count[-1] == 60
    (inc,) = tr.incidents()
    assert inc.behaviour == "password-guessing" and inc.id == "10.0.0.5/anomalous/0"
    # Another host's evidence, and this host's after the incident closed, open their own.
    later = fold(
        tr,
        [
            (30.0 * 60 + GAP + 1, "10.0.0.5", "192.0.2.7", "password-guessing", True),
            (30.0 * 60 + GAP + 2, "10.0.0.9", "192.0.2.7", "password-guessing", True),
        ],
    )
    assert len(set(later.incident) | set(out.incident)) == 3


def test_interim_verdicts_look_up_but_do_not_count() -> None:
    tr = IncidentTracker()
    fold(tr, [(0.0, "10.0.0.5", "a", "scan", True)])
    out = fold(tr, [(1.0, "10.0.0.5", "b", "scan", True), (2.0, "10.0.0.7", "b", "scan", True)],
               update=False)  # fmt: skip
    assert out.incident == ["10.0.0.5/scan/0", ""] and out.count.tolist() == [1, 0]
    assert tr.incidents()[0].count == 1


def test_connections_while_learning_fold_into_an_incident_of_their_own() -> None:
    tr = IncidentTracker()
    rows = [(float(i), "10.0.0.5", "a", "", True) for i in range(6)]
    n = len(rows)
    learning = np.array([True] * 4 + [False] * 2)
    out = tr.fold([f"U{i}" for i in range(n)], np.arange(n, dtype=float), ["10.0.0.5"] * n,
                  ["a"] * n, [443] * n, ["tcp"] * n, [""] * n, np.full(n, 0.7), np.ones(n, bool),
                  learning)  # fmt: skip
    assert len(set(out.incident[:4])) == 1 and len(set(out.incident[4:])) == 1
    assert out.incident[0] != out.incident[4] and out.count.tolist() == [1, 2, 3, 4, 1, 2]
    assert [i.learning for i in tr.incidents()] == [4, 0]
