"""Shared pieces of the dataset loaders: file lookup, tables, encoding, cache.

Why a tiny table type instead of pandas: the loaders must run in the same
venv as the worker and in CI without extra dependencies, and the public
files are simple enough (headerless or headed CSV, a few categorical
columns) that ``csv`` + numpy is fast enough (NSL-KDD's 126k rows load in
about a second).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from ...core.digest import file_sha256
from ...errors import InputFormatError
from ...offline.ingest import DECOMPRESSION_ERRORS, open_binary

#: Compression suffixes the loaders accept after a file's documented name.
COMPRESSED_SUFFIXES: tuple[str, ...] = ("", ".xz", ".gz", ".bz2")


def find_file(directory: str | Path, name: str, what: str) -> Path:
    """Locate ``name`` (optionally ``.xz``/``.gz``/``.bz2``) in ``directory`` or fail clearly."""
    d = Path(directory)
    if not d.is_dir():
        raise InputFormatError(f"{d}: not a directory; expected the folder holding {what}")
    for suffix in COMPRESSED_SUFFIXES:
        p = d / f"{name}{suffix}"
        if p.is_file():
            return p
    tried = ", ".join(f"{name}{s}" for s in COMPRESSED_SUFFIXES)
    raise InputFormatError(f"{d}: missing {what}; expected one of: {tried}")


def open_text(path: Path, encoding: str = "utf-8") -> IO[str]:
    """Decompressed text of ``path``, strictly decoded (the dataset files are clean text)."""
    return io.TextIOWrapper(open_binary(path), encoding=encoding, newline="", errors="strict")


def read_lines(path: Path, encoding: str = "utf-8") -> list[str]:
    """Whole decompressed file as lines; decoding/archive errors name the file."""
    try:
        with open_text(path, encoding) as fh:
            return fh.read().splitlines()
    except (*DECOMPRESSION_ERRORS, UnicodeDecodeError) as exc:
        raise InputFormatError(
            f"{path}: cannot decompress/decode as {encoding} text ({exc})"
        ) from exc


def sha256_of_content(path: Path) -> str:
    """sha256 of the *uncompressed* content, comparable with the SOURCE.md hashes."""
    try:
        with open_binary(path) as fh:
            return file_sha256(fh)
    except DECOMPRESSION_ERRORS as exc:
        raise InputFormatError(f"{path}: cannot decompress ({exc})") from exc


@dataclass
class RawTable:
    """One loaded file (or split): numeric block, categorical block and labels.

    ``y`` is binary (1 = attack/malicious); ``category`` is the multi-class
    name per row (``"normal"`` for benign) where the dataset has one;
    ``groups`` names the capture/file a row came from (for grouped splits);
    ``family`` is a coarser attack family per row where the dataset defines one
    (CICIDS2017: several labels per family), so a protocol can hold a whole
    family out of training.
    """

    name: str
    numeric: NDArray[np.float64]
    numeric_names: list[str]
    categorical: NDArray[np.str_]
    categorical_names: list[str]
    y: NDArray[np.int64]
    category: NDArray[np.str_]
    groups: NDArray[np.str_]
    sources: list[dict[str, Any]] = field(default_factory=list)
    family: NDArray[np.str_] | None = None

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def take(self, idx: NDArray[np.int64] | Sequence[int], name: str | None = None) -> RawTable:
        """Rows ``idx`` as a new table (used by the splitters; copies, never views)."""
        i = np.asarray(idx, dtype=np.int64)
        return RawTable(
            name=name or self.name,
            numeric=self.numeric[i].copy(),
            numeric_names=list(self.numeric_names),
            categorical=self.categorical[i].copy(),
            categorical_names=list(self.categorical_names),
            y=self.y[i].copy(),
            category=self.category[i].copy(),
            groups=self.groups[i].copy(),
            sources=list(self.sources),
            family=None if self.family is None else self.family[i].copy(),
        )

    def label_counts(self) -> dict[str, int]:
        return value_counts(self.category)

    def row_hashes(self) -> NDArray[np.str_]:
        """Content hash per row (features + label); lets tests prove splits are disjoint."""
        out = []
        for i in range(len(self)):
            h = hashlib.blake2b(digest_size=12)
            h.update(self.numeric[i].tobytes())
            h.update("\x1f".join(self.categorical[i].tolist()).encode())
            h.update(str(self.category[i]).encode())
            out.append(h.hexdigest())
        return np.asarray(out)


def value_counts(values: NDArray[np.str_]) -> dict[str, int]:
    """``{value: rows}`` sorted by value: the label/family counts of manifests and reports."""
    names, counts = np.unique(values, return_counts=True)
    return {str(n): int(c) for n, c in zip(names, counts, strict=True)}


def concat_tables(tables: Sequence[RawTable], name: str) -> RawTable:
    """Stack tables with identical columns (e.g. the CICIDS2017 day files)."""
    first = tables[0]
    for t in tables[1:]:
        if t.numeric_names != first.numeric_names or t.categorical_names != first.categorical_names:
            raise InputFormatError(f"{t.name}: columns differ from {first.name}; cannot combine")
    families = [t.family for t in tables if t.family is not None]
    return RawTable(
        name=name,
        numeric=np.concatenate([t.numeric for t in tables]),
        numeric_names=list(first.numeric_names),
        categorical=np.concatenate([t.categorical for t in tables]),
        categorical_names=list(first.categorical_names),
        y=np.concatenate([t.y for t in tables]),
        category=np.concatenate([t.category for t in tables]),
        groups=np.concatenate([t.groups for t in tables]),
        sources=[s for t in tables for s in t.sources],
        family=np.concatenate(families) if len(families) == len(tables) else None,
    )


def parse_numeric(
    rows: list[list[str]], cols: Sequence[int], path: Path, names: Sequence[str]
) -> NDArray[np.float64]:
    """Numeric columns as float64; the first bad cell is reported with line and column."""
    try:
        return np.asarray([[float(r[c]) for c in cols] for r in rows], dtype=np.float64)
    except ValueError:
        for lineno, r in enumerate(rows, 1):
            for c, n in zip(cols, names, strict=True):
                try:
                    float(r[c])
                except ValueError:
                    raise InputFormatError(
                        f"{path}: data row {lineno}, column {n!r}: expected a number, got {r[c]!r}"
                    ) from None
        raise


@dataclass
class TabularEncoder:
    """Numeric pass-through + one-hot categoricals, vocabulary fitted on TRAIN only.

    Why one-hot with an implicit "unseen" (all zeros) instead of failing: test
    files legitimately contain services/protocols the training file never saw
    (NSL-KDD's test sets do), and a deployed model meets them too.
    """

    max_categories: int = 200
    numeric_names_: list[str] = field(default_factory=list)
    categorical_names_: list[str] = field(default_factory=list)
    vocab_: list[list[str]] = field(default_factory=list)

    def fit(self, table: RawTable) -> TabularEncoder:
        self.numeric_names_ = list(table.numeric_names)
        self.categorical_names_ = list(table.categorical_names)
        self.vocab_ = []
        for j in range(len(table.categorical_names)):
            values, counts = np.unique(table.categorical[:, j], return_counts=True)
            order = np.argsort(-counts, kind="mergesort")[: self.max_categories]
            self.vocab_.append(sorted(str(values[k]) for k in order))
        return self

    @property
    def feature_names(self) -> list[str]:
        names = list(self.numeric_names_)
        for col, vocab in zip(self.categorical_names_, self.vocab_, strict=True):
            names += [f"{col}={v}" for v in vocab]
        return names

    def transform(self, table: RawTable) -> NDArray[np.float32]:
        if table.numeric_names != self.numeric_names_ or (
            table.categorical_names != self.categorical_names_
        ):
            raise InputFormatError(f"{table.name}: columns differ from the encoder's training file")
        blocks: list[NDArray[np.float32]] = [table.numeric.astype(np.float32)]
        for j, vocab in enumerate(self.vocab_):
            index = {v: k for k, v in enumerate(vocab)}
            codes = np.asarray([index.get(str(v), -1) for v in table.categorical[:, j]])
            onehot = np.zeros((len(table), len(vocab)), dtype=np.float32)
            hit = codes >= 0
            onehot[np.nonzero(hit)[0], codes[hit]] = 1.0
            blocks.append(onehot)
        return np.ascontiguousarray(np.hstack(blocks), dtype=np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "numeric": self.numeric_names_,
            "categorical": dict(zip(self.categorical_names_, self.vocab_, strict=True)),
        }


def source_entry(path: Path, rows: int, table: RawTable | None = None) -> dict[str, Any]:
    """Manifest entry for one input file: name, sha256 of content, rows, label (family) counts."""
    entry: dict[str, Any] = {"file": str(path), "sha256": sha256_of_content(path), "rows": rows}
    if table is not None:
        entry["label_counts"] = table.label_counts()
        if table.family is not None:
            entry["family_counts"] = value_counts(table.family)
    return entry


@dataclass
class PreparedSplit:
    """Encoded, training-ready arrays of one split."""

    name: str
    X: NDArray[np.float32]
    y: NDArray[np.int64]
    category: NDArray[np.str_]
    groups: NDArray[np.str_]
    family: NDArray[np.str_] | None = None


def write_prepared(
    out_dir: Path,
    dataset: str,
    splits: Sequence[PreparedSplit],
    feature_names: list[str],
    sources: list[dict[str, Any]],
    notes: list[str],
    encoder: dict[str, Any] | None = None,
) -> Path:
    """Write ``<split>.npz`` per split and ``manifest.json``; returns the manifest path."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputFormatError(f"{out_dir}: cannot create output directory ({exc})") from exc
    split_info = []
    for s in splits:
        path = out_dir / f"{s.name}.npz"
        arrays: dict[str, NDArray[Any]] = {
            "X": s.X,
            "y": s.y,
            "category": s.category,
            "groups": s.groups,
        }
        if s.family is not None:
            arrays["family"] = s.family
        savez: Callable[..., None] = np.savez_compressed  # numpy's stub rejects **arrays
        savez(path, **arrays)
        info: dict[str, Any] = {
            "name": s.name,
            "file": path.name,
            "rows": int(len(s.y)),
            "positives": int(s.y.sum()),
            "label_counts": value_counts(s.category),
        }
        if s.family is not None:
            info["family_counts"] = value_counts(s.family)
        split_info.append(info)
    manifest = {
        "dataset": dataset,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sources": sources,
        "splits": split_info,
        "n_features": len(feature_names),
        "feature_names": feature_names,
        "encoder": encoder,
        "notes": notes,
        "label_convention": "y=1 attack/malicious, y=0 normal/benign",
    }
    mpath = out_dir / "manifest.json"
    mpath.write_text(json.dumps(manifest, indent=2) + "\n")
    return mpath


def default_data_root() -> Path | None:
    """``$HAMAD_DATA_ROOT``, else ``<repo>/../shared/datasets``, else None."""
    env = os.environ.get("HAMAD_DATA_ROOT")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[3]
    cand = repo.parent / "shared" / "datasets"
    return cand if cand.is_dir() else None
