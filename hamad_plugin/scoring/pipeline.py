"""The live scoring path: records -> features -> ensemble -> threshold -> behaviour
evidence -> site learner -> incidents -> verdicts.

``hamad replay`` and ``hamad serve`` both drive a :class:`Pipeline`; only the
source of the records differs, so what replay measures is what serve does
(including what the site learner learns: ``hamad replay --learn``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..core.features import FeatureConfig, FeatureExtractor
from ..core.jit import njit
from ..core.manifest import ExplainInfo
from ..core.records import TS, ConnColumns, ConnRecord
from ..core.settings import LearningSettings
from ..core.threshold import AdaptiveThreshold
from ..core.verdict import Verdict, VerdictBatch
from .behaviours import BehaviourEvidence
from .guards import BehaviourGuards
from .incidents import IncidentTracker
from .learning import SiteLearner, clean_rows, load_state, save_state, supervised_index
from .model import LoadedModel

if TYPE_CHECKING:
    from ..core.settings import Settings


class Pipeline:
    """Score batches of connections with one model, one extractor and one threshold.

    Parameters
    ----------
    model : LoadedModel
    threshold : AdaptiveThreshold, optional
        Defaults to the calibration stored with the model.
    feature_config : FeatureConfig, optional
        Defaults to the model's; ``local_networks``/``max_keys`` may differ per deployment.
    top_k : int, default=3
        Features named in each verdict's explanation.
    learning : LearningSettings, optional
        Learn the deployment (:mod:`hamad_plugin.scoring.learning`); None = score with
        the shipped calibration only.
    """

    def __init__(
        self,
        model: LoadedModel,
        threshold: AdaptiveThreshold | None = None,
        feature_config: FeatureConfig | None = None,
        top_k: int = 3,
        learning: LearningSettings | None = None,
    ) -> None:
        self.model = model
        manifest = model.manifest
        self.threshold = threshold or manifest.threshold.to_threshold()
        fconf = feature_config or model.feature_config
        if list(fconf.scales) != list(model.feature_config.scales):
            fconf = dataclasses.replace(fconf, scales=model.feature_config.scales)
        self.extractor = FeatureExtractor(fconf)
        self.top_k = top_k
        ex = manifest.explain or ExplainInfo()
        n = len(model.feature_names)
        self._mean = np.asarray(np.zeros(n) if ex.mean is None else ex.mean, dtype=np.float32)
        scale = np.asarray(np.ones(n) if ex.scale is None else ex.scale, dtype=np.float32)
        self._inv_scale = 1.0 / np.where(scale > 1e-6, scale, 1.0)
        imp = np.ones(n) / n if ex.importance is None else ex.importance
        self._importance = np.asarray(imp, dtype=np.float32)
        self._names = model.feature_names
        self._members = model.members
        self._supervised = supervised_index(self._members)
        self._novelty = self._members.index("novelty") if "novelty" in self._members else None
        self.learner: SiteLearner | None = None
        if learning is not None:
            self.learner = SiteLearner(
                learning, model.version, manifest.model_sha256, self._names, self._members
            )
        #: What sequences of connections give away (never learned, always flagged).
        self.evidence = BehaviourEvidence(fconf.local_networks, max_keys=fconf.max_keys)
        #: Names the behaviour of an anomalous connection without evidence (flood, scan).
        self._namer = (
            self.learner.guards
            if self.learner is not None
            else BehaviourGuards(self._names, math.log1p(LearningSettings.rate_floor))
        )
        #: Anomalous connections folded per originator and behaviour.
        self.incidents = IncidentTracker()

    @classmethod
    def load(
        cls,
        model_dir: str | Path | None = None,
        *,
        threshold_mode: str | None = None,
        target_fpr: float | None = None,
        threshold_override: float | None = None,
        local_networks: Sequence[str] | None = None,
        max_keys: int | None = None,
        top_k: int = 3,
        learning: LearningSettings | None = None,
    ) -> Pipeline:
        """Load a model directory (None = shipped default) with deployment overrides."""
        model = LoadedModel.load(model_dir)
        thr = model.manifest.threshold.to_threshold(
            mode=threshold_mode,
            target_fpr=target_fpr,
            override=threshold_override or None,
        )
        fconf = model.feature_config
        changes: dict[str, object] = {}
        if local_networks is not None:
            changes["local_networks"] = tuple(local_networks)
        if max_keys is not None:
            changes["max_keys"] = int(max_keys)
        if changes:
            fconf = dataclasses.replace(fconf, **changes)  # type: ignore[arg-type]
        return cls(model, thr, fconf, top_k=top_k, learning=learning)

    @classmethod
    def from_settings(cls, settings: Settings, learn: bool = True) -> Pipeline:
        """The pipeline a validated :class:`~hamad_plugin.core.settings.Settings` describes.

        ``learn=False`` leaves the site learner out (e.g. ``hamad replay`` without ``--learn``).
        """
        return cls.load(
            settings.model,
            threshold_mode=settings.threshold.mode,
            threshold_override=settings.threshold.override,
            local_networks=settings.features.local_networks,
            max_keys=settings.features.max_keys,
            top_k=settings.top_k,
            learning=settings.learning if learn else None,
        )

    @property
    def model_version(self) -> str:
        return self.model.version

    def set_threshold_override(self, value: float | None) -> None:
        """Pin the threshold (Zeek's ``HAMAD::threshold_override``); None or 0 = adaptive."""
        self.threshold.override = value if value else None
        self.threshold._validate()

    def reset_windows(self) -> None:
        """Forget the traffic seen (a new, unrelated capture); keep what was learned."""
        self.extractor.reset()
        self.evidence.reset()
        self.incidents.reset()

    def reset_site(self) -> None:
        """Start over as a new deployment: windows, adaptive threshold, learned state."""
        self.reset_windows()
        self.threshold.reset()
        if self.learner is not None:
            self.learner.reset()

    def save_site(self, path: Path) -> None:
        """Save what was learned about the site (needs a learner)."""
        assert self.learner is not None, "save_site needs a pipeline built with learning"
        save_state(path, self.learner, self.threshold)

    def load_site(self, path: Path) -> None:
        """Resume from a saved site state; see :func:`~hamad_plugin.scoring.learning.load_state`."""
        assert self.learner is not None, "load_site needs a pipeline built with learning"
        load_state(path, self.learner, self.threshold)

    def features(self, records: Sequence[ConnRecord], update_state: bool = True) -> np.ndarray:
        """Feature rows for records, updating the windows (exactly as :meth:`score` does)."""
        return self.extractor.transform(list(records), update=update_state)

    def score_matrix(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Model outputs for a feature matrix: score, weights, member scores."""
        return self.model.predict(X)

    def explain(self, X: np.ndarray) -> np.ndarray:
        """Per-feature contribution: |standardised deviation from benign| x importance.

        A cheap heuristic (not SHAP): it names the features on which this
        connection is most unlike benign training traffic, weighted by how
        much the trees rely on them.
        """
        return np.abs((X - self._mean) * self._inv_scale) * self._importance

    def score(self, records: Sequence[ConnRecord], update_state: bool = True) -> list[Verdict]:
        """Verdicts for a batch of connections, in input order.

        ``update_state=False`` scores without touching the windows or the
        adaptive threshold: for Zeek's interim summaries of still-open
        connections, whose final summary will be counted when they end.
        """
        if not records:
            return []
        return self.score_columns(ConnColumns.from_records(list(records)), update_state).verdicts()

    def score_columns(self, cols: ConnColumns, update_state: bool = True) -> VerdictBatch:
        """:meth:`score` of a columnar batch, as columns (``hamad replay``'s path)."""
        X = self.extractor.transform_columns(cols, update=update_state)
        times = self.extractor.last_times
        k = self._learning_ends_at(times) if update_state else None
        if k is None:
            return self._judge(cols, X, times, update_state)
        # The end of learning is a batch boundary whatever the batches (replay's 1024
        # rows, Zeek's), so what is frozen then, and every decision after, is the same.
        n = len(cols)
        return VerdictBatch.concat(
            [self._judge(cols.part(0, k), X[:k], times[:k], update_state),
             self._judge(cols.part(k, n), X[k:], times[k:], update_state)]
        )  # fmt: skip

    def _learning_ends_at(self, times: np.ndarray) -> int | None:
        """Row of the batch where the learning period ends, if it ends inside the batch."""
        learner = self.learner
        if learner is None or not learner.enabled or not len(times):
            return None
        until = learner.learning_until
        if until is None:
            until = float(times[0]) + learner.period
        k = int(np.searchsorted(times, until, side="left"))
        return k if 0 < k < len(times) else None

    def _judge(
        self, cols: ConnColumns, X: np.ndarray, times: np.ndarray, update_state: bool
    ) -> VerdictBatch:
        """Score, threshold and learner for rows whose features are computed."""
        score, weights, members = self.score_matrix(X)
        learner = self.learner
        if learner is not None and self._novelty is not None:
            score, members = self._with_site_novelty(
                learner, cols, X, times, score, weights, members
            )
        clean = learner.clean(members) if learner is not None else None
        learn_from = clean if clean is not None else self._clean(members)
        if learner is not None and learner.enabled and not learner.adapt_threshold:
            learn_from = np.zeros(len(score), dtype=bool)  # hold the calibrated threshold
        flags, used = self.threshold.decide(score, observe=update_state, learn_from=learn_from)
        ev = self.evidence.check(cols, times, update_state)
        evident = ev.mask
        if learner is not None and clean is not None:
            outcome = learner.apply(
                cols, times, X, score, clean, flags, update_state, evident=evident
            )
            flags, learning, familiar = outcome.flags, outcome.learning, outcome.familiar
        else:
            learning = familiar = np.zeros(len(cols), dtype=bool)
        flags = flags | evident
        behaviour = self._behaviour(cols, X, ev.behaviour, flags & ~evident)
        top, top_val = self._top(X)
        orig_p, resp_p = cols.ports
        inc = self.incidents.fold(
            cols.uid, times, cols.orig_h, cols.resp_h, resp_p, cols.proto, behaviour, score,
            flags, learning, update_state,
        )  # fmt: skip
        return VerdictBatch(
            uid=cols.uid, ts=cols.num[:, TS], orig_h=cols.orig_h, orig_p=orig_p,
            resp_h=cols.resp_h, resp_p=resp_p, proto=cols.proto, score=score, threshold=used,
            anomalous=flags, top=top, top_val=top_val, weights=weights, members=members,
            learning=learning, familiar=familiar, behaviour=behaviour, incident=inc.incident,
            incident_count=inc.count, incident_peers=inc.peers, incident_first=inc.first,
            incident_score=inc.score, incident_uids=inc.uids, feature_names=self._names,
            member_names=self._members, model_version=self.model.version,
        )  # fmt: skip

    def _behaviour(
        self, cols: ConnColumns, X: np.ndarray, evidence: list[str], unnamed: np.ndarray
    ) -> list[str]:
        """Each row's behaviour: its evidence, else for an ``unnamed`` anomalous row (no
        evidence) what the guards call it (flood, scan), else ""."""
        rows = np.flatnonzero(unnamed)
        if not len(rows):
            return evidence
        names = self._namer.names(cols, X)
        out = list(evidence)
        for i in rows.tolist():
            out[i] = names[i]
        return out

    def _with_site_novelty(
        self,
        learner: SiteLearner,
        cols: ConnColumns,
        X: np.ndarray,
        times: np.ndarray,
        score: np.ndarray,
        weights: np.ndarray,
        members: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Once the site is learned, its novelty takes the novelty member's place in the
        fused score, with the weight the gate gave that member (services not learned keep
        the shipped member's score): :mod:`hamad_plugin.scoring.site_novelty`."""
        site = learner.site_novelty(cols, X, times)
        if site is None:
            return score, members
        j = self._novelty
        known = np.isfinite(site)
        if not known.any():
            return score, members
        members = np.array(members, dtype=np.float32, copy=True)
        new = np.where(known, site, members[:, j]).astype(np.float32)
        score = (score + np.asarray(weights)[:, j] * (new - members[:, j])).astype(score.dtype)
        members[:, j] = new
        return np.clip(score, 0.0, 1.0), members

    def _clean(self, members: np.ndarray) -> np.ndarray | None:
        """Without a site learner: rows the supervised members do not both call malicious
        (what may move the adaptive threshold; None if the model has no such members)."""
        if not self._supervised:
            return None
        return clean_rows(members, self._supervised, LearningSettings.guard)

    def _top(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ``top_k`` features of :meth:`explain` per row, largest first (ties: lower index)."""
        k = min(self.top_k, X.shape[1])
        top = np.zeros((len(X), k), dtype=np.int64)
        top_val = np.zeros((len(X), k), dtype=np.float32)
        if k:
            X = np.ascontiguousarray(X, dtype=np.float32)
            _top_k(
                X, self._mean, self._inv_scale.astype(np.float32), self._importance, top, top_val
            )
        return top, top_val


def _top_k_py(
    X: np.ndarray, mean: np.ndarray, inv_scale: np.ndarray, importance: np.ndarray,
    top: np.ndarray, top_val: np.ndarray,
) -> None:  # fmt: skip
    """Per row, the k largest of :meth:`Pipeline.explain` (same float32 arithmetic)."""
    n, d = X.shape
    k = top.shape[1]
    for i in range(n):
        filled = 0
        for j in range(d):
            c = abs((X[i, j] - mean[j]) * inv_scale[j]) * importance[j]
            if filled == k and c <= top_val[i, k - 1]:
                continue
            pos = filled if filled < k else k - 1
            while pos > 0 and top_val[i, pos - 1] < c:
                top_val[i, pos] = top_val[i, pos - 1]
                top[i, pos] = top[i, pos - 1]
                pos -= 1
            top_val[i, pos] = c
            top[i, pos] = j
            if filled < k:
                filled += 1


_top_k = njit(cache=True, nogil=True)(_top_k_py) if njit is not None else _top_k_py
