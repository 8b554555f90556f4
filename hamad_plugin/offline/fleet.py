"""Fleet learning: one HAMAD model from many gateways, without their traffic leaving them.

Each gateway keeps its labelled conn logs (or its learned, simulated or labelled
traffic) and answers a fixed sequence of steps; only the answers travel, as numpy
arrays. The sequence is the same whether it runs over Flower (:mod:`.fleet_flower`,
``hamad fleet``) or in one process (:func:`run_local`, the tests and docs/fleet.md):

1. ``stats``: row counts, means and variances of the gateway's training rows (all of
   them for the gate's standardiser, benign ones for the novelty member's).
2. ``cov``: the benign rows' clipped z-scores' mean and covariance under the fleet's
   standardiser: the novelty member's principal components come from their average.
3. ``trees``: a random forest and an XGBoost booster fitted on the gateway's own rows.
   The fleet's forest is the union of every gateway's trees (the same number each);
   its booster averages the gateways' log-odds (leaf values scaled by 1/K, trees
   concatenated): bagging of whole models, as Flower's XGBoost bagging strategy does.
   ``review``: each gateway scores every other's trees on its own rows; a gateway most
   peers find worse than ``min_review_auc`` is left out. ``boost`` (with ``xgb_cycles``):
   the booster trained in turn instead of averaged.
4. ``novelty_c``: the 99th percentile of the novelty error on the gateway's benign rows.
5. ``gate`` (several rounds): each gateway scores its rows with the *other* gateways'
   trees (the fleet's form of the out-of-fold scores the central gate trains on),
   takes some Adam epochs from the fleet's gate, and returns it (FedAvg).
6. ``calibrate``: the gateway's highest benign calibration scores, enough for the
   fleet's threshold at the target false-alarm rate to be the pooled quantile.
7. ``evaluate``: the finished model on the gateway's held-out test rows.

Robustness: a gateway's trees carry weight 1/K whatever it sends (a forest is cut to
the per-gateway tree count, leaf values are scaled), the standardisers are the
coordinate-wise median of the gateways' (not the pooled mean a single liar moves
without bound), and the gate is the coordinate-wise trimmed mean of the gateways'
gates (``trim`` dropped at each end). docs/fleet.md measures a gateway that trains on
flipped labels.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..core.features import FeatureConfig
from ..errors import ConfigError, DataError
from .captures import CaptureData, load_capture
from .ensemble import AttentionGate, HamadEnsemble, NoveltyPCA, _auc
from .fleet_config import FleetConfig as FleetConfig  # re-exported: the one set of defaults
from .fleet_config import Payload as Payload
from .metrics import binary_metrics
from .train import time_split

STEPS = ("stats", "cov", "trees", "review", "boost", "novelty_c", "gate", "calibrate", "evaluate")


def payload_bytes(p: Mapping[str, np.ndarray]) -> int:
    """What a message weighs on the wire, without framing."""
    return int(sum(np.asarray(v).nbytes for v in p.values()))


# --- the trees' wire form: arrays, never pickles --------------------------------


def forest_to_payload(rf: Any, prefix: str = "rf") -> Payload:
    """A fitted RandomForestClassifier as arrays (each tree's node table and values)."""
    out: Payload = {f"{prefix}.n": np.asarray(len(rf.estimators_))}
    for i, est in enumerate(rf.estimators_):
        st = est.tree_.__getstate__()
        out[f"{prefix}.{i}.nodes"] = np.frombuffer(st["nodes"].tobytes(), dtype=np.uint8)
        out[f"{prefix}.{i}.values"] = np.asarray(st["values"], dtype=np.float64)
        out[f"{prefix}.{i}.depth"] = np.asarray(st["max_depth"])
    return out


def forest_from_payloads(parts: Sequence[Payload], n_features: int, cap: int) -> Any:
    """The union of several gateways' forests, at most ``cap`` trees from each."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier
    from sklearn.tree._tree import Tree

    proto = DecisionTreeClassifier(max_depth=1).fit(np.zeros((2, n_features)), [0, 1])
    dtype = proto.tree_.__getstate__()["nodes"].dtype
    trees = []
    for p in parts:
        for i in range(min(int(p["rf.n"]), cap)):
            raw = np.asarray(p[f"rf.{i}.nodes"], dtype=np.uint8)
            if raw.size % dtype.itemsize:
                raise DataError("a gateway's forest does not match this scikit-learn's tree layout")
            nodes = np.frombuffer(raw.tobytes(), dtype=dtype)
            values = np.asarray(p[f"rf.{i}.values"], dtype=np.float64)
            if values.shape != (len(nodes), 1, 2) or int(nodes["feature"].max()) >= n_features:
                raise DataError("a gateway sent a malformed tree")
            t = Tree(n_features, np.array([2], dtype=np.intp), 1)
            t.__setstate__(
                {"max_depth": int(p[f"rf.{i}.depth"]), "node_count": len(nodes),
                 "nodes": nodes, "values": values}
            )  # fmt: skip
            est = DecisionTreeClassifier()
            est.__dict__.update({k: v for k, v in proto.__dict__.items() if k != "tree_"})
            est.tree_ = t
            trees.append(est)
    if not trees:
        raise DataError("no gateway sent a tree")
    rf = RandomForestClassifier(n_estimators=len(trees))
    rf.__dict__.update({k: v for k, v in proto.__dict__.items() if k.endswith("_")})
    rf.estimators_ = trees
    rf.estimator_ = proto
    rf.n_estimators = len(trees)
    return rf


def merge_boosters(jsons: Sequence[bytes]) -> Any:
    """One XGBClassifier whose log-odds are the mean of the gateways' boosters'.

    Every gateway trains with ``base_score=0.5`` (log-odds 0), so scaling each booster's
    leaf values by 1/K and concatenating the trees is exactly the mean of their margins.
    """
    from xgboost import XGBClassifier

    if not jsons:
        raise DataError("no gateway sent a booster")
    docs = [json.loads(bytes(j).decode("utf-8")) for j in jsons]
    base = docs[0]
    trees: list[dict[str, Any]] = []
    w = 1.0 / len(docs)
    for d in docs:
        if abs(float(d["learner"]["learner_model_param"]["base_score"].strip("[]")) - 0.5) > 1e-6:
            raise DataError("a gateway's booster was not trained with base_score=0.5")
        for t in d["learner"]["gradient_booster"]["model"]["trees"]:
            leaf = np.asarray(t["left_children"]) == -1
            cond = np.asarray(t["split_conditions"], dtype=np.float64)
            cond[leaf] *= w
            t["split_conditions"] = cond.tolist()
            t["base_weights"] = (np.asarray(t["base_weights"], dtype=np.float64) * w).tolist()
            t["id"] = len(trees)
            trees.append(t)
    model = base["learner"]["gradient_booster"]["model"]
    model["trees"] = trees
    model["tree_info"] = [0] * len(trees)
    model["gbtree_model_param"]["num_trees"] = str(len(trees))
    if "iteration_indptr" in model:
        model["iteration_indptr"] = list(range(len(trees) + 1))
    clf = XGBClassifier()
    clf.load_model(bytearray(json.dumps(base).encode("utf-8")))
    return clf


def booster_to_payload(clf: Any) -> np.ndarray:
    """An XGBClassifier's booster as its JSON model bytes (what :func:`merge_boosters` reads)."""
    return np.frombuffer(bytes(clf.get_booster().save_raw("json")), np.uint8)


def trimmed_mean(stack: np.ndarray, trim: int) -> np.ndarray:
    """Coordinate-wise mean after dropping ``trim`` values at each end (robust FedAvg)."""
    k = len(stack)
    t = max(0, min(int(trim), (k - 1) // 2))
    s = np.sort(stack, axis=0)
    return np.asarray(s[t : k - t].mean(axis=0))


# --- a gateway ------------------------------------------------------------------


@dataclass
class Gateway:
    """One gateway's rows, split in time order like ``hamad train`` splits a capture."""

    name: str
    captures: list[CaptureData]
    #: Labels as this gateway trains on them (a poisoned gateway flips them).
    flip_labels: bool = False
    state: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def load(
        cls, name: str, paths: Sequence[str | Path], config: FeatureConfig, flip: bool = False
    ) -> Gateway:
        if not paths:
            raise ConfigError(f"gateway {name!r} has no conn logs")
        return cls(name, [load_capture(p, config) for p in paths], flip)

    def _part(self, which: int) -> tuple[np.ndarray, np.ndarray]:
        Xs, ys = [], []
        for c in self.captures:
            sl = time_split(len(c.y))[which]
            Xs.append(c.X[sl])
            ys.append(c.y[sl])
        X, y = np.vstack(Xs).astype(np.float64), np.concatenate(ys).astype(np.int64)
        if self.flip_labels and which == 0:
            y = 1 - y
        return X, y

    # Every step reads the training rows: stacked once per gateway, not once per message.
    @cached_property
    def train(self) -> tuple[np.ndarray, np.ndarray]:
        return self._part(0)

    @cached_property
    def calibration(self) -> tuple[np.ndarray, np.ndarray]:
        return self._part(1)

    @cached_property
    def test(self) -> tuple[np.ndarray, np.ndarray]:
        return self._part(2)

    @property
    def files(self) -> list[dict[str, Any]]:
        """What the fleet model's card records of this gateway: names and digests only."""
        return [
            {"capture": c.name, "sha256": c.sha256, "labelled_rows": int(len(c.y))}
            for c in self.captures
        ]


def _moments(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return X.mean(axis=0), X.var(axis=0)


def handle(gw: Gateway, step: str, p: Mapping[str, np.ndarray]) -> Payload:
    """A gateway's answer to one step of the fleet's sequence (module docstring)."""
    cfg = FleetConfig.of(p)
    X, y = gw.train
    benign = X[y == 0]
    if step == "stats":
        if len(benign) < 2 or len(np.unique(y)) < 2:
            raise DataError(f"gateway {gw.name!r} needs benign and malicious training rows")
        m_all, v_all = _moments(X)
        m_ben, v_ben = _moments(benign)
        return {"n": np.asarray(len(X)), "n_benign": np.asarray(len(benign)),
                "mean": m_all, "var": v_all, "mean_benign": m_ben, "var_benign": v_ben}  # fmt: skip
    if step == "cov":
        Z = np.clip((benign - p["nov_mean"]) / p["nov_scale"], -10.0, 10.0)
        return {"center": Z.mean(axis=0), "cov": np.cov(Z, rowvar=False, bias=True)}
    if step == "trees":
        ens = HamadEnsemble(n_estimators=cfg.rf_trees, random_state=cfg.seed)
        rf = ens._new_member("rf").fit(X, y)
        xgb = ens._new_member("xgb")
        xgb.set_params(n_estimators=cfg.xgb_trees, base_score=0.5)
        xgb.fit(X, y)
        return {**forest_to_payload(rf), "xgb.json": booster_to_payload(xgb)}
    if step == "boost":
        if not int(p["turn"]):
            return {}
        xgb = HamadEnsemble(random_state=cfg.seed)._new_member("xgb")
        xgb.set_params(n_estimators=int(p["n_new"]), base_score=0.5)
        start = None
        if len(p["booster"]):
            start = merge_boosters([bytes(p["booster"])]).get_booster()
        xgb.fit(X, y, xgb_model=start)
        return {"booster": booster_to_payload(xgb)}
    if step == "review":
        aucs = []
        Xf = X.astype(np.float32)
        for j in np.asarray(p["peers"]).ravel():
            rf = forest_from_payloads([_sub(p, f"peer{int(j)}.")], X.shape[1], 10**6)
            xgb = merge_boosters([bytes(p[f"peer{int(j)}.xgb.json"])])
            s = 0.5 * (rf.predict_proba(Xf)[:, 1] + xgb.predict_proba(Xf)[:, 1])
            aucs.append(_auc(y, s))
        return {"auc": np.asarray(aucs, dtype=np.float64)}
    nov = _novelty(p)
    if step == "novelty_c":
        return {"q99": np.asarray(np.quantile(nov._error(benign), 0.99))}
    if step == "gate":
        if "S" not in gw.state:  # the others' trees arrive in the first gate round only
            rf = forest_from_payloads([_sub(p, "others.")], X.shape[1], 10**6)
            xgb = merge_boosters([bytes(p["others.xgb.json"])])
            Xf = X.astype(np.float32)
            gw.state["S"] = np.column_stack(
                [rf.predict_proba(Xf)[:, 1], xgb.predict_proba(Xf)[:, 1], nov.score(X)]
            )
        gate = AttentionGate(columns=_gate_columns(p), epochs=cfg.gate_epochs)
        gate.fit(X, gw.state["S"], y, standardiser=(p["gate_mean"], p["gate_scale"]),
                 start=(p["gate_coef"], p["gate_intercept"]))  # fmt: skip
        return {"coef": gate.coef_, "intercept": gate.intercept_, "n": np.asarray(len(X))}
    model = assemble(p, nov)
    Xc, yc = gw.calibration if step == "calibrate" else gw.test
    s = model.predict_proba(Xc.astype(np.float32))
    if step == "calibrate":
        ben = np.sort(s[yc == 0])[::-1]
        keep = int(np.ceil(len(ben) * 0.05)) + 2  # the top 5 %: threshold and reference
        return {"top": ben[:keep], "n": np.asarray(len(ben))}
    if step == "evaluate":
        m = binary_metrics(yc, s, float(p["threshold"]))
        keys = ("recall", "fpr", "f1", "roc_auc")
        out = {k: np.asarray(float(m[k]) if m.get(k) is not None else np.nan) for k in keys}
        return {
            **out,
            "benign": np.asarray(int((yc == 0).sum())),
            "malicious": np.asarray(int(yc.sum())),
        }
    raise ConfigError(f"unknown fleet step {step!r}; the steps are {', '.join(STEPS)}")


def _sub(p: Mapping[str, np.ndarray], prefix: str) -> Payload:
    return {k[len(prefix) :]: v for k, v in p.items() if k.startswith(prefix)}


def _gate_columns(p: Mapping[str, np.ndarray]) -> list[int]:
    return [int(c) for c in np.asarray(p["gate_columns"]).ravel()]


def _novelty(p: Mapping[str, np.ndarray]) -> NoveltyPCA:
    nov = NoveltyPCA()
    nov.mean_, nov.scale_ = np.asarray(p["nov_mean"]), np.asarray(p["nov_scale"])
    nov.center_ = np.asarray(p.get("nov_center", np.zeros_like(nov.mean_)))
    nov.components_ = np.asarray(p.get("nov_components", np.zeros((1, len(nov.mean_)))))
    nov.c_ = float(p.get("nov_c", 1.0))
    return nov


def assemble(p: Mapping[str, np.ndarray], nov: NoveltyPCA | None = None) -> HamadEnsemble:
    """The fleet model from the server's arrays: forest, booster, novelty, gate."""
    n_features = len(np.asarray(p["gate_mean"]))
    ens = HamadEnsemble(n_estimators=int(p["rf.n"]))
    ens.n_features_in_ = n_features
    ens.fusion_ = "attention"
    gate = AttentionGate(columns=_gate_columns(p))
    gate.mean_, gate.scale_ = np.asarray(p["gate_mean"]), np.asarray(p["gate_scale"])
    gate.coef_, gate.intercept_ = np.asarray(p["gate_coef"]), np.asarray(p["gate_intercept"])
    ens.gate_ = ens.attention_gate_ = gate
    ens.models_ = {
        "rf": forest_from_payloads([_sub(p, "")], n_features, 10**6),
        "xgb": merge_boosters([bytes(p["xgb.json"])]),
        "novelty": nov or _novelty(p),
    }
    return ens


# --- the server -----------------------------------------------------------------

#: Send one step to every gateway: (step, one payload per gateway) -> their answers.
Send = Callable[[str, list[Payload]], list[Payload]]


@dataclass
class FleetLog:
    """Rounds and bytes, for the model card and docs/fleet.md."""

    rounds: list[dict[str, Any]] = field(default_factory=list)
    #: Peer review: each gateway's median AUC on the others' rows, and who was left out.
    review: dict[str, Any] = field(default_factory=dict)

    def add(self, step: str, sent: list[Payload], got: list[Payload]) -> None:
        self.rounds.append({"step": step, "bytes_down": sum(map(payload_bytes, sent)),
                            "bytes_up": sum(map(payload_bytes, got))})  # fmt: skip


def run_fleet(
    send: Send,
    n_gateways: int,
    feature_names: Sequence[str],
    cfg: FleetConfig | None = None,
    echo: Callable[[str], None] = lambda _m: None,
) -> tuple[HamadEnsemble, float, Payload, FleetLog]:
    """Drive every step; returns the model, its threshold, its arrays and the round log."""
    cfg = cfg or FleetConfig()
    log = FleetLog()
    base = cfg.payload()

    def step(name: str, per: list[Payload]) -> list[Payload]:
        echo(f"round {len(log.rounds) + 1}: {name} ({n_gateways} gateways)")
        got = send(name, per)
        if len(got) != n_gateways:
            raise DataError(f"step {name}: {len(got)} of {n_gateways} gateways answered")
        log.add(name, per, got)
        return got

    def same(extra: Payload) -> list[Payload]:
        return [{**base, **extra} for _ in range(n_gateways)]

    st = step("stats", same({}))

    def med(key: str) -> np.ndarray:
        return np.asarray(np.median(np.stack([s[key] for s in st]), axis=0))

    def sd(key: str) -> np.ndarray:
        return np.where(np.sqrt(med(key)) > 1e-6, np.sqrt(med(key)), 1.0)

    model: Payload = {"gate_mean": med("mean"), "gate_scale": sd("var"),
                      "nov_mean": med("mean_benign"), "nov_scale": sd("var_benign"),
                      # The gate sees every feature, as ``hamad train``'s does.
                      "gate_columns": np.arange(len(feature_names), dtype=np.int64)}  # fmt: skip
    cv = step("cov", same(model))
    center = np.mean([c["center"] for c in cv], axis=0)
    # Each gateway's covariance about the fleet's centre, weighted 1/K: no gateway dominates.
    cov = np.mean([c["cov"] + np.outer(c["center"] - center, c["center"] - center) for c in cv], 0)
    vals, vecs = np.linalg.eigh(cov)
    vals, vecs = vals[::-1], vecs[:, ::-1]
    k = NoveltyPCA().n_components(np.clip(vals, 0, None))  # the central fit's rule
    model.update(nov_center=center, nov_components=vecs[:, :k].T.copy())
    trees = step("trees", same(model))
    ok = review(step, trees, base, cfg, log, echo)
    model["nov_c"] = np.asarray(
        np.median([float(q["q99"]) for q in step("novelty_c", same(model))])
    )
    used = [trees[j] for j in ok]
    model.update(_concat_forests(used, cfg.rf_trees))
    model["xgb.json"] = _booster_bytes(used)
    if cfg.xgb_cycles > 0:
        model["xgb.json"] = cyclic_booster(step, ok, n_gateways, base, cfg)
    n_in = len(feature_names) + 3
    model["gate_coef"], model["gate_intercept"] = np.zeros((n_in, 3)), np.zeros(3)
    for r in range(cfg.gate_rounds):
        per = []
        for i in range(n_gateways):
            extra = dict(model)
            if r == 0:
                others = [trees[j] for j in ok if j != i] or used
                extra.update(
                    {f"others.{k}": v for k, v in _concat_forests(others, cfg.rf_trees).items()}
                )
                extra["others.xgb.json"] = _booster_bytes(others)
            per.append({**base, **_slim(extra, r > 0)})
        answers = step("gate", per)
        got = [answers[j] for j in ok]
        model["gate_coef"] = trimmed_mean(np.stack([g["coef"] for g in got]), cfg.trim)
        model["gate_intercept"] = trimmed_mean(np.stack([g["intercept"] for g in got]), cfg.trim)
    answers = step("calibrate", same(model))
    cal = [answers[j] for j in ok]
    tops, ns = [c["top"] for c in cal], [int(c["n"]) for c in cal]
    q, exact_t = pooled_quantile(tops, ns, 1.0 - cfg.target_fpr)
    threshold = float(min(np.nextafter(q, 2.0), 1.0))  # as AdaptiveThreshold.fit nudges it
    reference, exact_r = pooled_quantile(tops, ns, 0.99)
    if not (exact_t and exact_r):
        echo("warning: a gateway holds more high benign scores than it sent; the fleet's "
             "threshold is a lower bound of the pooled quantile")  # fmt: skip
    model["threshold"], model["reference"] = np.asarray(threshold), np.asarray(reference)
    model["calibration_exact"] = np.asarray(exact_t and exact_r)
    model["n_calibration"] = np.asarray(sum(ns))
    ens = assemble(model)
    return ens, threshold, model, log


def cyclic_booster(
    step: Send,
    ok: Sequence[int],
    n_gateways: int,
    base: Payload,
    cfg: FleetConfig,
) -> np.ndarray:
    """The fleet's booster trained in turn: each kept gateway adds its share of trees on
    top of the booster so far, ``xgb_cycles`` passes (the same total tree count as bagging)."""
    per_turn = max(1, int(np.ceil(cfg.xgb_trees / cfg.xgb_cycles)))
    booster = np.zeros(0, np.uint8)
    for _ in range(cfg.xgb_cycles):
        for j in ok:
            idle = {**base, "turn": np.asarray(0)}
            turn = {
                **base,
                "turn": np.asarray(1),
                "n_new": np.asarray(per_turn),
                "booster": booster,
            }
            per = [turn if i == j else idle for i in range(n_gateways)]
            booster = np.asarray(step("boost", per)[j]["booster"], dtype=np.uint8)
    return booster


def _booster_bytes(parts: Sequence[Payload]) -> np.ndarray:
    return booster_to_payload(merge_boosters([bytes(t["xgb.json"]) for t in parts]))


def review(
    step: Send,
    trees: list[Payload],
    base: Payload,
    cfg: FleetConfig,
    log: FleetLog,
    echo: Callable[[str], None],
) -> list[int]:
    """Peer review of the trees: each gateway scores every other's forest and booster on
    its own rows; a gateway whose trees a majority of its peers find worse than
    ``min_review_auc`` (a label-flipping liar scores below chance everywhere) is left out
    of the model. A liar's own reviews count one vote each, so it cannot evict one honest
    gateway alone.
    Returns the indices kept. With two gateways a disagreement cannot be settled: both stay.
    """
    k = len(trees)
    per = []
    for i in range(k):
        peers = [j for j in range(k) if j != i]
        p: Payload = {**base, "peers": np.asarray(peers, dtype=np.int64)}
        for j in peers:
            p.update(
                {
                    f"peer{j}.{key}": v
                    for key, v in _concat_forests([trees[j]], cfg.rf_trees).items()
                }
            )
            p[f"peer{j}.xgb.json"] = trees[j]["xgb.json"]
        per.append(p)
    got = step("review", per)
    seen: dict[int, list[float]] = {j: [] for j in range(k)}
    for i, g in enumerate(got):
        peers = [j for j in range(k) if j != i]
        for j, a in zip(peers, np.asarray(g["auc"]).ravel(), strict=True):
            seen[j].append(float(a))
    med = {j: float(np.median(v)) for j, v in seen.items()}
    below = {j: float(np.mean(np.asarray(v) < cfg.min_review_auc)) for j, v in seen.items()}
    ok = [j for j in range(k) if below[j] <= 0.5 or k < 3]  # a majority of peers must object
    if len(ok) < 2:
        raise DataError(f"peer review left {len(ok)} gateway(s) of {k}: {med}")
    left = [j for j in range(k) if j not in ok]
    log.review = {
        "median_auc": {str(j): round(v, 4) for j, v in med.items()},
        "share_of_peers_below": {str(j): round(v, 3) for j, v in below.items()},
        "left_out": left,
    }
    if left:
        aucs = [round(med[j], 3) for j in left]
        echo(f"peer review: gateway(s) {left} left out (median AUC on peers' rows {aucs})")
    return ok


def _slim(p: Payload, drop_trees: bool) -> Payload:
    """After the first gate round a gateway has its member scores: send only the gate."""
    if not drop_trees:
        return p
    return {k: v for k, v in p.items() if not (k.startswith("rf.") or k == "xgb.json")}


def _concat_forests(parts: Sequence[Payload], cap: int) -> Payload:
    out: Payload = {}
    n = 0
    for p in parts:
        for i in range(min(int(p["rf.n"]), cap)):
            for f in ("nodes", "values", "depth"):
                out[f"rf.{n}.{f}"] = p[f"rf.{i}.{f}"]
            n += 1
    out["rf.n"] = np.asarray(n)
    return out


def pooled_quantile(tops: Sequence[np.ndarray], ns: Sequence[int], q: float) -> tuple[float, bool]:
    """``np.quantile(all benign scores, q, method="higher")`` from each gateway's highest
    scores, and whether that is exact: it is unless some gateway sent only scores at or
    above the result while holding more (then its cut may hide higher ones)."""
    total = int(sum(ns))
    if total == 0:
        raise DataError("no gateway has benign calibration rows")
    tops = [np.asarray(t, dtype=np.float64) for t in tops]
    desc = np.sort(np.concatenate(tops))[::-1]
    from_top = total - 1 - int(np.ceil(q * (total - 1)))
    value = float(desc[min(max(from_top, 0), len(desc) - 1)])
    exact = from_top < len(desc) and all(
        len(t) >= n or (len(t) and float(t.min()) < value) for t, n in zip(tops, ns, strict=True)
    )
    return value, exact


def evaluate(send: Send, n: int, model: Payload, cfg: FleetConfig) -> list[Payload]:
    """Every gateway's held-out test figures for a finished model."""
    return send("evaluate", [{**cfg.payload(), **model} for _ in range(n)])


def evaluate_and_write(
    send: Send,
    out: str | Path,
    fitted: tuple[HamadEnsemble, float, Payload, FleetLog],
    gateways: Sequence[Mapping[str, Any]],
    config: FeatureConfig,
    cfg: FleetConfig,
    name: str | None = None,
) -> Path:
    """The last step of every fleet run: each gateway's held-out figures, then the model
    directory; ``gateways`` (one card entry each, with its ``gateway`` name) in send order."""
    ens, thr, model, log = fitted
    ev = evaluate(send, len(gateways), model, cfg)
    evaluation = [{"gateway": g["gateway"], **{k: float(v) for k, v in e.items()}}
                  for g, e in zip(gateways, ev, strict=True)]  # fmt: skip
    return write_model(out, ens, thr, model, log, gateways, config, cfg, evaluation, name=name)


def run_local(gateways: Sequence[Gateway]) -> Send:
    """A ``send`` that calls each gateway in this process (same payloads as over Flower)."""

    def send(step: str, per: list[Payload]) -> list[Payload]:
        return [handle(g, step, p) for g, p in zip(gateways, per, strict=True)]

    return send


def write_model(
    out: str | Path,
    ens: HamadEnsemble,
    threshold: float,
    model: Payload,
    log: FleetLog,
    gateways: Sequence[Mapping[str, Any]],
    config: FeatureConfig,
    cfg: FleetConfig,
    evaluation: Sequence[Mapping[str, Any]] = (),
    name: str | None = None,
) -> Path:
    """An ordinary model directory (``hamad serve --model`` takes it) with the fleet's card."""
    import datetime as _dt

    from .. import __version__
    from ..core.digest import file_sha256
    from ..core.manifest import ExplainInfo, ModelManifest, ThresholdInfo
    from ..core.threshold import AdaptiveThreshold
    from .onnx_export import ensemble_to_onnx
    from .train import _features_info, library_versions

    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    ensemble_to_onnx(ens, str(d / "model.onnx"))
    thr = AdaptiveThreshold(mode="adaptive", target_fpr=cfg.target_fpr)
    thr.threshold_, thr.reference_ = threshold, float(model["reference"])
    thr.n_calibration_ = int(model["n_calibration"])
    thr.reset()
    info = ThresholdInfo.from_threshold(thr)
    manifest = ModelManifest(
        version=name or f"{d.name}-{_dt.date.today():%Y.%m.%d}",
        hamad_version=__version__,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        members=tuple(ens.members),
        fusion="attention",
        features=_features_info(config),
        explain=ExplainInfo(
            mean=tuple(round(float(v), 6) for v in model["nov_mean"]),
            scale=tuple(round(float(v), 6) for v in model["nov_scale"]),
            importance=tuple(round(float(v), 6) for v in ens.feature_importances()),
        ),
        threshold=info,
        model_sha256=file_sha256(d / "model.onnx"),
        metrics={"fleet_heldout_test": [dict(e) for e in evaluation]},
        libraries=library_versions(),
        fleet={
            "gateways": [dict(g) for g in gateways],
            "config": {k: v for k, v in cfg.__dict__.items()},
            "rounds": log.rounds,
            "review": log.review,
            "calibration_exact": bool(model.get("calibration_exact", False)),
            "bytes_total": int(sum(r["bytes_down"] + r["bytes_up"] for r in log.rounds)),
            "robust": "trees 1/K each; standardisers: coordinate-wise median; "
            f"gate: trimmed mean (trim {cfg.trim})",
        },
    )
    (d / "metadata.json").write_text(json.dumps(manifest.to_dict(), indent=1) + "\n")
    return d
