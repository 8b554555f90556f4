"""CICIDS2017 loader for the published ``MachineLearningCVE`` CSVs (Sharafaldin et al., 2018).

Expected files (any subset, optionally ``.xz``/``.gz``/``.bz2``), as distributed
in ``MachineLearningCSV.zip`` by the Canadian Institute for Cybersecurity:

- ``Monday-WorkingHours.pcap_ISCX.csv``
- ``Tuesday-WorkingHours.pcap_ISCX.csv``
- ``Wednesday-workingHours.pcap_ISCX.csv``
- ``Thursday-WorkingHours-Morning-WebAttacks.pcap_ISCX.csv``
- ``Thursday-WorkingHours-Afternoon-Infilteration.pcap_ISCX.csv``
- ``Friday-WorkingHours-Morning.pcap_ISCX.csv``
- ``Friday-WorkingHours-Afternoon-PortScan.pcap_ISCX.csv``
- ``Friday-WorkingHours-Afternoon-DDos.pcap_ISCX.csv``

Each has 78 CICFlowMeter features + ``Label``; header names carry leading
spaces and ``Fwd Header Length`` appears twice (the second copy is named
``Fwd Header Length.1`` here, as pandas does). ``Flow Bytes/s`` and
``Flow Packets/s`` contain ``NaN``/``Infinity``: those rows are dropped and
counted (the common practice; they are ~0.1 % of rows). The web-attack labels
contain a cp1252 en dash, so files are read as cp1252.

No CICIDS2017 data is available in this project; the loader is tested on a
synthetic file with the real header only.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from ..errors import InputFormatError
from .common import RawTable, concat_tables, find_file, read_lines, source_entry

FILES: tuple[str, ...] = (
    "Monday-WorkingHours.pcap_ISCX.csv",
    "Tuesday-WorkingHours.pcap_ISCX.csv",
    "Wednesday-workingHours.pcap_ISCX.csv",
    "Thursday-WorkingHours-Morning-WebAttacks.pcap_ISCX.csv",
    "Thursday-WorkingHours-Afternoon-Infilteration.pcap_ISCX.csv",
    "Friday-WorkingHours-Morning.pcap_ISCX.csv",
    "Friday-WorkingHours-Afternoon-PortScan.pcap_ISCX.csv",
    "Friday-WorkingHours-Afternoon-DDos.pcap_ISCX.csv",
)

FEATURES: tuple[str, ...] = (
    "Destination Port", "Flow Duration", "Total Fwd Packets", "Total Backward Packets",
    "Total Length of Fwd Packets", "Total Length of Bwd Packets", "Fwd Packet Length Max",
    "Fwd Packet Length Min", "Fwd Packet Length Mean", "Fwd Packet Length Std",
    "Bwd Packet Length Max", "Bwd Packet Length Min", "Bwd Packet Length Mean",
    "Bwd Packet Length Std", "Flow Bytes/s", "Flow Packets/s", "Flow IAT Mean", "Flow IAT Std",
    "Flow IAT Max", "Flow IAT Min", "Fwd IAT Total", "Fwd IAT Mean", "Fwd IAT Std",
    "Fwd IAT Max", "Fwd IAT Min", "Bwd IAT Total", "Bwd IAT Mean", "Bwd IAT Std", "Bwd IAT Max",
    "Bwd IAT Min", "Fwd PSH Flags", "Bwd PSH Flags", "Fwd URG Flags", "Bwd URG Flags",
    "Fwd Header Length", "Bwd Header Length", "Fwd Packets/s", "Bwd Packets/s",
    "Min Packet Length", "Max Packet Length", "Packet Length Mean", "Packet Length Std",
    "Packet Length Variance", "FIN Flag Count", "SYN Flag Count", "RST Flag Count",
    "PSH Flag Count", "ACK Flag Count", "URG Flag Count", "CWE Flag Count", "ECE Flag Count",
    "Down/Up Ratio", "Average Packet Size", "Avg Fwd Segment Size", "Avg Bwd Segment Size",
    "Fwd Header Length.1", "Fwd Avg Bytes/Bulk", "Fwd Avg Packets/Bulk", "Fwd Avg Bulk Rate",
    "Bwd Avg Bytes/Bulk", "Bwd Avg Packets/Bulk", "Bwd Avg Bulk Rate", "Subflow Fwd Packets",
    "Subflow Fwd Bytes", "Subflow Bwd Packets", "Subflow Bwd Bytes", "Init_Win_bytes_forward",
    "Init_Win_bytes_backward", "act_data_pkt_fwd", "min_seg_size_forward", "Active Mean",
    "Active Std", "Active Max", "Active Min", "Idle Mean", "Idle Std", "Idle Max", "Idle Min",
)  # fmt: skip
LABEL = "Label"

#: Label -> coarse family for the multi-class view.
FAMILIES: dict[str, str] = {
    "benign": "normal",
    "ddos": "dos", "dos hulk": "dos", "dos goldeneye": "dos", "dos slowloris": "dos",
    "dos slowhttptest": "dos", "heartbleed": "dos",
    "portscan": "portscan",
    "ftp-patator": "bruteforce", "ssh-patator": "bruteforce",
    "web attack - brute force": "webattack", "web attack - xss": "webattack",
    "web attack - sql injection": "webattack",
    "bot": "bot", "infiltration": "infiltration",
}  # fmt: skip


def _clean_header(raw: list[str]) -> list[str]:
    """Strip names and rename repeated ones ``name.1``, ``name.2`` (pandas' convention)."""
    seen: dict[str, int] = {}
    out = []
    for h in raw:
        name = h.strip()
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


def _norm_label(value: str) -> str:
    v = value.strip().lower()
    for dash in ("\u2013", "\ufffd", "\x96"):
        v = v.replace(dash, "-")
    return " ".join(v.split())


def read_cicids_file(path: Path) -> RawTable:
    """Parse one MachineLearningCVE CSV; drops rows with NaN/Infinity and records how many."""
    lines = read_lines(path, encoding="cp1252")
    if not lines:
        raise InputFormatError(f"{path}: empty; expected a CICIDS2017 MachineLearningCVE CSV")
    header = _clean_header(next(csv.reader([lines[0]])))
    missing = [c for c in (*FEATURES, LABEL) if c not in header]
    if missing:
        raise InputFormatError(
            f"{path}: missing column(s) {missing[:5]}; expected the 78 CICFlowMeter features "
            "and 'Label' of the CICIDS2017 MachineLearningCVE CSVs"
        )
    pos = [header.index(c) for c in FEATURES]
    lpos = header.index(LABEL)
    values: list[list[float]] = []
    labels: list[str] = []
    dropped = 0
    for lineno, r in enumerate(csv.reader(lines[1:]), 2):
        if not r:
            continue
        if len(r) != len(header):
            raise InputFormatError(
                f"{path}: line {lineno} has {len(r)} fields, header {len(header)}"
            )
        try:
            vals = [float(r[i]) for i in pos]
        except ValueError as exc:
            raise InputFormatError(f"{path}: line {lineno}: non-numeric feature ({exc})") from exc
        if not all(math.isfinite(v) for v in vals):
            dropped += 1
            continue
        lab = _norm_label(r[lpos])
        if lab not in FAMILIES:
            raise InputFormatError(
                f"{path}: line {lineno}: unknown Label {r[lpos]!r}; expected BENIGN or one of "
                "the CICIDS2017 attack labels"
            )
        values.append(vals)
        labels.append(lab)
    lab_arr = np.asarray(labels)
    n = len(labels)
    table = RawTable(
        name=path.name,
        numeric=np.asarray(values, dtype=np.float64).reshape(n, len(FEATURES)),
        numeric_names=list(FEATURES),
        categorical=np.empty((n, 0), dtype="<U1"),
        categorical_names=[],
        y=(lab_arr != "benign").astype(np.int64),
        category=np.asarray([FAMILIES[v] for v in labels]) if n else np.empty(0, dtype="<U1"),
        groups=np.full(n, path.name),
    )
    entry = source_entry(path, n, table)
    entry["dropped_non_finite_rows"] = dropped
    table.sources = [entry]
    return table


def load_cicids2017(directory: str | Path) -> RawTable:
    """All MachineLearningCVE day files present in ``directory`` (at least one required)."""
    d = Path(directory)
    if not d.is_dir():
        raise InputFormatError(f"{d}: not a directory; expected the MachineLearningCVE folder")
    tables = []
    for name in FILES:
        try:
            path = find_file(d, name, "")
        except InputFormatError:
            continue
        tables.append(read_cicids_file(path))
    if not tables:
        raise InputFormatError(
            f"{d}: no CICIDS2017 MachineLearningCVE CSV found; expected file names like "
            f"{FILES[0]!r} ... {FILES[-1]!r} (see hamad_plugin/datasets/cicids2017.py)"
        )
    return concat_tables(tables, "cicids2017")
