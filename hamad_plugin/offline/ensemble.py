"""The HAMAD ensemble: Random Forest + XGBoost + a novelty detector, fused by attention.

Training side only (needs the ``train`` extra); serving runs the ONNX export
through :mod:`hamad_plugin.scoring.model` with onnxruntime + numpy.

* ``rf``      scikit-learn RandomForestClassifier, P(malicious).
* ``xgb``     XGBoost gradient-boosted trees, P(malicious).
* ``novelty`` PCA reconstruction error of standardised features, fitted on
  benign rows only, mapped to [0, 1) by ``e / (e + c)`` with ``c`` the 99th
  percentile of benign training error. It scores what the supervised members
  never saw: the attack families missing from the training data.
* attention  a small softmax gate that sees the (standardised) features, or
  only ``gate_columns`` of them, and the members' logits, and outputs one
  weight per member and sample; the fused score is ``sum_k w_k * s_k``. It is
  trained on *out-of-fold* member scores, grouped by ``groups``: each
  member's score on a row comes from a copy trained without that row's
  group. What a group is, is the caller's choice and matters: whole attack
  families for leave-one-family-out (the gate learns which member to trust
  on an attack it never saw); blocks of neighbouring rows for conn-log
  captures (with the few captures there are, whole-capture groups made a
  worse gate on every unseen capture; :func:`hamad_plugin.offline.train.block_groups`).
* fusion choice  the gate must earn its place (``select_fusion``): on the
  same out-of-fold scores, the gate, plain averaging and each supervised
  member alone are compared by recall at the benign false-positive rate the
  model will run at (``fusion_fpr``; per group holding attacks, then
  averaged; ROC-AUC breaks ties), and the best is what the model ships
  (``fusion_``, with the figures in ``fusion_evidence_``). A single member
  or the mean is expressed as a gate with constant weights, so the served
  graph is the same either way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.verdict import MEMBERS
from ..errors import ConfigError, DataError, DependencyError, NotFittedError
from .onnx_export import ensemble_to_onnx

_EPS = 1e-6


def _require_training_extras() -> None:
    try:
        import sklearn  # noqa: F401
        import xgboost  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DependencyError(
            "training needs scikit-learn and xgboost: pip install 'hamad-zeek[train]'"
        ) from exc


def _logit(s: np.ndarray) -> np.ndarray:
    s = np.clip(s, _EPS, 1.0 - _EPS)
    return np.log(s / (1.0 - s))


@dataclass
class NoveltyPCA:
    """Reconstruction-error novelty detector; fit on benign rows only.

    ``score = e / (e + c)`` where ``e`` is the mean squared reconstruction
    error of the standardised features and ``c`` the 99th percentile of ``e``
    on the benign training rows.
    """

    variance: float = 0.95
    max_components: int = 24
    clip: float = 10.0

    def fit(self, X: np.ndarray) -> NoveltyPCA:
        X = np.asarray(X, dtype=np.float64)
        self.mean_ = X.mean(axis=0)
        sd = X.std(axis=0)
        self.scale_ = np.where(sd > 1e-6, sd, 1.0)
        Z = np.clip((X - self.mean_) / self.scale_, -self.clip, self.clip)
        self.center_ = Z.mean(axis=0)
        _, sv, vt = np.linalg.svd(Z - self.center_, full_matrices=False)
        self.components_ = vt[: self.n_components(sv**2)]
        err = self._error(X)
        self.c_ = float(max(np.quantile(err, 0.99), _EPS))
        return self

    def n_components(self, energies: np.ndarray) -> int:
        """Components kept: enough of ``energies`` (descending variances along them) to
        explain ``variance``, at most ``max_components``; also :mod:`.fleet`'s rule."""
        ratio = np.cumsum(energies) / max(float(np.sum(energies)), _EPS)
        k = int(np.searchsorted(ratio, self.variance) + 1)
        return max(1, min(k, self.max_components, len(energies)))

    def _error(self, X: np.ndarray) -> np.ndarray:
        Z = np.clip(
            (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_, -self.clip, self.clip
        )
        C = Z - self.center_
        R = C - (C @ self.components_.T) @ self.components_
        return np.asarray(np.mean(R * R, axis=1))

    def score(self, X: np.ndarray) -> np.ndarray:
        """Anomaly score in [0, 1): 0.5 at the 99th percentile of benign training error."""
        e = self._error(X)
        return np.asarray(e / (e + self.c_))

    def residuals(self, X: np.ndarray) -> np.ndarray:
        """Per-feature squared reconstruction residuals (used for explanations)."""
        Z = np.clip(
            (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_, -self.clip, self.clip
        )
        C = Z - self.center_
        R = C - (C @ self.components_.T) @ self.components_
        return np.asarray(R * R)


@dataclass
class AttentionGate:
    """Softmax gate: per-sample weights over members from features + member logits.

    Trained by full-batch Adam on class-balanced log loss of the fused score,
    with L2 on the weights. Initialised at zero, i.e. at plain averaging, so
    it only moves away from the mean where the data says so.
    """

    l2: float = 1e-3
    lr: float = 0.05
    epochs: int = 300
    clip: float = 5.0
    #: Feature columns the gate may look at (None: all); the others get zero weight.
    columns: Sequence[int] | None = None

    def _inputs(self, X: np.ndarray, S: np.ndarray) -> np.ndarray:
        Z = np.clip((X - self.mean_) / self.scale_, -self.clip, self.clip)
        if self.columns is not None:
            keep = np.zeros(Z.shape[1], dtype=bool)
            keep[list(self.columns)] = True
            Z = np.where(keep, Z, 0.0)
        return np.hstack([Z, _logit(S)])

    @classmethod
    def constant(cls, n_features: int, weights: np.ndarray) -> AttentionGate:
        """A gate that gives every sample the same ``weights`` (the mean, or one member)."""
        gate = cls()
        gate.mean_ = np.zeros(n_features)
        gate.scale_ = np.ones(n_features)
        k = len(weights)
        gate.coef_ = np.zeros((n_features + k, k))
        w = np.clip(np.asarray(weights, dtype=np.float64), 1e-12, None)
        gate.intercept_ = np.log(w / w.sum())
        return gate

    def fit(
        self,
        X: np.ndarray,
        S: np.ndarray,
        y: np.ndarray,
        *,
        standardiser: tuple[np.ndarray, np.ndarray] | None = None,
        start: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> AttentionGate:
        """Fit on member scores ``S``; returns self.

        ``standardiser`` (mean, scale) and ``start`` (coef, intercept) are for federated
        training (:mod:`.fleet`): every gateway standardises alike and continues from the
        fleet's gate instead of from plain averaging.
        """
        X = np.asarray(X, dtype=np.float64)
        S = np.asarray(S, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if standardiser is None:
            self.mean_ = X.mean(axis=0)
            sd = X.std(axis=0)
            self.scale_ = np.where(sd > 1e-6, sd, 1.0)
        else:
            self.mean_, self.scale_ = (np.asarray(a, dtype=np.float64) for a in standardiser)
        Z = self._inputs(X, S)
        n, d = Z.shape
        k = S.shape[1]
        pos = max(float(y.sum()), 1.0)
        neg = max(float(n - y.sum()), 1.0)
        cw = np.where(y > 0.5, n / (2 * pos), n / (2 * neg)) / n
        W = np.zeros((d, k)) if start is None else np.array(start[0], dtype=np.float64)
        b = np.zeros(k) if start is None else np.array(start[1], dtype=np.float64)
        mW, vW, mb, vb = np.zeros_like(W), np.zeros_like(W), np.zeros_like(b), np.zeros_like(b)
        beta1, beta2 = 0.9, 0.999
        for step in range(1, self.epochs + 1):
            logits = Z @ W + b
            logits -= logits.max(axis=1, keepdims=True)
            w = np.exp(logits)
            w /= w.sum(axis=1, keepdims=True)
            f = np.clip((w * S).sum(axis=1), _EPS, 1 - _EPS)
            dldf = cw * (f - y) / (f * (1 - f))
            dlogits = w * (S - f[:, None]) * dldf[:, None]
            gW = Z.T @ dlogits + 2 * self.l2 * W
            gb = dlogits.sum(axis=0)
            for p, g, m, v in ((W, gW, mW, vW), (b, gb, mb, vb)):
                m *= beta1
                m += (1 - beta1) * g
                v *= beta2
                v += (1 - beta2) * g * g
                p -= self.lr * (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + 1e-8)
        self.coef_ = W
        self.intercept_ = b
        return self

    def weights(self, X: np.ndarray, S: np.ndarray) -> np.ndarray:
        logits = self._inputs(np.asarray(X, np.float64), np.asarray(S, np.float64))
        logits = logits @ self.coef_ + self.intercept_
        logits -= logits.max(axis=1, keepdims=True)
        w = np.exp(logits)
        return np.asarray(w / w.sum(axis=1, keepdims=True))


#: Features the gate conditions on besides the member logits: what kind of connection it is.
GATE_FEATURE_PREFIXES = ("proto_", "service_")


def protocol_columns(feature_names: Sequence[str]) -> list[int]:
    """Columns of the protocol and service indicators (the gate's view of a connection)."""
    return [i for i, n in enumerate(feature_names) if n.startswith(GATE_FEATURE_PREFIXES)]


#: Default benign false-positive rate at which out-of-fold recall decides the fusion
#: (:class:`HamadEnsemble` ``fusion_fpr``: set it to the rate the model will run at).
FUSION_FPR = 1e-3


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    pos, neg = s[y == 1], s[y == 0]
    if not len(pos) or not len(neg):
        return 0.5
    order = np.argsort(np.concatenate([neg, pos]), kind="mergesort")
    ranks = np.empty(len(order))
    ranks[order] = np.arange(1, len(order) + 1)
    return float((ranks[len(neg) :].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _group_recall(y: np.ndarray, s: np.ndarray, groups: np.ndarray | None, fpr: float) -> float:
    """Recall at ``fpr``, averaged over the groups holding attacks (each unseen family or
    capture counts once, as in a leave-one-out report), or pooled without groups."""
    benign = s[y == 0]
    if not len(benign) or not (y == 1).any():
        return 0.0
    thr = float(np.quantile(benign, 1.0 - fpr, method="higher"))
    if groups is None:
        return float((s[y == 1] > thr).mean())
    per = [float((s[(groups == g) & (y == 1)] > thr).mean())
           for g in np.unique(groups[y == 1])]  # fmt: skip
    return float(np.mean(per))


def _choose_fusion(
    gate: AttentionGate,
    X: np.ndarray,
    oof: np.ndarray,
    y: np.ndarray,
    members: Sequence[str],
    groups: np.ndarray | None = None,
    fpr: float = FUSION_FPR,
) -> tuple[AttentionGate, str, dict[str, dict[str, float]]]:
    """The gate, the mean or one supervised member: whichever is best out of fold
    (recall at ``fpr``, per group of ``groups`` then averaged)."""
    k = len(members)
    candidates: dict[str, AttentionGate] = {
        "attention": gate,
        "mean": AttentionGate.constant(X.shape[1], np.ones(k)),
    }
    for j, m in enumerate(members):
        if m != "novelty":
            candidates[m] = AttentionGate.constant(X.shape[1], np.eye(k)[j])
    evidence: dict[str, dict[str, float]] = {}
    best, best_key = "attention", (-1.0, -1.0)
    for name, g in candidates.items():
        fused = (g.weights(X, oof) * oof).sum(axis=1)
        rec, auc = _group_recall(y, fused, groups, fpr), _auc(y, fused)
        evidence[name] = {"recall": round(rec, 4), "fpr": fpr, "roc_auc": round(auc, 4)}
        key = (round(rec, 3), round(auc, 4))
        if key > best_key:
            best, best_key = name, key
    return candidates[best], best, evidence


class HamadEnsemble:
    """RF + XGBoost + novelty detector fused per sample by a learned attention gate.

    Parameters
    ----------
    members : sequence of {"rf", "xgb", "novelty"}, default=all three
        Which members to use; one member gives the single-model ablations.
    fusion : {"attention", "mean"}, default="attention"
        Learned per-sample weights, or plain averaging (ablation).
    n_estimators : int, default=100
        Trees per tree ensemble.
    max_depth : int or None, default=12
        Depth cap for the random forest (keeps the shipped model small).
    n_folds : int, default=3
        Folds for the out-of-fold member scores the gate is trained on
        (grouped by ``groups`` in :meth:`fit`: whole captures out).
    gate_columns : sequence of int or None
        Feature columns the gate sees besides the member logits (None: all).
    select_fusion : bool, default=True
        Ship whichever of gate, mean and single supervised member scores best
        on the out-of-fold scores (see the module docstring).
    fusion_fpr : float, default=1e-3
        Benign false-positive rate at which that choice is made.
    random_state : int, default=0
    n_jobs : int, default=2
    """

    def __init__(
        self,
        members: Sequence[str] = MEMBERS,
        fusion: str = "attention",
        n_estimators: int = 100,
        max_depth: int | None = 12,
        n_folds: int = 3,
        random_state: int = 0,
        n_jobs: int = 2,
        gate_columns: Sequence[int] | None = None,
        select_fusion: bool = True,
        fusion_fpr: float = FUSION_FPR,
    ) -> None:
        self.members = tuple(members)
        self.fusion = fusion
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.n_folds = n_folds
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.gate_columns = gate_columns
        self.select_fusion = select_fusion
        self.fusion_fpr = fusion_fpr

    def _validate(self) -> None:
        bad = [m for m in self.members if m not in MEMBERS]
        if not self.members or bad:
            raise ConfigError(
                f"members must be a non-empty subset of {MEMBERS}, got {self.members}"
            )
        if self.fusion not in ("attention", "mean"):
            raise ConfigError(f"fusion must be 'attention' or 'mean', got {self.fusion!r}")

    def _new_member(self, name: str) -> Any:
        from sklearn.ensemble import RandomForestClassifier
        from xgboost import XGBClassifier

        if name == "rf":
            return RandomForestClassifier(
                n_estimators=self.n_estimators,
                max_depth=self.max_depth,
                min_samples_leaf=2,
                class_weight="balanced_subsample",
                n_jobs=self.n_jobs,
                random_state=self.random_state,
            )
        if name == "xgb":
            return XGBClassifier(
                n_estimators=self.n_estimators,
                max_depth=6,
                learning_rate=0.1,
                subsample=0.9,
                colsample_bytree=0.8,
                tree_method="hist",
                n_jobs=self.n_jobs,
                random_state=self.random_state,
                eval_metric="logloss",
            )
        return NoveltyPCA()

    @staticmethod
    def _fit_member(model: Any, name: str, X: np.ndarray, y: np.ndarray) -> Any:
        if name == "novelty":
            benign = X[y == 0]
            if len(benign) < 2:
                raise DataError("the novelty member needs benign rows (label 0) to train on")
            return model.fit(benign)
        if len(np.unique(y)) < 2:
            raise DataError(f"member {name!r} needs both benign and malicious rows to train")
        return model.fit(X, y)

    @staticmethod
    def _member_score(model: Any, name: str, X: np.ndarray) -> np.ndarray:
        if name == "novelty":
            return np.asarray(model.score(X))
        return np.asarray(model.predict_proba(X)[:, 1])

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> HamadEnsemble:
        """Fit members, then the gate on out-of-fold member scores; returns self."""
        self._validate()
        _require_training_extras()
        from sklearn.model_selection import GroupKFold, StratifiedKFold

        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y).astype(np.int64)
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError(f"X must be 2-D with one row per label; got {X.shape} and {y.shape}")
        self.n_features_in_ = X.shape[1]
        self.fit_seconds_: dict[str, float] = {}
        self.fusion_ = self.fusion if len(self.members) > 1 else self.members[0]
        self.fusion_evidence_: dict[str, dict[str, float]] = {}
        if self.fusion == "attention" and len(self.members) > 1:
            oof = np.zeros((len(X), len(self.members)))
            n_groups = 0 if groups is None else len(np.unique(groups))
            if groups is not None and n_groups >= 2:
                folds = min(self.n_folds, n_groups)
                splits = GroupKFold(n_splits=folds).split(X, y, groups)
            else:
                skf = StratifiedKFold(self.n_folds, shuffle=True, random_state=self.random_state)
                splits = skf.split(X, y)
            t0 = time.perf_counter()
            for tr, va in splits:
                for j, name in enumerate(self.members):
                    if name != "novelty" and len(np.unique(y[tr])) < 2:
                        oof[va, j] = float(y[tr].mean())
                        continue
                    m = self._fit_member(self._new_member(name), name, X[tr], y[tr])
                    oof[va, j] = self._member_score(m, name, X[va])
            self.fit_seconds_["oof"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            gate = AttentionGate(columns=self.gate_columns).fit(X, oof, y)
            #: The trained gate, whatever the fusion choice (for the side-by-side reports).
            self.attention_gate_: AttentionGate | None = gate
            self.gate_: AttentionGate | None = gate
            if self.select_fusion:
                self.gate_, self.fusion_, self.fusion_evidence_ = _choose_fusion(
                    gate, X, oof, y, self.members,
                    None if groups is None else np.asarray(groups), self.fusion_fpr,
                )  # fmt: skip
            self.fit_seconds_["gate"] = time.perf_counter() - t0
        else:
            self.gate_ = self.attention_gate_ = None
        self.models_: dict[str, Any] = {}
        for name in self.members:
            t0 = time.perf_counter()
            self.models_[name] = self._fit_member(self._new_member(name), name, X, y)
            self.fit_seconds_[name] = time.perf_counter() - t0
        return self

    def _check(self, X: np.ndarray) -> np.ndarray:
        if not hasattr(self, "models_"):
            raise NotFittedError(
                "This HamadEnsemble instance is not fitted yet. Call 'fit' with appropriate "
                "arguments before using this estimator."
            )
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[-1] if X.ndim else 0} features, but HamadEnsemble is expecting "
                f"{self.n_features_in_} features as input."
            )
        return X

    def base_scores(self, X: np.ndarray) -> np.ndarray:
        """Each member's score, shape (n, len(members))."""
        X = self._check(X)
        return np.column_stack([self._member_score(self.models_[m], m, X) for m in self.members])

    def attention_weights(self, X: np.ndarray, S: np.ndarray | None = None) -> np.ndarray:
        """Per-sample member weights, shape (n, len(members)); uniform for ``fusion='mean'``."""
        X = self._check(X)
        if S is None:
            S = self.base_scores(X)
        if self.gate_ is None:
            return np.full((len(X), len(self.members)), 1.0 / len(self.members))
        return self.gate_.weights(X, S)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Fused anomaly score in [0, 1], shape (n,)."""
        S = self.base_scores(X)
        W = self.attention_weights(X, S)
        return np.asarray((W * S).sum(axis=1))

    def predict(self, X: np.ndarray, threshold: float = 0.5) -> np.ndarray:
        return (self.predict_proba(X) >= threshold).astype(np.int64)

    def feature_importances(self) -> np.ndarray:
        """Mean of the tree members' impurity/gain importances (for explanations)."""
        imps = [
            np.asarray(self.models_[m].feature_importances_, dtype=np.float64)
            for m in self.members
            if m in ("rf", "xgb")
        ]
        if not imps:
            return np.full(self.n_features_in_, 1.0 / self.n_features_in_)
        imp = np.mean(imps, axis=0)
        return np.asarray(imp / max(float(imp.sum()), _EPS))

    def export_onnx(self, path: str) -> None:
        """Write the whole ensemble as one ONNX graph (:func:`.onnx_export.ensemble_to_onnx`)."""
        ensemble_to_onnx(self, path)
