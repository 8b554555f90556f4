"""NSL-KDD loader (Tavallaee et al., 2009): KDDTrain+, KDDTest+, KDDTest-21, 20 % subset.

Format: headerless CSV with 43 columns = 41 features (names below, same order
as the dataset's ``Field Names.csv``), the attack name (``normal`` for
benign) and the difficulty level 0-21. The difficulty column is dropped:
it was computed from how many of 21 reference learners got the record
right, so it would leak the answer.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ...errors import InputFormatError
from .common import RawTable, find_file, parse_numeric, read_lines, source_entry

FEATURES: tuple[str, ...] = (
    "duration", "protocol_type", "service", "flag", "src_bytes", "dst_bytes", "land",
    "wrong_fragment", "urgent", "hot", "num_failed_logins", "logged_in", "num_compromised",
    "root_shell", "su_attempted", "num_root", "num_file_creations", "num_shells",
    "num_access_files", "num_outbound_cmds", "is_host_login", "is_guest_login", "count",
    "srv_count", "serror_rate", "srv_serror_rate", "rerror_rate", "srv_rerror_rate",
    "same_srv_rate", "diff_srv_rate", "srv_diff_host_rate", "dst_host_count",
    "dst_host_srv_count", "dst_host_same_srv_rate", "dst_host_diff_srv_rate",
    "dst_host_same_src_port_rate", "dst_host_srv_diff_host_rate", "dst_host_serror_rate",
    "dst_host_srv_serror_rate", "dst_host_rerror_rate", "dst_host_srv_rerror_rate",
)  # fmt: skip
CATEGORICAL: tuple[str, ...] = ("protocol_type", "service", "flag")

#: The released files, by split name.
FILES: dict[str, str] = {
    "train": "KDDTrain+.txt",
    "test": "KDDTest+.txt",
    "test21": "KDDTest-21.txt",
    "train20": "KDDTrain+_20Percent.txt",
}

#: Attack -> category for the attacks ``Attack Types.csv`` covers, plus the
#: test-only attacks it lacks, mapped as in Tavallaee et al. / the usual
#: NSL-KDD literature (worm counted as dos, httptunnel as u2r).
CATEGORIES: dict[str, str] = {
    "normal": "normal",
    # dos
    "back": "dos", "land": "dos", "neptune": "dos", "pod": "dos", "smurf": "dos",
    "teardrop": "dos", "apache2": "dos", "mailbomb": "dos", "processtable": "dos",
    "udpstorm": "dos", "worm": "dos",
    # probe
    "ipsweep": "probe", "nmap": "probe", "portsweep": "probe", "satan": "probe",
    "mscan": "probe", "saint": "probe",
    # r2l
    "ftp_write": "r2l", "guess_passwd": "r2l", "imap": "r2l", "multihop": "r2l",
    "phf": "r2l", "spy": "r2l", "warezclient": "r2l", "warezmaster": "r2l",
    "named": "r2l", "sendmail": "r2l", "snmpgetattack": "r2l", "snmpguess": "r2l",
    "xlock": "r2l", "xsnoop": "r2l",
    # u2r
    "buffer_overflow": "u2r", "loadmodule": "u2r", "perl": "u2r", "rootkit": "u2r",
    "httptunnel": "u2r", "ps": "u2r", "sqlattack": "u2r", "xterm": "u2r",
}  # fmt: skip
CLASS_NAMES: tuple[str, ...] = ("normal", "dos", "probe", "r2l", "u2r")


def load_attack_map(directory: Path) -> dict[str, str]:
    """Built-in map, overridden by ``attack_types.csv`` in ``directory`` if present."""
    mapping = dict(CATEGORIES)
    p = directory / "attack_types.csv"
    if p.is_file():
        for lineno, line in enumerate(p.read_text().splitlines(), 1):
            parts = [x.strip() for x in line.split(",")]
            if len(parts) != 2 or not parts[0]:
                raise InputFormatError(f"{p}: line {lineno}: expected 'attack,category'")
            if parts[1] in CLASS_NAMES:
                mapping[parts[0]] = parts[1]
    return mapping


def read_nsl_kdd_file(path: Path, attack_map: dict[str, str] | None = None) -> RawTable:
    """Parse one NSL-KDD file into a :class:`RawTable` (y=1 for any attack)."""
    amap = attack_map if attack_map is not None else CATEGORIES
    lines = [ln for ln in read_lines(path) if ln.strip()]
    if not lines:
        raise InputFormatError(f"{path}: empty; expected NSL-KDD rows (43 comma-separated columns)")
    rows = list(csv.reader(lines))
    for lineno, r in enumerate(rows, 1):
        if len(r) != 43:
            raise InputFormatError(
                f"{path}: line {lineno} has {len(r)} columns; expected 43 "
                "(41 NSL-KDD features, label, difficulty) - is this an NSL-KDD .txt file?"
            )
    labels = np.asarray([r[41].strip().lower() for r in rows])
    unknown = sorted(set(labels.tolist()) - set(amap))
    if unknown:
        raise InputFormatError(
            f"{path}: unknown label(s) {unknown[:5]}; expected 'normal' or an NSL-KDD attack name"
        )
    num_idx = [i for i, n in enumerate(FEATURES) if n not in CATEGORICAL]
    cat_idx = [FEATURES.index(n) for n in CATEGORICAL]
    numeric = parse_numeric(rows, num_idx, path, [FEATURES[i] for i in num_idx])
    categorical = np.asarray([[r[i].strip() for i in cat_idx] for r in rows])
    category = np.asarray([amap[lab] for lab in labels])
    table = RawTable(
        name=path.name,
        numeric=numeric,
        numeric_names=[FEATURES[i] for i in num_idx],
        categorical=categorical,
        categorical_names=list(CATEGORICAL),
        y=(labels != "normal").astype(np.int64),
        category=category,
        groups=np.full(len(rows), path.name),
    )
    table.sources = [source_entry(path, len(rows), table)]
    return table


def load_nsl_kdd(directory: str | Path, split: str) -> RawTable:
    """Load split ``train``/``test``/``test21``/``train20`` from ``directory``."""
    if split not in FILES:
        raise InputFormatError(f"unknown NSL-KDD split {split!r}; expected one of {sorted(FILES)}")
    d = Path(directory)
    path = find_file(d, FILES[split], f"the NSL-KDD {split} file")
    return read_nsl_kdd_file(path, load_attack_map(d))
