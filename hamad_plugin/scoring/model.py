"""Load and run a shipped HAMAD model: onnxruntime + numpy only.

A model is a directory with ``model.onnx`` (the whole ensemble as one graph,
see :mod:`hamad_plugin.offline.onnx_export`) and ``metadata.json``, the
:class:`~hamad_plugin.core.manifest.ModelManifest` (version, feature schema and its
hash, threshold calibration, provenance, held-out metrics, library versions,
and the sha256 of ``model.onnx``). Loading refuses, with
one error that says what is wrong: a ``model.onnx`` whose bytes are not the
ones the metadata was written for (weights edited after export, or two models
mixed in one directory); a feature schema that differs from what this code
computes; any metadata value the scoring path cannot use (a threshold outside
(0, 1), unknown or missing members, explanation vectors of the wrong length,
non-finite numbers, non-UTF-8 text).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.digest import file_sha256
from ..core.features import FeatureConfig, feature_names, schema_hash
from ..core.manifest import ModelManifest
from ..errors import ModelError, SchemaError

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
    manifest: ModelManifest
    session: Any
    feature_config: FeatureConfig

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def members(self) -> list[str]:
        return list(self.manifest.members)

    @property
    def feature_names(self) -> list[str]:
        return list(self.manifest.features.names)

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
        manifest = read_manifest(meta_path)
        digest = file_sha256(onnx_path)
        if manifest.model_sha256 != digest:
            raise ModelError(
                f"{onnx_path} is not the model its metadata describes (sha256 {digest[:16]}..., "
                f"metadata says {manifest.model_sha256[:16]}...): it was changed after export "
                "or comes from another model. Restore it, or train and export the model again."
            )
        try:
            fconf = FeatureConfig.from_dict(dict(manifest.features.config or {}))
        except (TypeError, ValueError) as exc:  # ConfigError is a ValueError
            raise ModelError(f"{meta_path}: features.config is unusable: {exc}") from exc
        check_schema(manifest, fconf)
        session = open_session(onnx_path)
        _check_session(session, manifest, onnx_path)
        return cls(mdir, manifest, session, fconf)

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fused score [N], attention weights [N, k], member scores [N, k]."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        n_features = len(self.manifest.features.names)
        if X.ndim != 2 or X.shape[1] != n_features:
            raise SchemaError(
                f"X has shape {X.shape}, model {self.version} expects (n, {n_features})"
            )
        # Non-finite inputs would poison the whole row; the extractor never makes them,
        # but be safe for rows built elsewhere.
        if not np.isfinite(X).all():
            X = np.nan_to_num(X, nan=0.0, posinf=1e6, neginf=-1e6)
        score, weights, members = self.session.run(None, {"features": X})
        return np.asarray(score), np.asarray(weights), np.asarray(members)


def _check_session(session: Any, manifest: ModelManifest, onnx_path: Path) -> None:
    """SchemaError/ModelError unless the graph's input and outputs fit the manifest."""
    n_in = session.get_inputs()[0].shape[1]
    names = manifest.features.names
    if isinstance(n_in, int) and n_in != len(names):
        raise SchemaError(
            f"{onnx_path} takes {n_in} features but its metadata lists "
            f"{len(names)}; the directory mixes two models"
        )
    for out in session.get_outputs()[1:]:  # attention weights, member scores
        k = out.shape[1] if len(out.shape) > 1 else None
        if isinstance(k, int) and k != len(manifest.members):
            raise ModelError(
                f"{onnx_path} outputs {k} members ({out.name}) but its metadata lists "
                f"{list(manifest.members)}; the directory mixes two models"
            )


def read_manifest(meta_path: Path) -> ModelManifest:
    """Read and validate ``metadata.json``; ModelError naming the first unusable entry."""
    try:
        meta = json.loads(meta_path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        where = f"{exc.reason} at byte {exc.start}"
        raise ModelError(f"{meta_path} is not UTF-8 text ({where})") from exc
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ModelError(f"{meta_path} is not valid JSON: {exc}") from exc
    try:
        return ModelManifest.from_dict(meta)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{meta_path}: {exc}") from exc


def check_schema(manifest: ModelManifest, fconf: FeatureConfig) -> None:
    """Raise SchemaError unless the model's features equal what this code computes."""
    stored = list(manifest.features.names)
    ours = feature_names(fconf)
    name = manifest.version
    if stored != ours:
        raise SchemaError(
            f"model {name!r} expects {len(stored)} features, but this hamad computes "
            f"{len(ours)} for the same settings ({_schema_diff(stored, ours)}); retrain with "
            "`hamad train` or pass --model for a matching model"
        )
    want = manifest.features.hash
    have = schema_hash(fconf)
    if want != have:
        raise SchemaError(
            f"model {name!r} has feature schema hash {want}, this hamad computes {have} "
            "(same names, different meaning or scales); retrain with `hamad train`"
        )


def open_session(path: Path) -> Any:
    """An onnxruntime session on one thread; ModelError if onnxruntime cannot load the file."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    # One thread: the worker scores small batches; thread hand-off costs more than it saves.
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelError(f"{path} could not be loaded by onnxruntime: {exc}") from exc
