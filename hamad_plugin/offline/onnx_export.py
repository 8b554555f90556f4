"""Export a fitted :class:`~hamad_plugin.offline.ensemble.HamadEnsemble` as one ONNX graph.

One graph, one onnxruntime session at serving time: input ``features``
(float32, [N, d]); outputs ``score`` [N], ``weights`` [N, k] (attention) and
``members`` [N, k] (each member's score). The tree members come from
skl2onnx / onnxmltools; the novelty detector and the attention gate are
written here as plain ONNX arithmetic so they need no custom operators.

This module does not import the ensemble: it reads what :class:`Exportable`
describes, so :mod:`~hamad_plugin.offline.ensemble` depends on it and not the
other way round.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from ..errors import DependencyError


class _Gate(Protocol):
    """A fitted attention gate: its standardisation and softmax layer."""

    @property
    def mean_(self) -> np.ndarray: ...
    @property
    def scale_(self) -> np.ndarray: ...
    @property
    def clip(self) -> float: ...
    @property
    def coef_(self) -> np.ndarray: ...
    @property
    def intercept_(self) -> np.ndarray: ...


class Exportable(Protocol):
    """What the export reads of a fitted ensemble (a ``HamadEnsemble`` after ``fit``)."""

    @property
    def n_features_in_(self) -> int: ...
    @property
    def members(self) -> Sequence[str]: ...
    @property
    def models_(self) -> Mapping[str, Any]: ...
    @property
    def gate_(self) -> _Gate | None: ...


OPSET = 17
ML_OPSET = 3


def _imports() -> tuple[Any, Any, Any]:
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as exc:  # pragma: no cover
        raise DependencyError("ONNX export needs onnx: pip install 'hamad-zeek[train]'") from exc
    return onnx, helper, numpy_helper


def _tree_model(model: Any, name: str, n_features: int) -> Any:
    if name == "rf":
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType

        return convert_sklearn(
            model,
            initial_types=[("features", FloatTensorType([None, n_features]))],
            target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
            options={id(model): {"zipmap": False}},
        )
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType as MLFloat

    return onnxmltools.convert_xgboost(
        model, initial_types=[("features", MLFloat([None, n_features]))], target_opset=15
    )


class _Graph:
    """Tiny builder: named constants and nodes appended in order."""

    def __init__(self, helper: Any, numpy_helper: Any) -> None:
        self.h = helper
        self.nh = numpy_helper
        self.nodes: list[Any] = []
        self.inits: list[Any] = []

    def const(self, name: str, value: np.ndarray) -> str:
        arr = np.asarray(value)
        if arr.dtype.kind == "f":
            arr = arr.astype(np.float32)
        self.inits.append(self.nh.from_array(arr, name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(self.h.make_node(op, inputs, [output], name=f"n_{output}", **attrs))
        return output


def _column(g: _Graph, probs: str, out: str) -> str:
    """[N, 2] probabilities -> [N, 1] P(class 1)."""
    start = g.const(f"{out}_start", np.array([1], dtype=np.int64))
    end = g.const(f"{out}_end", np.array([2], dtype=np.int64))
    axes = g.const(f"{out}_axes", np.array([1], dtype=np.int64))
    return g.node("Slice", [probs, start, end, axes], out)


def _standardise(
    g: _Graph, x: str, mean: np.ndarray, scale: np.ndarray, clip: float, p: str
) -> str:
    c = g.node("Sub", [x, g.const(f"{p}_mean", mean)], f"{p}_centred")
    z = g.node("Div", [c, g.const(f"{p}_scale", scale)], f"{p}_z")
    lo = g.const(f"{p}_lo", np.array(-clip, dtype=np.float32))
    hi = g.const(f"{p}_hi", np.array(clip, dtype=np.float32))
    return g.node("Clip", [z, lo, hi], f"{p}_zc")


def _novelty(g: _Graph, nov: Any) -> str:
    z = _standardise(g, "features", nov.mean_, nov.scale_, nov.clip, "nov")
    c = g.node("Sub", [z, g.const("nov_center", nov.center_)], "nov_c")
    comp = nov.components_
    proj = g.node("MatMul", [c, g.const("nov_vt", comp.T)], "nov_proj")
    rec = g.node("MatMul", [proj, g.const("nov_v", comp)], "nov_rec")
    r = g.node("Sub", [c, rec], "nov_r")
    r2 = g.node("Mul", [r, r], "nov_r2")
    # ReduceMean takes its axes as an attribute up to opset 17.
    e = g.node("ReduceMean", [r2], "nov_err", axes=[1], keepdims=1)
    denom = g.node("Add", [e, g.const("nov_c99", np.array(nov.c_, dtype=np.float32))], "nov_den")
    return g.node("Div", [e, denom], "novelty_score")


def _gate(g: _Graph, ens: Exportable, members: str, k: int) -> str:
    gate = ens.gate_
    if gate is None:
        zero = g.node("Mul", [members, g.const("gate_zero", np.array(0.0))], "gate_zeros")
        return g.node("Add", [zero, g.const("gate_uniform", np.array(1.0 / k))], "weights")
    z = _standardise(g, "features", gate.mean_, gate.scale_, gate.clip, "gate")
    eps = 1e-6
    s = g.node(
        "Clip",
        [members, g.const("gate_slo", np.array(eps)), g.const("gate_shi", np.array(1 - eps))],
        "gate_s",
    )
    one_minus = g.node("Sub", [g.const("gate_one", np.array(1.0)), s], "gate_1ms")
    ratio = g.node("Div", [s, one_minus], "gate_ratio")
    logit = g.node("Log", [ratio], "gate_logit")
    inp = g.node("Concat", [z, logit], "gate_in", axis=1)
    lin = g.node("MatMul", [inp, g.const("gate_W", gate.coef_)], "gate_lin")
    logits = g.node("Add", [lin, g.const("gate_b", gate.intercept_)], "gate_logits")
    return g.node("Softmax", [logits], "weights", axis=1)


def build_onnx(ens: Exportable) -> Any:
    """Return the ONNX ModelProto of a fitted ensemble."""
    onnx, helper, numpy_helper = _imports()
    from onnx import compose

    d = ens.n_features_in_
    g = _Graph(helper, numpy_helper)
    cols: list[str] = []
    opsets = {"": OPSET}
    for name in ens.members:
        if name == "novelty":
            cols.append(g.node("Identity", [_novelty(g, ens.models_[name])], "m_novelty"))
            continue
        sub = compose.add_prefix(_tree_model(ens.models_[name], name, d), f"{name}_")
        for imp in sub.opset_import:
            opsets[imp.domain] = max(opsets.get(imp.domain, 0), imp.version)
        g.node("Identity", ["features"], f"{name}_features")
        g.nodes.extend(sub.graph.node)
        g.inits.extend(sub.graph.initializer)
        probs = [o.name for o in sub.graph.output if o.name.endswith("probabilities")][0]
        cols.append(_column(g, probs, f"m_{name}"))
    members = (
        g.node("Concat", cols, "members", axis=1)
        if len(cols) > 1
        else g.node("Identity", cols, "members")
    )
    weights = _gate(g, ens, members, len(cols))
    prod = g.node("Mul", [weights, members], "weighted")
    axes = g.const("score_axes", np.array([1], dtype=np.int64))
    g.node("ReduceSum", [prod, axes], "score", keepdims=0)
    k = len(cols)
    graph = helper.make_graph(
        g.nodes,
        "hamad_ensemble",
        [helper.make_tensor_value_info("features", onnx.TensorProto.FLOAT, [None, d])],
        [
            helper.make_tensor_value_info("score", onnx.TensorProto.FLOAT, [None]),
            helper.make_tensor_value_info("weights", onnx.TensorProto.FLOAT, [None, k]),
            helper.make_tensor_value_info("members", onnx.TensorProto.FLOAT, [None, k]),
        ],
        initializer=g.inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid(dom, ver) for dom, ver in opsets.items()],
        producer_name="hamad",
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def ensemble_to_onnx(ens: Exportable, path: str) -> None:
    """Write the ensemble's ONNX graph to ``path``."""
    onnx, _, _ = _imports()
    onnx.save(build_onnx(ens), path)
