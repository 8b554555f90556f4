"""The report's results as data: what ``evaluation.json`` keeps and how runs are merged.

Why: ``evaluation.md`` is rendered from these records alone (per-fold metrics
with their confusion counts, pooled AUCs, plot paths, run metadata), never
from a run's in-memory scores. So ``hamad report --update --dataset X`` can
re-run one dataset, keep every other dataset's results exactly as they were
(numbers, plots, the command and versions that produced them) and render the
whole document again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...errors import InputFormatError

#: Version of the evaluation.json layout that ``--update`` can merge into.
FORMAT = 2


@dataclass
class ProtocolResult:
    """The report's results of one (protocol, test set), all folds: metric records, pooled scores.

    One benchmark section of evaluation.md and one entry of evaluation.json's
    ``benchmarks``. ``pooled`` holds the run's scores (for plots and pooled AUCs) and is not
    saved; everything else is, and is all the document needs.
    """

    key: str
    title: str
    dataset: str
    description: str
    n_folds: int
    records: list[dict[str, Any]] = field(default_factory=list)
    pooled: dict[str, dict[str, list[NDArray[Any]]]] = field(default_factory=dict)
    fold_sizes: list[dict[str, Any]] = field(default_factory=list)
    #: The ``--dataset`` choice that produced it (what ``--update`` replaces).
    choice: str = ""
    layout: str = "standard"
    note: str = ""
    class_family: dict[str, str] = field(default_factory=dict)
    #: Pooled out-of-fold ROC-AUC / PR-AUC per model.
    auc: dict[str, dict[str, float | None]] = field(default_factory=dict)
    #: Plot files relative to the output folder.
    plots: list[str] = field(default_factory=list)
    multiclass_plots: list[str] = field(default_factory=list)

    @property
    def protocol(self) -> str:
        return self.key.split("/", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _SAVED}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProtocolResult:
        missing = [k for k in _SAVED if k not in d]
        if missing:
            raise InputFormatError(f"benchmark {d.get('key')!r}: missing field(s) {missing}")
        return cls(**{k: d[k] for k in _SAVED})


_SAVED: tuple[str, ...] = (
    "key",
    "title",
    "dataset",
    "description",
    "n_folds",
    "records",
    "fold_sizes",
    "choice",
    "layout",
    "note",
    "class_family",
    "auc",
    "plots",
    "multiclass_plots",
)


@dataclass
class ReportData:
    """Everything one evaluation.md is rendered from."""

    runs: list[dict[str, Any]]
    benches: list[ProtocolResult]
    multiclass: dict[str, dict[str, Any]]
    sources: dict[str, list[dict[str, Any]]]
    missing: list[str]
    smoke: bool = False


def _choice_of(missing: str) -> str:
    return missing.split(": ", 1)[0]


def merge_report_data(
    old: ReportData, new: ReportData, rerun: Sequence[str], order: Sequence[str]
) -> ReportData:
    """``old`` with the results of the ``rerun`` dataset choices replaced by ``new``'s.

    Benchmarks, their multi-class results, sources and "not evaluated" notes of
    the re-run choices are dropped from ``old``; a run is kept for the choices it
    still accounts for. The result lists benchmarks in ``order`` of their choice.
    """
    if old.smoke != new.smoke:
        kind = "a smoke run" if old.smoke else "a full run"
        raise InputFormatError(
            f"--update: the existing report is from {kind}; this run is not; rerun in full"
        )
    redo = set(rerun)
    kept = [b for b in old.benches if b.choice not in redo]
    rank = {c: i for i, c in enumerate(order)}
    benches = sorted(kept + new.benches, key=lambda b: rank.get(b.choice, len(rank)))
    multi = {**old.multiclass, **new.multiclass}
    sources = {**old.sources, **new.sources}
    runs = []
    for run in old.runs:
        left = [c for c in run["datasets"] if c not in redo]
        if left:
            runs.append({**run, "datasets": left})
    return ReportData(
        runs=runs + new.runs,
        benches=benches,
        multiclass={b.key: multi[b.key] for b in benches if b.key in multi},
        sources={b.protocol: sources[b.protocol] for b in benches if b.protocol in sources},
        missing=[m for m in old.missing if _choice_of(m) not in redo] + new.missing,
        smoke=new.smoke,
    )


def load_report_data(path: Path) -> ReportData:
    """Read an evaluation.json written by ``hamad report`` (layout :data:`FORMAT`)."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputFormatError(
            f"{path}: no report to update; run `hamad report` without --update first"
        ) from None
    except (OSError, ValueError) as exc:
        raise InputFormatError(f"{path}: cannot read it as JSON ({exc})") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise InputFormatError(
            f"{path}: not an evaluation.json of format {FORMAT} (written by an older `hamad "
            "report`?); regenerate the report in full (without --update)"
        )
    return ReportData(
        runs=list(raw["runs"]),
        benches=[ProtocolResult.from_dict(b) for b in raw["benchmarks"]],
        multiclass=dict(raw["multiclass"]),
        sources=dict(raw["sources"]),
        missing=list(raw["missing"]),
        smoke=bool(raw["smoke"]),
    )


def jsonable(o: Any) -> Any:
    """Plain JSON types (numpy scalars/arrays and paths converted, non-finite -> null)."""
    if isinstance(o, dict):
        return {str(k): jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [jsonable(v) for v in o]
    if isinstance(o, np.generic):
        return jsonable(o.item())
    if isinstance(o, np.ndarray):
        return jsonable(o.tolist())
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, float) and not np.isfinite(o):
        return None
    return o
