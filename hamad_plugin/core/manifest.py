"""The model manifest: what a model's ``metadata.json`` says, as frozen dataclasses.

One reader, :meth:`ModelManifest.from_dict`, validates every entry before
anything is scored and raises ValueError/TypeError with a message naming the
entry; one writer, :meth:`ModelManifest.to_dict`, gives the JSON document
``hamad train`` writes (keys in their documented order). No file I/O here:
:mod:`hamad_plugin.scoring.model` reads the file, :mod:`hamad_plugin.offline.train`
writes it.

Optional entries are None when a manifest lacks them (models built in memory,
as the LOCO folds are, carry no provenance) and are left out of
:meth:`~ModelManifest.to_dict`. ``metrics`` stays a plain mapping: its content is
whatever the evaluation recorded.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from .threshold import AdaptiveThreshold
from .verdict import MEMBERS

METADATA_FORMAT = "hamad-model/1"

#: Field metadata of an optional entry: left out of ``to_dict()`` when None.
_OPTIONAL: dict[str, bool] = {"optional": True}


def _optional() -> Any:
    return field(default=None, metadata=_OPTIONAL)


def _plain(value: Any) -> Any:
    """A JSON-ready deep copy: dataclasses and mappings -> dicts, tuples -> lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not (f.metadata.get("optional") and getattr(value, f.name) is None)
        }
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# -- typed reads of one entry; ``where`` names the enclosing entry in messages ----------


def _entry(d: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in d:
        raise ValueError(f"{where} lacks the {key!r} entry")
    return d[key]


def _str(d: Mapping[str, Any], key: str, where: str) -> str:
    v = _entry(d, key, where)
    if not isinstance(v, str):
        raise ValueError(f"{where}.{key} must be a string, got {v!r}")
    return v


def _opt_str(d: Mapping[str, Any], key: str, where: str = "") -> str | None:
    v = d.get(key)
    if v is not None and not isinstance(v, str):
        raise ValueError(f"{where}{key} must be a string, got {v!r}")
    return v


def _int(d: Mapping[str, Any], key: str, where: str) -> int:
    v = _entry(d, key, where)
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"{where}.{key} must be an integer, got {v!r}")
    return v


def _num(d: Mapping[str, Any], key: str, where: str) -> float:
    v = _entry(d, key, where)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{where}.{key} must be a number, got {v!r}")
    return v


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ValueError(f"{what} must be a mapping")
    plain: dict[str, Any] = _plain(value)
    return plain


def _finite_numbers(values: Any, n: int, what: str) -> tuple[float, ...]:
    if not isinstance(values, list) or len(values) != n:
        got = len(values) if isinstance(values, list) else type(values).__name__
        raise ValueError(f"{what} must be a list of {n} numbers (one per feature), got {got}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{what} holds {v!r}, not a finite number")
    return tuple(values)


# -- the sections -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FeaturesInfo:
    """The feature schema the model was trained on."""

    names: tuple[str, ...]
    descriptions: tuple[str, ...] | None = _optional()
    #: :meth:`~hamad_plugin.core.features.FeatureConfig.to_dict` of the training config.
    config: Mapping[str, Any] | None = _optional()
    #: :func:`~hamad_plugin.core.features.schema_hash` of that config.
    hash: str | None = _optional()

    @classmethod
    def from_dict(cls, feats: Any) -> FeaturesInfo:
        names = feats.get("names") if isinstance(feats, Mapping) else None
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise ValueError("features.names must be a non-empty list of feature names")
        if len(set(names)) != len(names):
            raise ValueError("features.names lists a feature twice")
        if not isinstance(feats.get("config", {}), dict):
            raise ValueError("features.config must be a mapping")
        descs = feats.get("descriptions")
        if descs is not None and (
            not isinstance(descs, list) or not all(isinstance(s, str) for s in descs)
        ):
            raise ValueError("features.descriptions must be a list of strings")
        config = feats.get("config")
        return cls(
            names=tuple(names),
            descriptions=None if descs is None else tuple(descs),
            config=None if config is None else _mapping(config, "features.config"),
            hash=_opt_str(feats, "hash", "features."),
        )


@dataclass(frozen=True, kw_only=True)
class ExplainInfo:
    """Benign training statistics behind the per-verdict explanations (one value per feature)."""

    mean: tuple[float, ...] | None = _optional()
    scale: tuple[float, ...] | None = _optional()
    importance: tuple[float, ...] | None = _optional()

    @classmethod
    def from_dict(cls, explain: Any, n_features: int) -> ExplainInfo:
        if not isinstance(explain, dict):
            raise ValueError("explain must be a mapping")
        vals = {
            key: _finite_numbers(explain[key], n_features, f"explain.{key}")
            for key in ("mean", "scale", "importance")
            if key in explain
        }
        return cls(**vals)


