"""An edge build of a model directory: int8 where it is safe, float32 where int8 would cost.

What is in the shipped graph, and what quantization does to each part
(measured on a simulated day, docs/edge.md):

- **The two tree ensembles** (RF, XGBoost) are about 94 % of ``model.onnx``
  and most of its scoring time. ONNX's ``TreeEnsembleClassifier`` has no
  integer form, so they stay float32; what shrinks them losslessly is dropping
  ``nodes_hitrates`` (a branch-frequency hint onnxruntime does not read), 12 %
  of the file.
- **The novelty member's two projections** (``MatMul`` on standardised,
  clipped features) become int8 with onnxruntime's static quantization: weights
  per output channel, activations with ranges calibrated on conn logs the
  caller gives. Their inputs are bounded by the clip, so int8 loses little.
- **The attention gate stays float32.** Its input holds the members' log-odds
  (up to +-13.8) beside the z-scores; one int8 scale over that range moved fused
  scores by up to 0.023 and flipped 115 of 30,000 flags at the threshold.

Static (calibrated) quantization rather than dynamic: dynamic quantization
picks each batch's activation scale from the batch itself, so a connection's
score would depend on which other connections share its batch.

The result is an ordinary model directory: same inputs and outputs, same
feature schema and threshold, its own version and sha256, and a
``quantization`` entry saying what was quantized, from which model, on what
calibration, and how far its scores moved from the float model's on those rows.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.digest import file_sha256
from ..core.features import FeatureConfig, FeatureExtractor
from ..core.manifest import ModelManifest
from ..errors import DataError, DependencyError
from ..scoring.model import LoadedModel, resolve_model_dir
from .ingest import read_conn_log

#: Graph nodes int8 may touch: the novelty member's projection and reconstruction.
INT8_NODES = ("n_nov_proj", "n_nov_rec")
#: Calibration rows (spread evenly over the given logs) and rows per calibration batch.
CALIBRATION_ROWS = 20_000
_BATCH = 1_000


@dataclass(frozen=True)
class QuantizeResult:
    """What :func:`quantize_model` wrote and how its scores compare with the source's."""

    out_dir: Path
    manifest: ModelManifest
    source_bytes: int
    quantized_bytes: int
    rows_checked: int
    max_abs_score_delta: float
    flag_disagreements: int


