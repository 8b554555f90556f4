"""Load and run a shipped HAMAD model: onnxruntime + numpy only.

A model is a directory with ``model.onnx`` (the whole ensemble as one graph,
see :mod:`hamad_plugin.onnx_export`) and ``metadata.json`` (version, feature
schema and its hash, threshold calibration, provenance, held-out metrics,
library versions). Loading refuses a model whose feature schema differs from
what this code computes, and says what differs.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError, SchemaError
from .features import FeatureConfig, feature_names, schema_hash

METADATA_FORMAT = "hamad-model/1"
#: ``models/`` of a source checkout (or an editable install).
_REPO_MODELS = Path(__file__).resolve().parent.parent / "models"
#: ``models/`` of a regular ``pip install`` (see ``[tool.setuptools.data-files]``).
_INSTALLED_MODELS = Path(sys.prefix) / "share" / "hamad" / "models"


def _model_roots() -> list[Path]:
    """Where named models are looked up: $HAMAD_MODELS, the checkout, the install prefix."""
    env = os.environ.get("HAMAD_MODELS")
    return ([Path(env)] if env else []) + [_REPO_MODELS, _INSTALLED_MODELS]


def default_model_dir() -> Path:
    """The shipped default model: the first ``<root>/default`` that exists."""
    for root in _model_roots():
        if (root / "default" / "model.onnx").is_file():
            return root / "default"
    return _REPO_MODELS / "default"


def resolve_model_dir(path: str | Path | None) -> Path:
    """Accept a model dir, its metadata.json/model.onnx, or a name under a models root."""
    if path is None:
        return default_model_dir()
    p = Path(path)
    if p.is_file():
        return p.parent
    if not p.exists() and not p.is_absolute():
        for root in _model_roots():
            if (root / p).exists():
                return root / p
    return p


def _schema_diff(expected: list[str], actual: list[str]) -> str:
    missing = [n for n in expected if n not in set(actual)]
    extra = [n for n in actual if n not in set(expected)]
    parts = []
    if missing:
        parts.append(f"the model has {len(missing)} features this code lacks: {missing[:5]}")
    if extra:
        parts.append(f"this code computes {len(extra)} features the model lacks: {extra[:5]}")
    if not parts:
        first = next(i for i, (a, b) in enumerate(zip(expected, actual, strict=False)) if a != b)
        parts.append(f"same names in a different order (first at index {first})")
    return "; ".join(parts)


@dataclass
class LoadedModel:
    """A validated model directory with a ready onnxruntime session."""

    path: Path
    metadata: dict[str, Any]
    session: Any
    feature_config: FeatureConfig

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "unknown"))

    @property
    def members(self) -> list[str]:
        return list(self.metadata["members"])

    @property
    def feature_names(self) -> list[str]:
        return list(self.metadata["features"]["names"])

    @classmethod
    def load(cls, path: str | Path | None = None) -> LoadedModel:
        """Load and validate a model directory (default: the shipped model)."""
        mdir = resolve_model_dir(path)
        meta_path, onnx_path = mdir / "metadata.json", mdir / "model.onnx"
        if not mdir.is_dir():
            raise ModelError(
                f"model directory {mdir} does not exist; train one with "
                "`hamad train --data conn.log --out models/NAME` or pass --model DIR"
            )
        for f in (meta_path, onnx_path):
            if not f.is_file():
                raise ModelError(f"model directory {mdir} has no {f.name}; is it a HAMAD model?")
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as exc:
            raise ModelError(f"{meta_path} is not valid JSON: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != METADATA_FORMAT:
            got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
            raise ModelError(f"{meta_path}: format is {got!r}, expected {METADATA_FORMAT!r}")
        for key in ("version", "members", "features", "threshold"):
            if key not in meta:
                raise ModelError(f"{meta_path} lacks the {key!r} entry")
        fconf = FeatureConfig.from_dict(meta["features"].get("config", {}))
        check_schema(meta, fconf)
        session = _session(onnx_path)
        n_in = session.get_inputs()[0].shape[1]
        if isinstance(n_in, int) and n_in != len(meta["features"]["names"]):
            raise SchemaError(
                f"{onnx_path} takes {n_in} features but its metadata lists "
                f"{len(meta['features']['names'])}; the directory mixes two models"
            )
        return cls(mdir, meta, session, fconf)

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fused score [N], attention weights [N, k], member scores [N, k]."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != len(self.metadata["features"]["names"]):
            raise SchemaError(
                f"X has shape {X.shape}, model {self.version} expects "
                f"(n, {len(self.metadata['features']['names'])})"
            )
        # Non-finite inputs would poison the whole row; the extractor never makes them,
        # but be safe for rows built elsewhere.
        if not np.isfinite(X).all():
            X = np.nan_to_num(X, nan=0.0, posinf=1e6, neginf=-1e6)
        score, weights, members = self.session.run(None, {"features": X})
        return np.asarray(score), np.asarray(weights), np.asarray(members)


def check_schema(meta: dict[str, Any], fconf: FeatureConfig) -> None:
    """Raise SchemaError unless the model's features equal what this code computes."""
    stored = list(meta["features"].get("names", []))
    ours = feature_names(fconf)
    name = meta.get("version", "?")
    if stored != ours:
        raise SchemaError(
            f"model {name!r} expects {len(stored)} features, but this hamad computes "
            f"{len(ours)} for the same settings ({_schema_diff(stored, ours)}); retrain with "
            "`hamad train` or pass --model for a matching model"
        )
    want = meta["features"].get("hash")
    have = schema_hash(fconf)
    if want != have:
        raise SchemaError(
            f"model {name!r} has feature schema hash {want}, this hamad computes {have} "
            "(same names, different meaning or scales); retrain with `hamad train`"
        )


def _session(path: Path) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    # One thread: the worker scores small batches; thread hand-off costs more than it saves.
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelError(f"{path} could not be loaded by onnxruntime: {exc}") from exc
