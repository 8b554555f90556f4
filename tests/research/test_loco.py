"""``render_markdown`` of ``hamad loco`` writes the data note and the image links itself."""

from __future__ import annotations

from typing import Any

import numpy as np

from hamad_plugin.research.loco import (
    ADAPTIVE,
    LEARN_VARIANTS,
    NO_LEARNING,
    VARIANTS,
    FoldResult,
    LearnResult,
    render_markdown,
)

VERSIONS = {"hamad": "1.0", "scikit-learn": "1.5", "xgboost": "2.1"}
TITLE = "# Leave-one-capture-out evaluation (conn logs)"
DETAIL = "## Per capture and scorer"


def _row(i: int) -> dict[str, object]:
    return {
        "threshold": 0.5 + i / 100,
        "fpr": 0.001 * i,
        "recall": 0.9 - i / 50,
        "roc_auc": 0.99,
        "pr_auc": None if i == 2 else 0.8,
        "recall_at_1e-4": 0.5,
        "by_family": {"C&C": 0.75} if i else {},
    }


def _results(learning: bool) -> list[FoldResult]:
    variants = (*LEARN_VARIANTS, *NO_LEARNING)
    rates = {n: {"fp": k, "fa_per_10k": 2.0 * k, "tp": 9, "recall": 0.9} for k, n in
             enumerate(variants)}  # fmt: skip
    learn = [
        LearnResult(f, 60.0 * f, (100, 3), (900, 30), rates, {"kept_out": 4, "familiar": 7}, 0.9)
        for f in (0.2, 0.4)
    ]
    return [
        FoldResult(
            f"cap-{c}",
            1000,
            33,
            {"C&C": 30, "scan": 3},
            {n: _row(k) for k, n in enumerate((*VARIANTS, ADAPTIVE))},
            12.3,
            y=np.array([0, 1]),
            scores=np.array([0.1, 0.9]),
            learning=learn if learning else [],
        )
        for c in range(2)
    ]


def _render(learning: bool, **kw: str) -> str:
    return render_markdown(_results(learning), "hamad loco --data X", 1e-4, 60, 0, VERSIONS, **kw)


def _patched_like_the_cli(text: str, data: str, pr: str, learn: str | None) -> str:
    """What ``hamad loco`` made of the plain Markdown with str.replace before."""
    text = text.replace(
        "(conn logs)\n", f"(conn logs)\n\nDATA = `{data}` (`make loco` runs this).\n", 1
    )
    text += "\n![PR curves per held-out capture](" + pr + ")\n"
    if learn:
        text = text.replace(
            f"\n{DETAIL}",
            f"\n![false alarms and recall after learning]({learn})\n\n{DETAIL}",
            1,
        )
    return text


def test_render_markdown_places_the_data_note_and_both_images() -> None:
    text = _render(
        True,
        data_note="../shared/datasets",
        pr_image="img/loco_pr.png",
        learning_image="img/loco_learning.png",
    )
    lines = text.splitlines()
    assert lines[:3] == [TITLE, "", "DATA = `../shared/datasets` (`make loco` runs this)."]
    at = lines.index(DETAIL)
    assert lines[at - 2 : at] == ["![false alarms and recall after learning](img/loco_learning.png)", ""]  # fmt: skip
    assert lines[at - 3] == ""  # after the learning section's last table row
    assert text.endswith("\n\n![PR curves per held-out capture](img/loco_pr.png)\n")
    plain = _render(True)
    expected = _patched_like_the_cli(
        plain, "../shared/datasets", "img/loco_pr.png", "img/loco_learning.png"
    )
    assert text == expected


def test_render_markdown_without_learning_or_images_is_the_plain_report() -> None:
    plain = _render(False)
    assert "DATA = " not in plain and "![" not in plain
    assert plain.startswith(TITLE + "\n\nProduced by `hamad loco --data X` on ")
    with_pr = _render(False, data_note="data", pr_image="img/loco_pr.png")
    assert with_pr == _patched_like_the_cli(plain, "data", "img/loco_pr.png", None)


# -- the feature-group ablation (--neutralize) ----------------------------------------


def test_neutral_columns_cover_exactly_the_named_groups() -> None:
    from hamad_plugin.core.features import FeatureConfig, feature_names
    from hamad_plugin.research.loco import neutral_columns

    config = FeatureConfig()
    names = feature_names(config)
    mask = neutral_columns(config, ("dst_", "src_30m_"))
    held = {n for n, m in zip(names, mask, strict=True) if m}
    assert held and all(n.startswith(("dst_", "src_30m_")) for n in held)
    assert held == {n for n in names if n.startswith(("dst_", "src_30m_"))}
    assert not neutral_columns(config, ()).any()


def test_a_prefix_that_names_no_feature_is_refused_with_the_groups() -> None:
    import pytest

    from hamad_plugin.core.features import FeatureConfig
    from hamad_plugin.errors import ConfigError
    from hamad_plugin.research.loco import neutral_columns

    with pytest.raises(ConfigError, match="dst_30m_"):
        neutral_columns(FeatureConfig(), ("dts_",))


