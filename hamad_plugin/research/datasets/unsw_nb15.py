"""UNSW-NB15 loader (Moustafa & Slay, 2015): the official train/test partition CSVs.

Each partition CSV has 45 columns: ``id``, 42 features, ``attack_cat``,
``label``. ``id`` is dropped (a row counter, it encodes file order and so
the class blocks). Many mirrors swap the two file names, so partitions are
identified by *row count* when it is one of the official ones, and a
mismatch is reported instead of silently trusted.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ...errors import InputFormatError
from .common import RawTable, find_file, parse_numeric, read_lines, source_entry

COLUMNS: tuple[str, ...] = (
    "id", "dur", "proto", "service", "state", "spkts", "dpkts", "sbytes", "dbytes", "rate",
    "sttl", "dttl", "sload", "dload", "sloss", "dloss", "sinpkt", "dinpkt", "sjit", "djit",
    "swin", "stcpb", "dtcpb", "dwin", "tcprtt", "synack", "ackdat", "smean", "dmean",
    "trans_depth", "response_body_len", "ct_srv_src", "ct_state_ttl", "ct_dst_ltm",
    "ct_src_dport_ltm", "ct_dst_sport_ltm", "ct_dst_src_ltm", "is_ftp_login", "ct_ftp_cmd",
    "ct_flw_http_mthd", "ct_src_ltm", "ct_srv_dst", "is_sm_ips_ports", "attack_cat", "label",
)  # fmt: skip
CATEGORICAL: tuple[str, ...] = ("proto", "service", "state")
DROPPED: tuple[str, ...] = ("id", "attack_cat", "label")
FILES: dict[str, str] = {
    "train": "UNSW_NB15_training-set.csv",
    "test": "UNSW_NB15_testing-set.csv",
}
#: Official partition sizes (the train file has 175,341 rows, the test file 82,332).
OFFICIAL_ROWS: dict[str, int] = {"train": 175_341, "test": 82_332}
CLASS_NAMES: tuple[str, ...] = (
    "normal", "generic", "exploits", "fuzzers", "dos", "reconnaissance", "analysis",
    "backdoor", "shellcode", "worms",
)  # fmt: skip


def _norm_cat(value: str) -> str:
    v = value.strip().lower()
    return "backdoor" if v == "backdoors" else v


def read_unsw_file(path: Path) -> RawTable:
    """Parse one UNSW-NB15 partition CSV; validates header, labels and attack_cat."""
    lines = read_lines(path, encoding="utf-8-sig")
    if not lines:
        raise InputFormatError(f"{path}: empty; expected the UNSW-NB15 partition CSV header")
    header = [h.strip().lower() for h in next(csv.reader([lines[0]]))]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise InputFormatError(
            f"{path}: missing column(s) {missing[:6]}; expected the 45-column UNSW-NB15 "
            "partition CSV (id, 42 features, attack_cat, label)"
        )
    rows = [r for r in csv.reader(lines[1:]) if r]
    for lineno, r in enumerate(rows, 2):
        if len(r) != len(header):
            raise InputFormatError(
                f"{path}: line {lineno} has {len(r)} fields; the header has {len(header)}"
            )
    pos = {c: header.index(c) for c in COLUMNS}
    lab = [r[pos["label"]].strip() for r in rows]
    bad = sorted(set(lab) - {"0", "1"})
    if bad:
        raise InputFormatError(f"{path}: column 'label' has {bad[:5]}; expected 0 or 1")
    y = np.asarray([int(v) for v in lab], dtype=np.int64)
    cats = np.asarray([_norm_cat(r[pos["attack_cat"]]) for r in rows])
    unknown = sorted(set(cats.tolist()) - set(CLASS_NAMES))
    if unknown:
        raise InputFormatError(
            f"{path}: column 'attack_cat' has unknown value(s) {unknown[:5]}; "
            f"expected one of {list(CLASS_NAMES)}"
        )
    inconsistent = int(np.sum((cats == "normal") != (y == 0)))
    if inconsistent:
        raise InputFormatError(
            f"{path}: {inconsistent} rows where attack_cat and label disagree "
            "(expected attack_cat 'Normal' exactly when label is 0)"
        )
    num_names = [c for c in COLUMNS if c not in CATEGORICAL and c not in DROPPED]
    numeric = parse_numeric(rows, [pos[c] for c in num_names], path, num_names)
    categorical = np.asarray([[r[pos[c]].strip().lower() for c in CATEGORICAL] for r in rows])
    table = RawTable(
        name=path.name,
        numeric=numeric,
        numeric_names=num_names,
        categorical=categorical,
        categorical_names=list(CATEGORICAL),
        y=y,
        category=cats,
        groups=np.full(len(rows), path.name),
    )
    table.sources = [source_entry(path, len(rows), table)]
    return table


def partition_role(table: RawTable) -> str | None:
    """'train'/'test' if the row count is an official partition size, else None."""
    for role, n in OFFICIAL_ROWS.items():
        if len(table) == n:
            return role
    return None


def load_unsw_nb15(directory: str | Path, split: str) -> RawTable:
    """Load partition ``train`` or ``test`` from ``directory``."""
    if split not in FILES:
        raise InputFormatError(
            f"unknown UNSW-NB15 split {split!r}; expected one of {sorted(FILES)}"
        )
    path = find_file(Path(directory), FILES[split], f"the UNSW-NB15 {split}ing partition CSV")
    return read_unsw_file(path)


def available_unsw_splits(directory: str | Path) -> list[str]:
    """Which partitions exist in ``directory`` (file present under its documented name)."""
    out = []
    for split, name in FILES.items():
        try:
            find_file(Path(directory), name, "")
        except InputFormatError:
            continue
        out.append(split)
    return out
