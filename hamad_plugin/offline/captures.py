"""Labelled captures: a labelled conn log streamed through the worker's feature extractor.

``hamad train``, ``hamad loco`` and the research loaders all read labelled
conn logs (IoT-23 ``conn.log.labeled``, Stratosphere labelled logs) the same
way: one fresh :class:`~hamad_plugin.core.features.FeatureExtractor` per
capture, connections in the order Zeek logged them (the order the live worker
receives them). Rows labelled ``Background`` (unknown) still feed the windows
but are not returned.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.digest import file_sha256
from ..core.features import FeatureConfig, FeatureExtractor
from ..errors import InputFormatError
from .ingest import read_conn_log

#: Connections between two ``progress`` calls of :func:`load_capture`.
PROGRESS_EVERY = 2000


class UnlabelledCaptureError(InputFormatError):
    """A conn log without a single row labelled Benign or Malicious."""


@dataclass
class CaptureData:
    """Features and labels of one labelled conn log (Background rows dropped)."""

    path: str
    name: str
    X: np.ndarray
    y: np.ndarray
    detail: list[str]
    sha256: str
    rows: int
    bad_lines: int
    labels: dict[str, int] = field(default_factory=dict)


def capture_name(path: str | Path) -> str:
    """A readable capture name: the IoT-23 folder or the file's stem."""
    p = Path(path)
    stem = p.name.split(".")[0]
    if stem in ("conn", "") and p.parent.name:
        return p.parent.name
    return stem


def load_capture(
    path: str | Path,
    config: FeatureConfig,
    progress: Callable[[int], None] | None = None,
) -> CaptureData:
    """Stream one labelled conn log through a fresh extractor.

    Raises InputFormatError for a damaged file or one that is not a conn log,
    :class:`UnlabelledCaptureError` when no row is labelled Benign or Malicious.
    """
    reader = read_conn_log(path)
    fx = FeatureExtractor(config)
    rows: list[list[float]] = []
    ys: list[int] = []
    detail: list[str] = []
    labels: Counter[str] = Counter()
    n = 0
    for rec in reader:
        vec = fx.transform_one(rec)
        n += 1
        if progress is not None and n % PROGRESS_EVERY == 0:
            progress(PROGRESS_EVERY)
        labels[f"{rec.label}/{rec.detailed_label or '-'}"] += 1
        mal = rec.is_malicious
        if mal is None:
            continue
        rows.append(vec)
        ys.append(int(mal))
        detail.append(rec.detailed_label or ("-" if not mal else "Malicious"))
    if progress is not None:
        progress(n % PROGRESS_EVERY)
    reader.stats.raise_if_damaged()
    if not rows:
        raise UnlabelledCaptureError(
            f"{path}: no rows labelled Benign or Malicious; training needs a labelled conn log "
            "(IoT-23 conn.log.labeled or Stratosphere labelled logs)"
        )
    return CaptureData(
        path=str(path),
        name=capture_name(path),
        X=np.asarray(rows, dtype=np.float32),
        y=np.asarray(ys, dtype=np.int64),
        detail=detail,
        sha256=file_sha256(path),
        rows=n,
        bad_lines=reader.stats.bad_lines,
        labels=dict(labels),
    )