def test_a_neutralized_group_plays_no_part_in_a_fold(sim_logs: object) -> None:
    """The fold's trees never split on a neutralized feature, and scoring ignores its values."""
    import pytest

    pytest.importorskip("xgboost")
    from hamad_plugin.core.features import FeatureConfig
    from hamad_plugin.offline.captures import load_capture
    from hamad_plugin.research.loco import _EnsembleSession, _fit_fold, neutral_columns

    config = FeatureConfig()
    mask = neutral_columns(config, ("dst_",))
    caps = [load_capture(p, config) for p in (sim_logs.tsv, sim_logs.other)]  # type: ignore[attr-defined]
    for c in caps:
        c.X[:, mask] = 0.0
    ens, _, _, _ = _fit_fold(caps, n_estimators=5, seed=0)
    assert ens.feature_importances()[mask].sum() == 0.0
    X = caps[0].X[:200].copy()
    noisy = X.copy()
    noisy[:, mask] = 7.0  # what the serving pipeline would compute for these columns
    session = _EnsembleSession(ens, mask)
    a = session.run(None, {"features": X})[0]
    b = session.run(None, {"features": noisy})[0]
    # The forest predicts on two threads and adds the trees' votes in whatever order they finish,
    # so two runs on the same rows can differ in the last bit: equal to rounding, not bit for bit.
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    # The check can fail: without the mask the noisy columns reach the gate's and members' inputs.
    unmasked = _EnsembleSession(ens).run(None, {"features": noisy})[0]
    assert not np.allclose(a, unmasked, rtol=1e-12, atol=1e-15)


def test_incidents_count_what_zeek_would_raise_after_learning_and_the_false_ones() -> None:
    from types import SimpleNamespace

    from hamad_plugin.research.loco import incident_counts

    def v(inc: str, learning: bool = False) -> Any:
        return SimpleNamespace(incident=inc, learning=learning, interim=False)

    verdicts = [v("a"), v("a"), v("a"), v("b"), v("b"), v("b"), v("b"), v("c"), v("c"),
                v("d", True), v("d", True), v("d", True), v("")]  # fmt: skip
    y = np.array([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    assert incident_counts(verdicts, y) == (2, 1)  # a (false), b; c too small, d while learning


def test_false_alarms_are_grouped_by_what_they_look_like() -> None:
    from types import SimpleNamespace

    from hamad_plugin.research.false_alarms import false_alarm_groups

    def r(ts: float, orig_p: int, resp_p: int, resp_h: str = "8.8.8.8", state: str = "S0") -> Any:
        return SimpleNamespace(ts=ts, proto="tcp", orig_h="10.0.0.5", orig_p=orig_p,
                               resp_h=resp_h, resp_p=resp_p, conn_state=state,
                               orig_pkts=1175 if orig_p == 0 else None)  # fmt: skip

    records = [r(0, 0, 53), r(4, 65279, 53), r(9, 80, 53), r(10, 51000, 443, "1.2.3.4", "SF"),
               r(20, 51001, 53), r(3000, 51002, 443, "5.6.7.8", "SF")]  # fmt: skip
    verdicts = [SimpleNamespace(behaviour="scan")] * 3 + [SimpleNamespace(behaviour="")] * 3
    mask = np.array([True, True, True, True, False, True])  # row 4 is not a false alarm
    burst, service = false_alarm_groups(records, verdicts, mask)
    assert (burst.connections, burst.originators, burst.responders) == (3, 1, 1)
    assert (burst.orig_ports, burst.port_zero, burst.max_orig_pkts, burst.span) == (3, 1, 1175, 9.0)
    assert burst.describe() == (
        "3 × tcp/53 S0 (scan): 1 originator(s) → 1 responder(s) within 9 s, "
        "3 source port(s), 1 connection(s) from source port 0, up to 1175 packet(s) in one "
        "connection"
    )
    assert (service.connections, service.responders, service.port_zero) == (2, 2, 0)
    assert "source port 0" not in service.describe()
    assert (
        service.describe().startswith("2 × tcp/443 SF: ") and "within 50 min" in service.describe()
    )
    assert false_alarm_groups(records, verdicts, mask, top=1) == [burst]
    assert false_alarm_groups(records, verdicts, np.zeros(6, dtype=bool)) == []


def test_the_learning_section_lists_the_false_alarm_groups() -> None:
    from hamad_plugin.research.false_alarms import FalseAlarmGroup

    results = _results(learning=True)
    group = FalseAlarmGroup("tcp", 53, "S0", "scan", 41, 1, 1, 33, 2, 1175, 10.2)
    from dataclasses import replace

    # _results shares one list of learning results between the captures.
    results[1].learning = [replace(results[1].learning[0], false_alarms=[group])]
    text = render_markdown(results, "hamad loco --data X", 1e-4, 60, 0, VERSIONS)
    assert f"- cap-1: {group.describe()}" in text
    assert "- cap-0:" not in text
    assert "What the false alarms after learning are" not in _render(learning=False)
