"""Seed 001's idea: a small student distilled from the HAMAD teacher, served as ONNX.

The student is a 2-layer MLP (32-16 ReLU units) regressing the teacher's
*soft* fused score (not the hard labels), on the teacher's own training rows.
Inputs go through ``sign(x) * log1p(|x|)`` and standardisation, both written
into the ONNX graph, so the exported model takes the same raw float32
feature vector as the teacher's ONNX graph.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...errors import DependencyError, NotFittedError


def _signed_log(X: NDArray[np.float32]) -> NDArray[np.float32]:
    return (np.sign(X) * np.log1p(np.abs(X))).astype(np.float32)


@dataclass
class DistilledStudent:
    """``fit(X, teacher_scores)``, ``predict_proba(X)``, ``export_onnx(path)``."""

    hidden: tuple[int, ...] = (32, 16)
    max_iter: int = 60
    random_state: int = 0

    def fit(self, X: NDArray[np.float32], teacher_scores: NDArray[np.float64]) -> DistilledStudent:
        try:
            from sklearn.neural_network import MLPRegressor
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler
        except ImportError as exc:  # pragma: no cover
            raise DependencyError(
                "the student needs scikit-learn: pip install 'hamad-zeek[train]'"
            ) from exc
        t0 = time.perf_counter()
        self.pipe_ = make_pipeline(
            StandardScaler(),
            MLPRegressor(
                hidden_layer_sizes=self.hidden,
                max_iter=self.max_iter,
                early_stopping=True,
                random_state=self.random_state,
                batch_size=512,
            ),
        )
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter is expected
            self.pipe_.fit(_signed_log(X), np.asarray(teacher_scores, dtype=np.float64))
        self.n_features_in_ = int(X.shape[1])
        self.fit_seconds_ = time.perf_counter() - t0
        mlp = self.pipe_[-1]
        self.n_parameters_ = int(
            sum(w.size for w in mlp.coefs_) + sum(b.size for b in mlp.intercepts_)
        )
        return self

    def predict_proba(self, X: NDArray[np.float32]) -> NDArray[np.float64]:
        if not hasattr(self, "pipe_"):
            raise NotFittedError("DistilledStudent is not fitted; call fit first")
        return np.asarray(np.clip(self.pipe_.predict(_signed_log(X)), 0.0, 1.0), dtype=np.float64)

    def export_onnx(self, path: str | Path) -> Path:
        """ONNX graph: features -> signed log -> scaler -> MLP -> clip to [0, 1] = ``score``."""
        try:
            import onnx
            from onnx import TensorProto, helper
            from skl2onnx import convert_sklearn
            from skl2onnx.common.data_types import FloatTensorType
        except ImportError as exc:  # pragma: no cover
            raise DependencyError("ONNX export needs skl2onnx and onnx") from exc
        d = self.n_features_in_
        core = convert_sklearn(
            self.pipe_, initial_types=[("z", FloatTensorType([None, d]))], target_opset=17
        )
        core_out = core.graph.output[0].name
        pre = [
            helper.make_node("Sign", ["features"], ["sgn"]),
            helper.make_node("Abs", ["features"], ["absx"]),
            helper.make_node("Add", ["absx", "one"], ["absx1"]),
            helper.make_node("Log", ["absx1"], ["logx"]),
            helper.make_node("Mul", ["sgn", "logx"], ["z"]),
        ]
        post = [
            helper.make_node("Clip", [core_out, "zero", "one"], ["clipped"]),
            helper.make_node("Reshape", ["clipped", "flat"], ["score"]),
        ]
        inits = [
            helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
            helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
            helper.make_tensor("flat", TensorProto.INT64, [1], [-1]),
        ]
        graph = helper.make_graph(
            pre + list(core.graph.node) + post,
            "hamad_student",
            [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, d])],
            [helper.make_tensor_value_info("score", TensorProto.FLOAT, [None])],
            initializer=list(core.graph.initializer) + inits,
        )
        model = helper.make_model(graph, opset_imports=list(core.opset_import))
        model.ir_version = core.ir_version
        onnx.checker.check_model(model)
        p = Path(path)
        p.write_bytes(model.SerializeToString())
        return p


def onnx_session(path: str | Path, n_threads: int = 2) -> Any:
    """onnxruntime session limited to ``n_threads`` (the machine has 2 cores)."""
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover
        raise DependencyError("ONNX inference needs onnxruntime") from exc
    so = ort.SessionOptions()
    so.intra_op_num_threads = n_threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def onnx_scores(session: Any, X: NDArray[np.float32]) -> NDArray[np.float64]:
    """First output (``score``) of an ONNX model for float32 rows, as a 1-D array."""
    name = session.get_inputs()[0].name
    out = session.run(None, {name: np.ascontiguousarray(X, dtype=np.float32)})[0]
    return np.asarray(out, dtype=np.float64).ravel()
