"""Labelled Zeek conn logs (IoT-23 ``conn.log.labeled``, Stratosphere labelled logs).

Rows are turned into HAMAD's own streaming features with the same code the
worker runs (:func:`hamad_plugin.offline.ingest.read_conn_log` +
:class:`hamad_plugin.core.features.FeatureExtractor`), one extractor per capture,
fed in the order Zeek logged the connections (the order the live worker
receives them), so evaluation sees exactly what live scoring would see.

Labels: ``Malicious`` -> 1, ``Benign``/``benign`` -> 0; ``Background`` (and
anything unlabelled) is excluded from the returned rows *after* feature
extraction, because that traffic still happened and shapes the windows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...core.features import FeatureConfig, feature_names
from ...errors import InputFormatError
from ...offline.captures import UnlabelledCaptureError, capture_name, load_capture
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
    """Features + labels of one labelled capture (Background/unlabelled rows dropped).

    Features come from :func:`hamad_plugin.offline.captures.load_capture`, the same code
    ``hamad train`` uses: one fresh extractor, connections in the order Zeek
    logged them (the order the live worker receives them).
    """
    config = FeatureConfig() if scales is None else FeatureConfig(scales=tuple(scales))
    try:
        cap = load_capture(path, config)
    except UnlabelledCaptureError as exc:
        raise InputFormatError(
            f"{path}: no Benign/Malicious labels; expected a 'label' column as in IoT-23 or "
            "Stratosphere labelled conn logs"
        ) from exc
    detail = [
        "benign" if lab == 0 else (d.strip() if d.strip() not in ("", "-") else "malicious")
        for d, lab in zip(cap.detail, cap.y.tolist(), strict=True)
    ]
    name = group or capture_name(path)
    n = len(cap.y)
    table = RawTable(
        name=name,
        numeric=cap.X.astype(np.float64),
        numeric_names=feature_names(config),
        categorical=np.empty((n, 0), dtype="<U1"),
        categorical_names=[],
        y=cap.y,
        category=np.asarray(detail),
        groups=np.full(n, name),
    )
    entry = source_entry(path, cap.rows, table)
    entry.update(
        {
            "capture": name,
            "excluded_unlabelled_rows": int(cap.rows - n),
            "malformed_lines_skipped": cap.bad_lines,
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