@dataclass(frozen=True, kw_only=True)
class ThresholdInfo:
    """The calibrated threshold (:meth:`AdaptiveThreshold.to_dict`, same keys)."""

    mode: str
    target_fpr: float
    quantile: float
    half_life: float
    min_samples: int
    lower: float | None
    upper: float | None
    n_bins: int
    threshold: float
    reference: float
    n_calibration: int

    @classmethod
    def from_threshold(cls, thr: AdaptiveThreshold) -> ThresholdInfo:
        return cls(**thr.to_dict())

    @classmethod
    def from_dict(cls, d: Any) -> ThresholdInfo:
        """Validated as :meth:`AdaptiveThreshold.from_dict` does (ConfigError if unusable)."""
        return cls.from_threshold(AdaptiveThreshold.from_dict(d))

    def to_dict(self) -> dict[str, Any]:
        plain: dict[str, Any] = _plain(self)
        return plain

    def resolution_note(self) -> str | None:
        """Why the target FPR is a wish when the calibration set is small, or None.

        A false-positive rate of ``target_fpr`` can only be read off at least
        ``1 / target_fpr`` benign scores; below that the threshold is just the
        highest benign calibration score, and the rate a deployment gets is not
        known from the calibration at all (leave-one-capture-out says what it is).
        """
        needed = math.ceil(1.0 / self.target_fpr) if self.target_fpr > 0 else 0
        if self.n_calibration >= needed:
            return None
        return (
            f"the threshold is the highest of {self.n_calibration} benign calibration scores; "
            f"a target FPR of {self.target_fpr:g} needs at least {needed} to be measured, so "
            "the false-alarm rate on a new network is not known from the calibration "
            "(docs/loco.md measures it)"
        )

    def to_threshold(self, **overrides: Any) -> AdaptiveThreshold:
        """A fresh :class:`AdaptiveThreshold` with this calibration; non-None overrides win."""
        return AdaptiveThreshold.from_dict(self.to_dict(), **overrides)


@dataclass(frozen=True, kw_only=True)
class TrainedFile:
    """One labelled conn log the model was trained on."""

    path: str
    capture: str
    sha256: str
    lines_read: int
    labelled_rows: int
    malformed_lines: int
    #: ``label/detailed-label`` -> rows.
    labels: Mapping[str, int]

    @classmethod
    def from_dict(cls, d: Any, where: str) -> TrainedFile:
        if not isinstance(d, Mapping):
            raise ValueError(f"{where} must be a mapping")
        labels = _mapping(_entry(d, "labels", where), f"{where}.labels")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in labels.values()):
            raise ValueError(f"{where}.labels must map labels to row counts")
        return cls(
            path=_str(d, "path", where),
            capture=_str(d, "capture", where),
            sha256=_str(d, "sha256", where),
            lines_read=_int(d, "lines_read", where),
            labelled_rows=_int(d, "labelled_rows", where),
            malformed_lines=_int(d, "malformed_lines", where),
            labels=labels,
        )


@dataclass(frozen=True, kw_only=True)
class SplitInfo:
    """How the labelled rows were split into train, calibration and test."""

    method: str
    #: ``train``, ``calibration``, ``test`` -> share of each capture.
    fractions: Mapping[str, float]
    train_rows: int
    train_malicious: int
    calibration_benign_rows: int
    test_rows: int

    @classmethod
    def from_dict(cls, d: Any, where: str = "training.split") -> SplitInfo:
        if not isinstance(d, Mapping):
            raise ValueError(f"{where} must be a mapping")
        fr = _mapping(_entry(d, "fractions", where), f"{where}.fractions")
        return cls(
            method=_str(d, "method", where),
            fractions={k: _num(fr, k, f"{where}.fractions") for k in fr},
            train_rows=_int(d, "train_rows", where),
            train_malicious=_int(d, "train_malicious", where),
            calibration_benign_rows=_int(d, "calibration_benign_rows", where),
            test_rows=_int(d, "test_rows", where),
        )


@dataclass(frozen=True, kw_only=True)
class Hyperparameters:
    n_estimators: int
    seed: int
    target_fpr: float
    n_folds: int

    @classmethod
    def from_dict(cls, d: Any, where: str = "training.hyperparameters") -> Hyperparameters:
        if not isinstance(d, Mapping):
            raise ValueError(f"{where} must be a mapping")
        return cls(
            n_estimators=_int(d, "n_estimators", where),
            seed=_int(d, "seed", where),
            target_fpr=_num(d, "target_fpr", where),
            n_folds=_int(d, "n_folds", where),
        )


