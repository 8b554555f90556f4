"""Load and run a shipped HAMAD model: onnxruntime + numpy only.

A model is a directory with ``model.onnx`` (the whole ensemble as one graph,
see :mod:`hamad_plugin.offline.onnx_export`) and ``metadata.json`` (version, feature
schema and its hash, threshold calibration, provenance, held-out metrics,
library versions, and the sha256 of ``model.onnx``). Loading refuses, with
one error that says what is wrong: a ``model.onnx`` whose bytes are not the
ones the metadata was written for (weights edited after export, or two models
mixed in one directory); a feature schema that differs from what this code
computes; any metadata value the scoring path cannot use (a threshold outside
(0, 1), unknown or missing members, explanation vectors of the wrong length,
non-finite numbers, non-UTF-8 text).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.features import FeatureConfig, feature_names, schema_hash
from ..core.threshold import AdaptiveThreshold
from ..core.verdict import MEMBERS
from ..errors import ConfigError, ModelError, SchemaError

METADATA_FORMAT = "hamad-model/1"
#: ``models/`` of a source checkout (or an editable install).
_REPO_MODELS = Path(__file__).resolve().parents[2] / "models"
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
        meta = read_metadata(meta_path)
        digest = file_sha256(onnx_path)
        if meta["model_sha256"] != digest:
            raise ModelError(
                f"{onnx_path} is not the model its metadata describes (sha256 {digest[:16]}..., "
                f"metadata says {str(meta['model_sha256'])[:16]}...): it was changed after export "
                "or comes from another model. Restore it, or train and export the model again."
            )
        try:
            fconf = FeatureConfig.from_dict(meta["features"].get("config", {}))
        except (TypeError, ValueError) as exc:  # ConfigError is a ValueError
            raise ModelError(f"{meta_path}: features.config is unusable: {exc}") from exc
        check_schema(meta, fconf)
        session = _session(onnx_path)
        n_in = session.get_inputs()[0].shape[1]
        if isinstance(n_in, int) and n_in != len(meta["features"]["names"]):
            raise SchemaError(
                f"{onnx_path} takes {n_in} features but its metadata lists "
                f"{len(meta['features']['names'])}; the directory mixes two models"
            )
        for out in session.get_outputs()[1:]:  # attention weights, member scores
            k = out.shape[1] if len(out.shape) > 1 else None
            if isinstance(k, int) and k != len(meta["members"]):
                raise ModelError(
                    f"{onnx_path} outputs {k} members ({out.name}) but its metadata lists "
                    f"{meta['members']}; the directory mixes two models"
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


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes (binds model.onnx to its metadata)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def read_metadata(meta_path: Path) -> dict[str, Any]:
    """Read and validate ``metadata.json``; ModelError naming the first unusable entry."""
    try:
        meta = json.loads(meta_path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        where = f"{exc.reason} at byte {exc.start}"
        raise ModelError(f"{meta_path} is not UTF-8 text ({where})") from exc
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ModelError(f"{meta_path} is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != METADATA_FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise ModelError(f"{meta_path}: format is {got!r}, expected {METADATA_FORMAT!r}")
    try:
        validate_metadata(meta)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{meta_path}: {exc}") from exc
    return meta


def _finite_numbers(values: Any, n: int, what: str) -> None:
    if not isinstance(values, list) or len(values) != n:
        got = len(values) if isinstance(values, list) else type(values).__name__
        raise ValueError(f"{what} must be a list of {n} numbers (one per feature), got {got}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{what} holds {v!r}, not a finite number")


def validate_metadata(meta: dict[str, Any]) -> None:
    """Every entry the scoring path reads, checked before anything is scored.

    Raises ValueError/TypeError with a message naming the entry.
    """
    for key in ("version", "members", "features", "threshold", "model_sha256"):
        if key not in meta:
            raise ValueError(
                f"lacks the {key!r} entry"
                + (" (models exported before hamad bound model.onnx to its metadata: "
                   "train and export again)" if key == "model_sha256" else "")
            )  # fmt: skip
    if not isinstance(meta["version"], str) or not meta["version"]:
        raise ValueError(f"version must be a non-empty string, got {meta['version']!r}")
    members = meta["members"]
    if (
        not isinstance(members, list)
        or not members
        or not set(members) <= set(MEMBERS)
        or len(set(members)) != len(members)
    ):
        raise ValueError(f"members must be distinct names from {list(MEMBERS)}, got {members!r}")
    feats = meta["features"]
    names = feats.get("names") if isinstance(feats, dict) else None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ValueError("features.names must be a non-empty list of feature names")
    if len(set(names)) != len(names):
        raise ValueError("features.names lists a feature twice")
    if not isinstance(feats.get("config", {}), dict):
        raise ValueError("features.config must be a mapping")
    explain = meta.get("explain", {})
    if not isinstance(explain, dict):
        raise ValueError("explain must be a mapping")
    for key in ("mean", "scale", "importance"):
        if key in explain:
            _finite_numbers(explain[key], len(names), f"explain.{key}")
    try:
        AdaptiveThreshold.from_dict(meta["threshold"])
    except ConfigError as exc:
        raise ValueError(f"threshold: {exc}") from exc
    if not isinstance(meta["model_sha256"], str) or len(meta["model_sha256"]) != 64:
        raise ValueError("model_sha256 must be the 64-hex-digit sha256 of model.onnx")


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
