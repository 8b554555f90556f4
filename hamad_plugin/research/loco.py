"""Leave-one-capture-out evaluation of the conn-log detector (``hamad loco``).

For each labelled capture: train on all the *other* captures, calibrate the
threshold on their benign held-back rows, and score the held-out capture
through the same features. This is the question an operator asks: "on a
network the model never saw, how many of the bad connections does it flag,
and how many false alarms per 10,000 benign connections does that cost?"

One ensemble fit per fold yields four scorers, so the comparison is fair
(same trees, same data): HAMAD (attention fusion), plain averaging of the
three members, Random Forest alone and the novelty detector alone. Each gets
its own threshold calibrated on the same benign rows. A fifth row runs HAMAD's
scores through the adaptive threshold (in stream order) instead of the fixed one.

Two operating points are reported per fold:
* ``@cal``: the threshold calibrated on the *training* captures' benign rows
  for ``target_fpr`` (what a deployment would really use);
* ``R@1e-4``: recall when the threshold is set on the held-out capture's own
  benign rows for FPR <= 1e-4 (an oracle: how separable the capture is).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..core.features import FeatureConfig, feature_names
from ..core.threshold import AdaptiveThreshold
from ..errors import ConfigError
from ..offline.captures import CaptureData, load_capture
from ..offline.ensemble import HamadEnsemble
from ..offline.metrics import average_precision, recall_at_fpr, roc_auc
from ..offline.train import block_groups
from ..scoring.incidents import NOTICE_MIN_CONNECTIONS
from .false_alarms import FalseAlarmGroup, false_alarm_groups

VARIANTS = ("HAMAD", "attention gate", "mean fusion", "RF alone", "XGB alone", "novelty alone")
#: HAMAD's scores with the run-time adaptive threshold instead of the fixed calibrated one.
ADAPTIVE = "HAMAD + adaptive threshold"
#: Share of each training capture (its end, in time) kept back for threshold calibration.
CALIBRATION_TAIL = 0.15
#: Fewest held-back benign rows a fold calibrates on before falling back to training rows.
MIN_CALIBRATION = 50


@dataclass
class FoldResult:
    capture: str
    n_benign: int
    n_malicious: int
    families: dict[str, int]
    rows: dict[str, dict[str, Any]]
    seconds: float
    calibration: str = "held-back benign rows of the training captures"
    #: Labels and HAMAD scores of the held-out capture (for plots).
    y: np.ndarray | None = None
    scores: np.ndarray | None = None
    #: With ``hamad loco --learn``: the capture as a new deployment, per learning fraction.
    learning: list[LearnResult] = field(default_factory=list)
    #: The fusion the fold's model ships (chosen on out-of-capture scores inside training)
    #: and the evidence it was chosen on.
    fusion: str = ""
    fusion_evidence: dict[str, dict[str, float]] = field(default_factory=dict)


def _variant_scores(ens: HamadEnsemble, X: np.ndarray) -> dict[str, np.ndarray]:
    S = ens.base_scores(X)
    W = ens.attention_weights(X, S)
    gate = ens.attention_gate_
    G = W if gate is None else gate.weights(X, S)
    idx = {m: i for i, m in enumerate(ens.members)}
    return {
        VARIANTS[0]: (W * S).sum(axis=1),
        VARIANTS[1]: (G * S).sum(axis=1),
        VARIANTS[2]: S.mean(axis=1),
        VARIANTS[3]: S[:, idx["rf"]],
        VARIANTS[4]: S[:, idx["xgb"]],
        VARIANTS[5]: S[:, idx["novelty"]],
    }


def _fit_fold(
    others: Sequence[CaptureData], n_estimators: int, seed: int
) -> tuple[HamadEnsemble, np.ndarray, str, np.ndarray]:
    """Train on the other captures' first 85 % (time order).

    Returns the ensemble, the benign rows to calibrate on (their held-back
    tails), how those were chosen, and the benign training rows.
    """
    Xtr, ytr, gtr, Xca, yca = [], [], [], [], []
    for ci, c in enumerate(others):
        cut = int(len(c.y) * (1 - CALIBRATION_TAIL))
        Xtr.append(c.X[:cut])
        ytr.append(c.y[:cut])
        gtr.append(block_groups(ci, cut))
        Xca.append(c.X[cut:])
        yca.append(c.y[cut:])
    X, y, g = np.vstack(Xtr), np.concatenate(ytr), np.concatenate(gtr)
    ens = HamadEnsemble(n_estimators=n_estimators, random_state=seed, select_fusion=False)
    ens.fit(X, y, groups=g)
    Xc, yc = np.vstack(Xca), np.concatenate(yca)
    calibration = FoldResult.calibration
    benign_cal = Xc[yc == 0]
    if len(benign_cal) < MIN_CALIBRATION:
        # Too few held-back benign rows to calibrate on: fall back to the training
        # benign rows, which flatters the threshold; the report says so.
        benign_cal = X[y == 0]
        calibration = f"training benign rows (held-back tail had < {MIN_CALIBRATION} benign rows)"
    return ens, benign_cal, calibration, X[y == 0]


def _fold(
    held: CaptureData,
    fitted_fold: tuple[HamadEnsemble, np.ndarray, str, np.ndarray],
    target_fpr: float,
) -> FoldResult:
    t0 = time.perf_counter()
    ens, benign_cal, calibration, _ = fitted_fold
    cal = _variant_scores(ens, benign_cal)
    test = _variant_scores(ens, held.X)
    yt = held.y
    rows: dict[str, dict[str, Any]] = {}
    for name in (*VARIANTS, ADAPTIVE):
        base_name = VARIANTS[0] if name == ADAPTIVE else name
        mode = "adaptive" if name == ADAPTIVE else "fixed"
        fitted = AdaptiveThreshold(mode=mode, target_fpr=target_fpr).fit(cal[base_name])
        thr = fitted.threshold_
        s = test[base_name]
        # In stream order, as the worker decides (the adaptive threshold moves as it goes).
        flag, _ = fitted.decide(s)
        ben, mal = yt == 0, yt == 1
        row: dict[str, Any] = {
            "threshold": thr,
            "fpr": float(flag[ben].mean()) if ben.any() else None,
            "recall": float(flag[mal].mean()) if mal.any() else None,
            "roc_auc": roc_auc(yt, s),
            "pr_auc": average_precision(yt, s),
            "recall_at_1e-4": recall_at_fpr(yt, s, 1e-4),
            "by_family": {},
        }
        for fam in sorted({d for d, lab in zip(held.detail, yt, strict=True) if lab == 1}):
            sel = np.array([d == fam for d in held.detail]) & mal
            row["by_family"][fam] = float(flag[sel].mean())
        rows[name] = row
    fams: dict[str, int] = {}
    for d, lab in zip(held.detail, yt, strict=True):
        if lab == 1:
            fams[d] = fams.get(d, 0) + 1
    return FoldResult(
        held.name,
        int((yt == 0).sum()),
        int((yt == 1).sum()),
        fams,
        rows,
        time.perf_counter() - t0,
        calibration,
        yt,
        test[VARIANTS[0]],
    )


def neutral_columns(config: FeatureConfig, prefixes: Sequence[str]) -> np.ndarray:
    """Mask of the features whose names start with one of ``prefixes`` (the ablation).

    Held at a constant, a feature carries no information but keeps its place
    in the vector, so the fold's model still fits the serving pipeline.
    """
    from ..core.features import KEY_KINDS

    names = feature_names(config)
    mask = np.zeros(len(names), dtype=bool)
    for prefix in prefixes:
        hit = np.array([n.startswith(prefix) for n in names], dtype=bool)
        if not prefix or not hit.any():
            parts = [n.split("_") for n in names if n.split("_")[0] in KEY_KINDS]
            groups = sorted({f"{p[0]}_" for p in parts} | {f"{p[0]}_{p[1]}_" for p in parts})
            raise ConfigError(
                f"--neutralize {prefix!r} names no feature; feature names start with e.g. "
                f"{', '.join(groups[:12])} (hamad info --features lists them all)"
            )
        mask |= hit
    return mask


def run_loco(
    paths: Sequence[str | Path],
    *,
    target_fpr: float = 1e-4,
    n_estimators: int = 60,
    seed: int = 0,
    learn: Sequence[float] = (),
    config: FeatureConfig | None = None,
    neutralize: Sequence[str] = (),
    train_extra: Sequence[str | Path] = (),
    progress: Callable[[str], None] | None = None,
) -> list[FoldResult]:
    """One fold per capture; returns the per-fold results.

    ``learn`` (fractions of each held-out capture's time span): also score the
    held-out capture as a new deployment that learns on its first part, with
    the same fold model (see :func:`learn_fold`). ``neutralize`` (feature-name
    prefixes) is the ablation: those features are held at 0 in training and
    in scoring, so a fold learns without them (:func:`neutral_columns`).
    ``train_extra``: labelled captures every fold also trains on, never held out.
    """
    from ..offline.ingest import read_conn_log

    config = config or FeatureConfig()
    mask = neutral_columns(config, neutralize)

    def load(p: str | Path, note: str = "") -> CaptureData:
        if progress:
            progress(f"features {Path(p).name}{note}")
        cap = load_capture(p, config)
        cap.X[:, mask] = 0.0
        return cap

    caps = [load(p) for p in paths]
    extra = [load(p, " (training only)") for p in train_extra]
    results = []
    for i, held in enumerate(caps):
        if progress:
            progress(f"fold {i + 1}/{len(caps)}: hold out {held.name}")
        t0 = time.perf_counter()
        others = [c for j, c in enumerate(caps) if j != i] + extra
        fitted = _fit_fold(others, n_estimators, seed)
        res = _fold(held, fitted, target_fpr)
        res.fusion, res.fusion_evidence = fitted[0].fusion_, dict(fitted[0].fusion_evidence_)
        if learn:
            if progress:
                progress(f"fold {i + 1}/{len(caps)}: {held.name} as a new deployment")
            ens, benign_cal, _, X_benign = fitted
            thr = AdaptiveThreshold(mode="adaptive", target_fpr=target_fpr)
            thr.fit(_variant_scores(ens, benign_cal)[VARIANTS[0]])
            reader = read_conn_log(paths[i])
            records = list(reader)
            reader.stats.raise_if_damaged()
            res.learning = learn_fold(
                records, _fold_model(ens, config, thr, X_benign, mask), config, learn
            )
        res.seconds = time.perf_counter() - t0
        results.append(res)
    return results


def _f(v: Any, pct: bool = False) -> str:
    if v is None:
        return "n/a"
    return f"{100 * v:.1f}%" if pct else f"{v:.3f}"


def _header(
    command: str,
    target_fpr: float,
    n_estimators: int,
    seed: int,
    versions: dict[str, str],
    data_note: str | None,
) -> list[str]:
    """Title, where the data was (``data_note``), how the report was produced, the method."""
    lines = ["# Leave-one-capture-out evaluation (conn logs)", ""]
    if data_note is not None:
        lines += [f"DATA = `{data_note}` (`make loco` runs this).", ""]
    return lines + [
        f"Produced by `{command}` on {time.strftime('%Y-%m-%d')} "
        f"(hamad {versions.get('hamad')}, scikit-learn {versions.get('scikit-learn')}, "
        f"xgboost {versions.get('xgboost')}; {n_estimators} trees per tree member, seed {seed}).",
        "",
        "Each fold trains on all other labelled captures (first 85 % of each in time order), "
        f"calibrates each scorer's threshold for a target FPR of {target_fpr:g} on the benign "
        "rows of their last 15 %, and scores the whole held-out capture with fresh windows. "
        "`recall@cal` / `FPR@cal` use that calibrated threshold (what a deployment gets); "
        "`false alarms /10k` is FPR@cal x 10,000; `R@1e-4` is the recall at a threshold set "
        "on the held-out capture's own benign rows for FPR <= 1e-4 (an oracle measure of "
        "separability). "
        "`HAMAD + adaptive threshold` starts from HAMAD's calibrated threshold and adapts it to "
        "the held-out capture's own score distribution while streaming through it (within its "
        "bounds), as `hamad serve` does by default. "
        "Locality features come from the default RFC 1918 networks, never from the logs' "
        "`local_orig`/`local_resp` columns; no feature names the capture.",
        "",
    ]


def _summary(results: Sequence[FoldResult]) -> list[str]:
    """One row per held-out capture: HAMAD (attention fusion) at its calibrated threshold."""
    summary = [
        "## Summary (HAMAD: the fusion each fold ships)",
        "",
        "| held-out capture | benign | malicious | fusion | recall@cal | FPR@cal | "
        "false alarms /10k | ROC-AUC | PR-AUC | R@1e-4 |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        h = r.rows[VARIANTS[0]]
        fa = None if h["fpr"] is None else h["fpr"] * 10000
        summary.append(
            f"| {r.capture} | {r.n_benign} | {r.n_malicious} | {r.fusion or 'attention'} | "
            f"{_f(h['recall'], True)} | "
            f"{_f(h['fpr'], True)} | {'n/a' if fa is None else f'{fa:.0f}'} | {_f(h['roc_auc'])} | "
            f"{_f(h['pr_auc'])} | {_f(h['recall_at_1e-4'], True)} |"
        )
    return summary


def _detail(r: FoldResult) -> list[str]:
    """The section of one held-out capture: every scorer, with recall by family."""
    fams = ", ".join(f"{k}: {v}" for k, v in r.families.items()) or "none"
    detail = [
        f"### held out: {r.capture}",
        "",
        f"{r.n_benign} benign, {r.n_malicious} malicious ({fams}); threshold calibrated "
        f"on {r.calibration}; fold took {r.seconds:.0f} s. "
        f"HAMAD ships `{r.fusion or 'attention'}`"
        + (
            ": out-of-fold recall inside training "
            + ", ".join(f"{k} {100 * v['recall']:.1f}%" for k, v in r.fusion_evidence.items())
            if r.fusion_evidence
            else ""
        )
        + ".",
        "",
        "| scorer | threshold | recall@cal | FPR@cal | ROC-AUC | PR-AUC | R@1e-4 | "
        "recall by family @cal |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, row in r.rows.items():
        fam = "; ".join(f"{k} {_f(v, True)}" for k, v in row["by_family"].items()) or "-"
        detail.append(
            f"| {name} | {row['threshold']:.4f} | {_f(row['recall'], True)} | "
            f"{_f(row['fpr'], True)} | {_f(row['roc_auc'])} | {_f(row['pr_auc'])} | "
            f"{_f(row['recall_at_1e-4'], True)} | {fam} |"
        )
    detail.append("")
    return detail


def render_markdown(
    results: Sequence[FoldResult],
    command: str,
    target_fpr: float,
    n_estimators: int,
    seed: int,
    versions: dict[str, str],
    *,
    data_note: str | None = None,
    pr_image: str | None = None,
    learning_image: str | None = None,
    neutralized: Sequence[str] = (),
    train_extra: Sequence[str] = (),
) -> str:
    """The docs/loco.md report: one table per held-out capture, plus a summary.

    ``data_note``: where the captures were, as the reader should name it (a path
    relative to where the command ran, never this machine's absolute path); it
    goes under the title as ``DATA = `...```. ``pr_image`` (the PR curves) and
    ``learning_image`` (the ``--learn`` plot) are link targets relative to the
    Markdown file, e.g. ``img/loco_pr.png``: the learning plot goes right before
    the per-capture section, the PR curves at the end. ``neutralized``: the
    feature prefixes the run held at 0 (``--neutralize``), said under the method;
    ``train_extra``: the training-only captures (``--train-extra``), likewise.
    """
    lines = _header(command, target_fpr, n_estimators, seed, versions, data_note)
    if neutralized:
        held = ", ".join(f"`{p}*`" for p in neutralized)
        lines += [
            f"**Ablation:** the features {held} are held at 0 in training and scoring, so "
            "every fold learns and decides without them.",
            "",
        ]
    if train_extra:
        lines += [
            "**Training-only captures:** every fold also trains on "
            + ", ".join(f"`{p}`" for p in train_extra)
            + " (never held out, never scored here).",
            "",
        ]
    learning = render_learning(results) if any(r.learning for r in results) else []
    if learning_image is not None:
        learning += ["", f"![false alarms and recall after learning]({learning_image})"]
    detail = [line for r in results for line in _detail(r)]
    text = (
        "\n".join(
            lines + _summary(results) + learning + ["", "## Per capture and scorer", ""] + detail
        )
        + "\n"
    )
    if pr_image is not None:
        text += f"\n![PR curves per held-out capture]({pr_image})\n"
    return text


def _fa_recall(row: dict[str, Any]) -> str:
    fa = "n/a" if row["fa_per_10k"] is None else f"{row['fa_per_10k']:.0f}"
    return f"{fa} · {_f(row['recall'], True)}"


def _inside(inside: tuple[int, int]) -> str:
    total, caught = inside
    return "none" if total == 0 else f"{caught} / {total} ({100 * caught / total:.1f}%)"


def render_learning(results: Sequence[FoldResult]) -> list[str]:
    """The ``--learn`` section: each held-out capture as a new deployment."""
    fracs = sorted(lr.fraction for lr in results[0].learning)
    head = results[0].learning[0].fraction
    out = [
        "",
        "## As a new deployment: the learning period",
        "",
        "Each held-out capture is also streamed, in file order, through the real serving "
        "`Pipeline` (fresh windows, adaptive threshold, site learner) with the fold's model, as "
        "`hamad serve` runs on a network it never saw: it learns, unlabelled, during the first "
        f"{100 * head:g} % of the capture's time span (`--learn {head:g}`), and every row after "
        "that is judged. All scorers below are measured on those same rows. Each cell is "
        "*false alarms per 10,000 benign · recall*. `today` is the shipped calibration with no "
        "learning (fixed threshold, and the adaptive threshold serve used before). `learned` is "
        "the product: connections that RF and XGBoost both score >= 0.5 are kept out of what is "
        "learned, a learned service is only familiar at rates like those seen while learning, "
        "and the threshold stays at the calibration. `learned, adaptive threshold` also adapts "
        "the threshold to the site's scores (connections not kept out), the product's first "
        "design. `learned, no guards` switches the guards off, to show what they are for. "
        "`max benign` is the highest benign score after learning and `R@0 FA` the "
        "recall a threshold just above it would get (an oracle: the ranking's limit). "
        "`began inside` is the poisoning case: the malicious rows after learning of every attack "
        "(label family) whose first connection lay inside the learning window, and the share "
        "`learned` still flags. `guarded` counts connections the behaviour guards (failing, "
        "fanning out, flooding, periodic) kept from being learned or familiar. `incidents` are "
        "what Zeek would raise after learning on its defaults (at least 3 anomalous "
        "connections of one originator and behaviour, `HAMAD::Incident`), and in brackets "
        "how many of them hold only benign connections.",
        "",
        "| held-out capture | learning window: benign / malicious | scored after: benign / "
        "malicious | today (fixed) | today (adaptive) | learned | learned, adaptive threshold | "
        "learned, no guards | began inside: flagged | kept out | guarded | familiar | "
        "max benign | R@0 FA | incidents (false) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lr = r.learning[0]
        rows = lr.rows
        out.append(
            f"| {r.capture} | {lr.learn_rows[0]} / {lr.learn_rows[1]} | {lr.scored_rows[0]} / "
            f"{lr.scored_rows[1]} | {_fa_recall(rows[NO_LEARNING[1]])} | "
            f"{_fa_recall(rows[NO_LEARNING[0]])} | **{_fa_recall(rows[LEARN_VARIANTS[0]])}** | "
            f"{_fa_recall(rows[LEARN_VARIANTS[1]])} | "
            f"{_fa_recall(rows[LEARN_VARIANTS[2]])} | {_inside(lr.inside)} | "
            f"{lr.learner['kept_out']} | {lr.learner.get('guarded', 0)} | "
            f"{lr.learner['familiar']} | {_f(lr.max_benign)} | {_f(lr.recall_at_zero_fa, True)} | "
            f"{lr.incidents[0]} ({lr.incidents[1]}) |"
        )
    described = [(r.capture, r.learning[0].false_alarms) for r in results]
    if any(groups for _, groups in described):
        out += [
            "",
            "What the false alarms after learning are (`learned`, the largest groups of "
            "benign-labelled connections it flagged, by protocol/port, connection state and "
            "behaviour). The labels come from the datasets. Connections from source port 0, which "
            "no TCP/IP stack sends from, or a thousand packets in one unanswered connection, "
            "are crafted traffic (a flood tool) that the labels call benign, not an ordinary "
            "service the model does not know.",
            "",
        ]
        for capture, groups in described:
            if groups:
                out.append(f"- {capture}: " + "; ".join(g.describe() for g in groups))
    if len(fracs) > 1:
        out += [
            "",
            "How long to learn: `learned` and `learned, adaptive threshold` (false alarms /10k · "
            "recall) by the share of the capture's time span used for learning. Each column is "
            "scored on the rows after its own learning window, so the columns cover different "
            "rows.",
            "",
            "| held-out capture | "
            + " | ".join(f"learn {100 * f:g} %{t}" for f in fracs for t in ("", ", adaptive"))
            + " |",
            "|---|" + "---:|" * (2 * len(fracs)),
        ]
        for r in results:
            by = sorted(r.learning, key=lambda lr: lr.fraction)
            cells = " | ".join(_fa_recall(lr.rows[v]) for lr in by for v in LEARN_VARIANTS[:2])
            out.append(f"| {r.capture} | {cells} |")
    return out


# ---------------------------------------------------------------------------
# LOCO with a learning period (``hamad loco --learn``)

#: Learning evaluations per held-out capture: the first uses the product's guards.
LEARN_VARIANTS = ("learned", "learned, adaptive threshold", "learned, no guards")
#: The same held-out rows scored with the shipped calibration only (what serve did before).
NO_LEARNING = ("no learning (adaptive)", "no learning (fixed)")


class _EnsembleSession:
    """The onnxruntime call :class:`~hamad_plugin.scoring.model.LoadedModel` makes, answered by an
    in-memory ensemble: LOCO fold models run through the real Pipeline without an export."""

    def __init__(self, ens: HamadEnsemble, neutral: np.ndarray | None = None) -> None:
        self.ens = ens
        self.neutral = neutral

    def run(self, _outputs: Any, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        X = feed["features"]
        if self.neutral is not None and self.neutral.any():
            X = X.copy()
            X[:, self.neutral] = 0.0
        S = self.ens.base_scores(X)
        W = self.ens.attention_weights(X, S)
        return [(W * S).sum(axis=1), W, S]


def _fold_model(
    ens: HamadEnsemble,
    config: FeatureConfig,
    thr: AdaptiveThreshold,
    X_benign: np.ndarray,
    neutral: np.ndarray | None = None,
) -> Any:
    """A LoadedModel for a fold's in-memory ensemble and calibrated threshold."""
    from ..core.features import feature_names
    from ..core.manifest import ExplainInfo, FeaturesInfo, ModelManifest, ThresholdInfo
    from ..scoring.model import LoadedModel

    sd = X_benign.std(axis=0)
    manifest = ModelManifest(
        version="loco-fold",
        members=tuple(ens.members),
        features=FeaturesInfo(names=tuple(feature_names(config)), config=config.to_dict()),
        threshold=ThresholdInfo.from_threshold(thr),
        explain=ExplainInfo(
            mean=tuple(X_benign.mean(axis=0).tolist()),
            scale=tuple(np.where(sd > 1e-6, sd, 1.0).tolist()),
            importance=tuple(ens.feature_importances().tolist()),
        ),
        model_sha256="0" * 64,
    )
    return LoadedModel(Path("<loco fold>"), manifest, _EnsembleSession(ens, neutral), config)


@dataclass
class LearnResult:
    """One held-out capture scored as a new deployment that learns on its first part."""

    fraction: float
    period: float
    #: Labelled rows in the learning window: (benign, malicious).
    learn_rows: tuple[int, int]
    #: Labelled rows scored after learning: (benign, malicious).
    scored_rows: tuple[int, int]
    #: variant -> {"fp", "fa_per_10k", "tp", "recall"} on the rows scored after learning.
    rows: dict[str, dict[str, Any]]
    #: The guarded learner's counters (kept out, learned, familiar, ...).
    learner: dict[str, Any]
    #: Highest benign score after learning, and the recall a threshold just above it gets.
    max_benign: float | None = None
    recall_at_zero_fa: float | None = None
    #: Malicious rows after learning of the attacks (label families) that began inside the
    #: learning window, and how many of them ``learned`` flagged: the poisoning case.
    inside: tuple[int, int] = (0, 0)
    #: Incidents Zeek would raise after learning (at least 3 anomalous connections, on its
    #: defaults), and how many of them hold only benign-labelled connections.
    incidents: tuple[int, int] = (0, 0)
    #: The false alarms after learning (``learned``), grouped by what they look like.
    false_alarms: list[FalseAlarmGroup] = field(default_factory=list)


def incident_counts(
    verdicts: Sequence[Any], y: np.ndarray, min_connections: int = NOTICE_MIN_CONNECTIONS
) -> tuple[int, int]:
    """(incidents raised after learning, of them made only of benign rows): what an operator
    reads, and how many of those are false."""
    members: dict[str, list[int]] = {}
    for v, label in zip(verdicts, y.tolist(), strict=True):
        if v.incident and not v.learning and not v.interim:
            members.setdefault(v.incident, []).append(label)
    raised = [m for m in members.values() if len(m) >= min_connections]
    return len(raised), sum(1 for m in raised if all(x == 0 for x in m))


def _stream(pipe: Any, records: Sequence[Any], batch: int = 1024) -> list[Any]:
    out = []
    for start in range(0, len(records), batch):
        out.extend(pipe.score(records[start : start + batch]))
    return out


def _rates(flags: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    ben, mal = y == 0, y == 1
    fp, tp = int((flags & ben).sum()), int((flags & mal).sum())
    return {
        "fp": fp,
        "fa_per_10k": 1e4 * fp / ben.sum() if ben.any() else None,
        "tp": tp,
        "recall": tp / mal.sum() if mal.any() else None,
    }


def learn_fold(
    records: Sequence[Any],
    model: Any,
    config: FeatureConfig,
    fractions: Sequence[float],
) -> list[LearnResult]:
    """Score one held-out capture as a deployment that learns on its first ``fraction``.

    The capture streams through the real :class:`~hamad_plugin.scoring.pipeline.Pipeline`
    (features, fold model, adaptive threshold, site learner) in file order, as
    ``hamad replay --learn`` and ``hamad serve`` would. Metrics cover only the
    labelled rows scored after learning; every variant is measured on the
    same rows.
    """
    from ..core.settings import LearningSettings
    from ..scoring.pipeline import Pipeline

    y_all = np.array([-1 if r.is_malicious is None else int(r.is_malicious) for r in records])
    ends = np.array([r.end_ts for r in records], dtype=np.float64)
    ends = ends[np.isfinite(ends)]
    span = float(ends.max() - ends.min()) if len(ends) else 0.0
    calibration = model.manifest.threshold

    def run(learning: LearningSettings | None, mode: str, guards: bool = True) -> list[Any]:
        thr = calibration.to_threshold(mode=mode)
        pipe = Pipeline(model, thr, config, learning=learning)
        if pipe.learner is not None and not guards:
            pipe.learner.guard = math.inf
            pipe.learner.rate_cap = math.inf
            pipe.learner.guards.enabled = False
        verdicts = _stream(pipe, records)
        run.learner = pipe.learner  # type: ignore[attr-defined]
        return verdicts

    base = {
        name: run(None, mode) for name, mode in zip(NO_LEARNING, ("adaptive", "fixed"), strict=True)
    }
    out = []
    for frac in fractions:
        period = frac * span
        ls = LearningSettings(period=f"{period:.6f}")
        guarded = run(ls, "adaptive")
        summary = run.learner.summary()  # type: ignore[attr-defined]
        adaptive = run(replace(ls, adapt_threshold=True), "adaptive")
        unguarded = run(ls, "adaptive", guards=False)
        after = ~np.array([v.learning for v in guarded])
        y = y_all[after]
        rows: dict[str, dict[str, Any]] = {}
        for name, vs in (
            (LEARN_VARIANTS[0], guarded),
            (LEARN_VARIANTS[1], adaptive),
            (LEARN_VARIANTS[2], unguarded),
            *base.items(),
        ):
            flags = np.array([v.anomalous for v in vs])[after]
            rows[name] = _rates(flags, y)
        first: dict[str, int] = {}
        for i, r in enumerate(records):
            if y_all[i] == 1:
                first.setdefault(r.detailed_label or r.label or "", i)
        began = {fam for fam, i in first.items() if not after[i]}
        inside_rows = (
            np.array(
                [
                    y_all[i] == 1 and (r.detailed_label or r.label or "") in began
                    for i, r in enumerate(records)
                ]  # fmt: skip
            )
            & after
        )
        g_flags = np.array([v.anomalous for v in guarded])
        inside = (int(inside_rows.sum()), int((g_flags & inside_rows).sum()))
        scores = np.array([v.score for v in guarded])[after]
        ben, mal = scores[y == 0], scores[y == 1]
        learn_y = y_all[~after]
        out.append(
            LearnResult(
                fraction=frac,
                period=period,
                learn_rows=(int((learn_y == 0).sum()), int((learn_y == 1).sum())),
                scored_rows=(int((y == 0).sum()), int((y == 1).sum())),
                rows=rows,
                learner=summary,
                max_benign=float(ben.max()) if len(ben) else None,
                recall_at_zero_fa=float((mal > ben.max()).mean())
                if len(ben) and len(mal)
                else None,
                inside=inside,
                incidents=incident_counts(guarded, y_all),
                false_alarms=false_alarm_groups(records, guarded, g_flags & after & (y_all == 0)),
            )
        )
    return out