@dataclass(frozen=True, kw_only=True)
class TrainingInfo:
    """Provenance: the files, the split, the hyperparameters and the fit time."""

    files: tuple[TrainedFile, ...]
    split: SplitInfo
    hyperparameters: Hyperparameters
    fit_seconds: float

    @classmethod
    def from_dict(cls, d: Any) -> TrainingInfo:
        if not isinstance(d, Mapping):
            raise ValueError("training must be a mapping")
        files = _entry(d, "files", "training")
        if not isinstance(files, list):
            raise ValueError("training.files must be a list")
        return cls(
            files=tuple(
                TrainedFile.from_dict(f, f"training.files[{i}]") for i, f in enumerate(files)
            ),
            split=SplitInfo.from_dict(_entry(d, "split", "training")),
            hyperparameters=Hyperparameters.from_dict(_entry(d, "hyperparameters", "training")),
            fit_seconds=_num(d, "fit_seconds", "training"),
        )


# -- the manifest -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ModelManifest:
    """Everything ``metadata.json`` records about a model (fields in the file's key order)."""

    format: str = METADATA_FORMAT
    version: str
    hamad_version: str | None = _optional()
    #: ISO 8601 UTC time of training.
    created: str | None = _optional()
    members: tuple[str, ...]
    #: ``attention`` or ``mean``.
    fusion: str | None = _optional()
    features: FeaturesInfo
    explain: ExplainInfo | None = _optional()
    threshold: ThresholdInfo
    #: sha256 of ``model.onnx``: binds the graph to this manifest.
    model_sha256: str
    training: TrainingInfo | None = _optional()
    #: What the evaluation at training time recorded (``heldout_test``, ``plots``).
    metrics: Mapping[str, Any] | None = _optional()
    #: Package -> version of the training environment.
    libraries: Mapping[str, str] | None = _optional()
    #: Set by ``hamad quantize``: what was made int8, from which model, on what calibration.
    quantization: Mapping[str, Any] | None = _optional()
    #: Set by ``hamad fleet``: the gateways (names and file digests), rounds and bytes.
    fleet: Mapping[str, Any] | None = _optional()

    def to_dict(self) -> dict[str, Any]:
        """The ``metadata.json`` document (a fresh, JSON-ready copy)."""
        plain: dict[str, Any] = _plain(self)
        return plain

    @classmethod
    def from_dict(cls, meta: Any) -> ModelManifest:
        """Validate a parsed ``metadata.json``: every entry the scoring path reads first.

        Raises ValueError/TypeError with a message naming the entry.
        """
        if not isinstance(meta, Mapping) or meta.get("format") != METADATA_FORMAT:
            got = meta.get("format") if isinstance(meta, Mapping) else type(meta).__name__
            raise ValueError(f"format is {got!r}, expected {METADATA_FORMAT!r}")
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
            raise ValueError(
                f"members must be distinct names from {list(MEMBERS)}, got {members!r}"
            )
        features = FeaturesInfo.from_dict(meta["features"])
        explain = ExplainInfo.from_dict(meta.get("explain", {}), len(features.names))
        try:
            threshold = ThresholdInfo.from_dict(meta["threshold"])
        except ConfigError as exc:
            raise ValueError(f"threshold: {exc}") from exc
        if not isinstance(meta["model_sha256"], str) or len(meta["model_sha256"]) != 64:
            raise ValueError("model_sha256 must be the 64-hex-digit sha256 of model.onnx")
        return cls(
            format=METADATA_FORMAT,
            version=meta["version"],
            hamad_version=_opt_str(meta, "hamad_version"),
            created=_opt_str(meta, "created"),
            members=tuple(members),
            fusion=_opt_str(meta, "fusion"),
            features=features,
            explain=explain if "explain" in meta else None,
            threshold=threshold,
            model_sha256=meta["model_sha256"],
            training=TrainingInfo.from_dict(meta["training"]) if "training" in meta else None,
            metrics=_mapping(meta["metrics"], "metrics") if "metrics" in meta else None,
            libraries=_libraries(meta["libraries"]) if "libraries" in meta else None,
            quantization=(
                _mapping(meta["quantization"], "quantization") if "quantization" in meta else None
            ),
            fleet=_mapping(meta["fleet"], "fleet") if "fleet" in meta else None,
        )


def _libraries(value: Any) -> dict[str, str]:
    libs = _mapping(value, "libraries")
    if not all(isinstance(v, str) for v in libs.values()):
        raise ValueError("libraries must map package names to version strings")
    return libs
