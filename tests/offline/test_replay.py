"""replay's per-label breakdown: what was caught of each scenario, in bounded memory."""

from __future__ import annotations

from hamad_plugin.offline.replay import MAX_LABELS, OTHER_LABELS, LabelBreakdown


def test_breakdown_counts_rows_and_flags_per_class_and_label() -> None:
    b = LabelBreakdown()
    for mal, name, flagged in [
        (False, "Benign", False),
        (False, "Benign", True),
        (True, "DDoS", True),
        (True, "C&C", False),
        (True, "DDoS", True),
        (True, "Benign", True),  # same name, other class: kept apart
    ]:
        b.add(mal, name, flagged)
    assert b.rows() == [
        {"malicious": False, "label": "Benign", "rows": 2, "flagged": 1},
        {"malicious": True, "label": "DDoS", "rows": 2, "flagged": 2},
        {"malicious": True, "label": "Benign", "rows": 1, "flagged": 1},
        {"malicious": True, "label": "C&C", "rows": 1, "flagged": 0},
    ]


def test_breakdown_pools_labels_beyond_the_cap() -> None:
    b = LabelBreakdown()
    for i in range(MAX_LABELS + 50):
        b.add(True, f"label-{i}", i % 2 == 0)
    rows = b.rows()
    assert len(rows) == MAX_LABELS + 1
    other = next(r for r in rows if r["label"] == OTHER_LABELS)
    assert other["rows"] == 50 and other["flagged"] == 25
    b.add(True, "label-3", True)  # a label already kept still counts on its own
    assert next(r for r in b.rows() if r["label"] == "label-3")["rows"] == 2
