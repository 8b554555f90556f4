"""Labelled Zeek conn logs (IoT-23 ``conn.log.labeled``, Stratosphere labelled logs).

Rows are turned into HAMAD's own streaming features with the same code the
worker runs (:func:`hamad_plugin.ingest.read_conn_log` +
:class:`hamad_plugin.features.FeatureExtractor`), one extractor per capture,
fed in connection-end order (``ts + duration``, the order Zeek logs them), so
evaluation sees exactly what live scoring would see.

Labels: ``Malicious`` -> 1, ``Benign``/``benign`` -> 0; ``Background`` (and
anything unlabelled) is excluded from the returned rows *after* feature
extraction, because that traffic still happened and shapes the windows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import InputFormatError
from .common import RawTable, source_entry

#: The labelled captures of the shared data, by group name -> path relative to the data root.
KNOWN_CAPTURES: dict[str, str] = {
    "iot23-34-1": "iot23/CTU-IoT-Malware-Capture-34-1/conn.log.labeled.xz",
    "iot23-4-1": "iot23/CTU-Honeypot-Capture-4-1/conn.log.labeled.xz",
    "iot23-5-1": "iot23/CTU-Honeypot-Capture-5-1/conn.log.labeled.xz",
    "strat-001": (
        "stratosphere-labeled-zeek/001-njrat-ctu-botnet-230-1.first1000.conn.log.labeled.xz"
    ),
    "strat-008": "stratosphere-labeled-zeek/008-ctu-normal-40-day1.conn.log.labeled.xz",
    "strat-010": "stratosphere-labeled-zeek/010-ctu-normal-42-day2.conn.log.labeled.xz",
}

_LABELED_RE = re.compile(r"conn\.log\.labeled(\.(xz|gz|bz2))?$|\.labeled(\.(xz|gz|bz2))?$")


def capture_name(path: Path) -> str:
    """Group name of a capture: its folder for ``conn.log.labeled``, else its file stem."""
    if path.name.startswith("conn.log"):
        return path.parent.name
    return path.name.split(".")[0]


def find_labeled_logs(directory: str | Path) -> list[Path]:
    """All ``*.labeled[.xz|.gz|.bz2]`` conn logs under ``directory`` (sorted)."""
    d = Path(directory)
    if not d.is_dir():
        raise InputFormatError(f"{d}: not a directory; expected a folder of labelled conn logs")
    files = sorted(p for p in d.rglob("*") if p.is_file() and _LABELED_RE.search(p.name))
    if not files:
        raise InputFormatError(
            f"{d}: no labelled conn logs found; expected files named 'conn.log.labeled' "
            "(IoT-23, one folder per capture) or '*.conn.log.labeled', optionally .xz/.gz/.bz2"
        )
    return files


def read_labeled_conn_log(
    path: Path, group: str | None = None, scales: Sequence[float] | None = None
) -> RawTable:
    """Features + labels of one labelled capture (Background/unlabelled rows dropped)."""
    from ..features import FeatureConfig, FeatureExtractor
    from ..ingest import read_conn_log

    reader = read_conn_log(path)
    records = list(reader)
    if not records:
        raise InputFormatError(f"{path}: no connection records; expected a labelled Zeek conn log")
    labels = [r.is_malicious for r in records]
    if all(lab is None for lab in labels):
        raise InputFormatError(
            f"{path}: no Benign/Malicious labels; expected a 'label' column as in IoT-23 or "
            "Stratosphere labelled conn logs"
        )
    order = sorted(range(len(records)), key=lambda i: records[i].end_ts)
    config = FeatureConfig() if scales is None else FeatureConfig(scales=tuple(scales))
    fx = FeatureExtractor(config)
    X = fx.transform(records[i] for i in order)
    keep = np.asarray([labels[i] is not None for i in order])
    y = np.asarray([1 if labels[i] else 0 for i in order], dtype=np.int64)[keep]
    detail = []
    for i in order:
        if labels[i] is None:
            continue
        d = (records[i].detailed_label or "").strip()
        detail.append("benign" if not labels[i] else (d if d and d != "-" else "malicious"))
    name = group or capture_name(path)
    n = int(keep.sum())
    table = RawTable(
        name=name,
        numeric=X[keep].astype(np.float64),
        numeric_names=list(fx.feature_names),
        categorical=np.empty((n, 0), dtype="<U1"),
        categorical_names=[],
        y=y,
        category=np.asarray(detail) if n else np.empty(0, dtype="<U1"),
        groups=np.full(n, name),
    )
    entry = source_entry(path, len(records), table)
    entry.update(
        {
            "capture": name,
            "excluded_unlabelled_rows": int(len(records) - n),
            "malformed_lines_skipped": reader.stats.bad_lines,
        }
    )
    table.sources = [entry]
    return table


def load_known_captures(
    root: str | Path,
    scales: Sequence[float] | None = None,
    captures: Sequence[str] | None = None,
) -> list[RawTable]:
    """The labelled captures of the shared data root (IoT-23 + Stratosphere), one table each."""
    r = Path(root)
    names = list(captures) if captures is not None else list(KNOWN_CAPTURES)
    out = []
    for name in names:
        if name not in KNOWN_CAPTURES:
            raise InputFormatError(
                f"unknown capture {name!r}; expected one of {list(KNOWN_CAPTURES)}"
            )
        p = r / KNOWN_CAPTURES[name]
        if not p.is_file():
            raise InputFormatError(
                f"{p}: missing; expected the labelled conn log of capture {name}"
            )
        out.append(read_labeled_conn_log(p, name, scales))
    return out


def load_conn_dir(directory: str | Path, scales: Sequence[float] | None = None) -> list[RawTable]:
    """Every labelled conn log under ``directory``, one table (= one group) per capture."""
    return [read_labeled_conn_log(p, None, scales) for p in find_labeled_logs(directory)]
