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

Rows keep the label (``category``, e.g. ``DoS Hulk``) and its attack family
(``family``, e.g. ``DoS``; see :data:`LABELS`). The reader is shared with the
corrected re-release (:mod:`.cicids2017_improved`) through a :class:`FlowLayout`.

The original 2017 CSVs are not in this project's data (the corrected re-release
is); this layout is tested on a synthetic file with the real header only.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import InputFormatError
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

#: Normalised label -> (label as reported, attack family), for the spellings of both the
#: 2017 CSVs and the corrected re-release (``cicids2017_improved``). Families group labels
#: by attack *behaviour*, so holding a family out of training leaves nothing like it in:
#: "Infiltration - Portscan" (the scan run from the infiltrated host) is a port scan,
#: while "Infiltration" (the foothold traffic itself) is its own family.
LABELS: dict[str, tuple[str, str]] = {
    "benign": ("BENIGN", "BENIGN"),
    "dos hulk": ("DoS Hulk", "DoS"),
    "dos goldeneye": ("DoS GoldenEye", "DoS"),
    "dos slowloris": ("DoS Slowloris", "DoS"),
    "dos slowhttptest": ("DoS Slowhttptest", "DoS"),
    "ddos": ("DDoS", "DDoS"),
    "portscan": ("Portscan", "PortScan"),
    "infiltration - portscan": ("Infiltration - Portscan", "PortScan"),
    "ftp-patator": ("FTP-Patator", "Brute Force"),
    "ssh-patator": ("SSH-Patator", "Brute Force"),
    "web attack - brute force": ("Web Attack - Brute Force", "Web Attack"),
    "web attack - xss": ("Web Attack - XSS", "Web Attack"),
    "web attack - sql injection": ("Web Attack - SQL Injection", "Web Attack"),
    "bot": ("Botnet", "Botnet"),
    "botnet": ("Botnet", "Botnet"),
    "infiltration": ("Infiltration", "Infiltration"),
    "heartbleed": ("Heartbleed", "Heartbleed"),
}
BENIGN = "BENIGN"
#: Families in report order (benign first).
FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(fam for _, fam in LABELS.values()))
#: Labels in report order: by family, then as listed above.
LABEL_ORDER: tuple[str, ...] = tuple(
    dict.fromkeys(lab for fam in FAMILIES for lab, f in LABELS.values() if f == fam)
)


def family_of(label: str) -> str:
    """Attack family of a CICIDS2017 label in either release's spelling (KeyError if unknown)."""
    return LABELS[_norm_label(label)][1]


@dataclass(frozen=True)
class FlowLayout:
    """How one CICFlowMeter CSV layout maps onto table columns.

    Why a layout object: the 2017 CSVs and the corrected re-release hold the same
    flow features under slightly different names; one reader with a per-release
    map keeps the parsing, checks and label handling in one place, and the table
    columns carry the 2017 names whatever the release.
    """

    release: str
    #: (header in the file, column name in the table), numeric features.
    numeric: tuple[tuple[str, str], ...]
    #: (header in the file, column name in the table), one-hot encoded later.
    categorical: tuple[tuple[str, str], ...] = ()
    encoding: str = "utf-8"
    #: Headers deliberately not used as features, with the reason (recorded in the manifest).
    dropped: tuple[tuple[str, str], ...] = ()


#: The 2017 MachineLearningCVE CSVs: 78 features + Label, cp1252 (the en dash of the web attacks).
MLCVE_LAYOUT = FlowLayout(
    release="CICIDS2017 MachineLearningCVE CSVs (Sharafaldin et al., 2018)",
    numeric=tuple((f, f) for f in FEATURES),
    encoding="cp1252",
)


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


def read_flow_csv(path: Path, layout: FlowLayout) -> RawTable:
    """Parse one CICFlowMeter CSV of ``layout``; drops rows with NaN/Infinity and counts them."""
    lines = read_lines(path, encoding=layout.encoding)
    if not lines:
        raise InputFormatError(f"{path}: empty; expected a CSV of the {layout.release}")
    header = _clean_header(next(csv.reader([lines[0]])))
    wanted = [h for h, _ in (*layout.numeric, *layout.categorical)]
    missing = [c for c in (*wanted, LABEL) if c not in header]
    if missing:
        raise InputFormatError(
            f"{path}: missing column(s) {missing[:5]}; expected the {len(layout.numeric)} "
            f"CICFlowMeter features and 'Label' of the {layout.release}"
        )
    pos = [header.index(h) for h, _ in layout.numeric]
    cpos = [header.index(h) for h, _ in layout.categorical]
    lpos = header.index(LABEL)
    values: list[list[float]] = []
    cats: list[list[str]] = []
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
        if lab not in LABELS:
            raise InputFormatError(
                f"{path}: line {lineno}: unknown Label {r[lpos]!r}; expected BENIGN or one of "
                f"the CICIDS2017 attack labels {list(LABEL_ORDER[1:])} (the corrected "
                "release's '... - Attempted' labels are not mapped: decide first whether "
                "an attempted attack counts as an attack)"
            )
        values.append(vals)
        cats.append([r[i].strip() for i in cpos])
        labels.append(lab)
    n = len(labels)
    table = RawTable(
        name=path.name,
        numeric=np.asarray(values, dtype=np.float64).reshape(n, len(layout.numeric)),
        numeric_names=[name for _, name in layout.numeric],
        categorical=np.asarray(cats, dtype=np.str_).reshape(n, len(layout.categorical)),
        categorical_names=[name for _, name in layout.categorical],
        y=np.asarray([lab != "benign" for lab in labels], dtype=np.int64),
        category=np.asarray([LABELS[v][0] for v in labels], dtype=np.str_),
        groups=np.full(n, path.name),
        family=np.asarray([LABELS[v][1] for v in labels], dtype=np.str_),
    )
    entry = source_entry(path, n, table)
    entry["release"] = layout.release
    entry["dropped_non_finite_rows"] = dropped
    if layout.dropped:
        entry["dropped_columns"] = dict(layout.dropped)
    used = {*wanted, LABEL, *(h for h, _ in layout.dropped)}
    ignored = [h for h in header if h not in used]
    if ignored:
        entry["ignored_columns"] = ignored
    table.sources = [entry]
    return table


def read_cicids_file(path: Path) -> RawTable:
    """Parse one MachineLearningCVE CSV (see :data:`MLCVE_LAYOUT`)."""
    return read_flow_csv(path, MLCVE_LAYOUT)


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