def calibration_rows(
    paths: Sequence[str | Path],
    config: FeatureConfig,
    limit: int = CALIBRATION_ROWS,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Feature rows of conn logs (labels not read), each log through fresh windows.

    At most ``limit`` rows, an equal share from each log, taken in file order so the
    windows have filled as they do in serving. Damaged lines are skipped as
    everywhere else; a log with no readable row is a DataError.
    """
    share = max(1, limit // max(1, len(paths)))
    parts: list[np.ndarray] = []
    for path in paths:
        reader = read_conn_log(path)
        fx = FeatureExtractor(config)
        rows: list[list[float]] = []
        for rec in reader:
            rows.append(fx.transform_one(rec))
            if len(rows) >= share:
                break
        if not rows:
            raise DataError(f"{path}: no readable connection to calibrate on")
        if progress is not None:
            progress(len(rows))
        parts.append(np.asarray(rows, dtype=np.float32))
    return np.concatenate(parts)


def _imports() -> tuple[Any, Any]:
    try:
        import onnx
        from onnxruntime import quantization
    except ImportError as exc:  # pragma: no cover
        raise DependencyError(
            "quantization needs onnx and onnxruntime: pip install 'hamad-zeek[train]'"
        ) from exc
    return onnx, quantization


def compact_trees(model: Any) -> int:
    """Drop ``nodes_hitrates`` from every tree ensemble node (in place); bytes saved.

    A hint for tree layout that onnxruntime ignores: scores are bit-identical.
    """
    saved = 0
    for node in model.graph.node:
        if not node.op_type.startswith("TreeEnsemble"):
            continue
        keep = [a for a in node.attribute if a.name != "nodes_hitrates"]
        saved += sum(len(a.SerializeToString()) for a in node.attribute) - sum(
            len(a.SerializeToString()) for a in keep
        )
        del node.attribute[:]
        node.attribute.extend(keep)
    return saved


class _Reader:
    """onnxruntime's calibration-data protocol over a feature matrix."""

    def __init__(self, X: np.ndarray) -> None:
        self._it: Iterator[dict[str, np.ndarray]] = (
            {"features": X[i : i + _BATCH]} for i in range(0, len(X), _BATCH)
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)

    def rewind(self) -> None:  # pragma: no cover - not used by MinMax calibration
        raise NotImplementedError


def _quiet(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with the root logger's warnings held back (onnxruntime's quantizer logs
    advice for image models there, which a user of ``hamad quantize`` can do nothing with)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        logging.disable(logging.WARNING)
        try:
            return fn(*args, **kwargs)
        finally:
            logging.disable(logging.NOTSET)

    return call


def quantize_model(
    source: str | Path | None,
    out: str | Path,
    X_calibration: np.ndarray,
    *,
    calibration_from: Sequence[str] = (),
    name: str | None = None,
) -> QuantizeResult:
    """Write the edge build of model directory ``source`` (default: shipped) into ``out``."""
    onnx, q = _imports()
    src = LoadedModel.load(source)
    X = np.ascontiguousarray(X_calibration, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != len(src.feature_names) or not len(X):
        raise DataError(
            f"calibration rows have shape {X.shape}; model {src.version} needs (n > 0, "
            f"{len(src.feature_names)})"
        )
    src_onnx = resolve_model_dir(source) / "model.onnx"
    model = onnx.load(str(src_onnx))
    compact_trees(model)
    present = {n.name for n in model.graph.node}
    int8_nodes = [n for n in INT8_NODES if n in present]
    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    onnx_path = outp / "model.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        compact = Path(tmp) / "compact.onnx"
        onnx.save(model, str(compact))
        if int8_nodes:
            _quiet(q.quantize_static)(
                str(compact),
                str(onnx_path),
                _Reader(X),
                quant_format=q.QuantFormat.QDQ,
                nodes_to_quantize=int8_nodes,
                per_channel=True,
                activation_type=q.QuantType.QUInt8,
                weight_type=q.QuantType.QInt8,
                calibrate_method=q.CalibrationMethod.MinMax,
            )
        else:  # a model without the novelty member: compaction only
            onnx_path.write_bytes(compact.read_bytes())
    tmp_manifest = dataclasses.replace(src.manifest, model_sha256=file_sha256(onnx_path))
    delta, flips = _compare(src, onnx_path, tmp_manifest, X)
    import onnxruntime

    manifest = dataclasses.replace(
        tmp_manifest,
        version=name or f"{src.version}-int8",
        quantization={
            "method": "onnxruntime static quantization, QDQ, MinMax calibration",
            "onnxruntime": onnxruntime.__version__,
            "source_version": src.version,
            "source_sha256": src.manifest.model_sha256,
            "int8_nodes": int8_nodes,
            "float32": "tree ensembles (no integer form in ONNX) and the attention gate",
            "weights": "int8, per output channel",
            "activations": "uint8, ranges from the calibration rows",
            "calibration_rows": len(X),
            "calibration_from": list(calibration_from),
            "check_on_calibration_rows": {
                "max_abs_score_delta": round(delta, 6),
                "flag_disagreements_at_threshold": flips,
            },
        },
    )
    (outp / "metadata.json").write_text(json.dumps(manifest.to_dict(), indent=1) + "\n")
    LoadedModel.load(outp)  # what serve will do: refuse here, not at the gateway
    return QuantizeResult(
        out_dir=outp,
        manifest=manifest,
        source_bytes=src_onnx.stat().st_size,
        quantized_bytes=onnx_path.stat().st_size,
        rows_checked=len(X),
        max_abs_score_delta=delta,
        flag_disagreements=flips,
    )


def _compare(
    src: LoadedModel, onnx_path: Path, manifest: ModelManifest, X: np.ndarray
) -> tuple[float, int]:
    """Largest fused-score change and flags flipped at the model's threshold, on ``X``."""
    from ..scoring.model import open_session

    quant = LoadedModel(onnx_path.parent, manifest, open_session(onnx_path), src.feature_config)
    a = src.predict(X)[0]
    b = quant.predict(X)[0]
    thr = src.manifest.threshold.threshold
    return float(np.max(np.abs(a - b))), int(np.sum((a >= thr) != (b >= thr)))
