"""Tiny synthetic copies of the public dataset formats, for tests that must run anywhere.

Each writer reproduces the real file layout (column names/order, compression,
quirks such as UNSW's BOM, CICIDS2017's leading spaces and duplicated column,
IoT-23's three-space label join) with a learnable signal, so the whole
evaluation code path runs in seconds without the shared datasets.
"""

from __future__ import annotations

import lzma
from pathlib import Path

import numpy as np

from hamad_plugin.research.datasets.cicids2017 import FEATURES as CIC_FEATURES
from hamad_plugin.research.datasets.nsl_kdd import FEATURES as NSL_FEATURES
from hamad_plugin.research.datasets.unsw_nb15 import COLUMNS as UNSW_COLUMNS
from hamad_plugin.research.datasets.zeek_conn import KNOWN_CAPTURES


def _write(path: Path, text: str, xz: bool, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode(encoding)
    if xz:
        path = path.with_name(path.name + ".xz")
        path.write_bytes(lzma.compress(data))
    else:
        path.write_bytes(data)
    return path


def nsl_rows(n: int, seed: int, attacks: tuple[str, ...]) -> str:
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        label = "normal" if i % 2 == 0 else attacks[i % len(attacks)]
        atk = label != "normal"
        vals: list[str] = []
        for name in NSL_FEATURES:
            if name == "protocol_type":
                vals.append(["tcp", "udp", "icmp"][int(rng.integers(3))])
            elif name == "service":
                vals.append(["http", "private", "ftp_data", "smtp"][int(rng.integers(4))])
            elif name == "flag":
                vals.append("S0" if atk and rng.random() < 0.7 else "SF")
            elif name in ("count", "serror_rate"):
                vals.append(f"{rng.random() * (5 if atk else 1) + (3 if atk else 0):.2f}")
            else:
                vals.append(str(int(rng.integers(0, 3))))
        lines.append(",".join([*vals, label, str(int(rng.integers(0, 22)))]))
    return "\n".join(lines) + "\n"


def write_nsl_kdd(directory: Path, n: int = 300, xz: bool = True) -> Path:
    """KDDTrain+/KDDTest+/KDDTest-21 (+attack_types.csv); test files hold a test-only attack."""
    directory.mkdir(parents=True, exist_ok=True)
    _write(directory / "KDDTrain+.txt", nsl_rows(n, 1, ("neptune", "satan", "guess_passwd")), xz)
    _write(directory / "KDDTest+.txt", nsl_rows(n // 2, 2, ("neptune", "mscan", "apache2")), xz)
    _write(directory / "KDDTest-21.txt", nsl_rows(n // 3, 3, ("mscan", "snmpguess")), xz)
    (directory / "attack_types.csv").write_text("neptune,dos\nsatan,probe\nguess_passwd,r2l\n")
    return directory


def unsw_text(n: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    cats = ["Generic", "Exploits", "Fuzzers", "DoS", "Reconnaissance"]
    lines = [",".join(UNSW_COLUMNS)]
    for i in range(n):
        atk = i % 3 != 0
        cat = cats[i % len(cats)] if atk else "Normal"
        row: list[str] = []
        for c in UNSW_COLUMNS:
            if c == "id":
                row.append(str(i + 1))
            elif c == "proto":
                row.append(["tcp", "udp", "arp"][int(rng.integers(3))])
            elif c == "service":
                row.append(["-", "http", "dns"][int(rng.integers(3))])
            elif c == "state":
                row.append("INT" if atk else "FIN")
            elif c == "attack_cat":
                row.append(cat)
            elif c == "label":
                row.append("1" if atk else "0")
            elif c == "sttl":
                row.append(str(254 if atk else 31))
            else:
                row.append(f"{rng.random() * 10:.4f}")
        lines.append(",".join(row))
    return "\ufeff" + "\n".join(lines) + "\n"


def write_unsw(directory: Path, n: int = 300, xz: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    _write(directory / "UNSW_NB15_testing-set.csv", unsw_text(n, 4), xz)
    return directory


def cicids_text(n: int, seed: int) -> str:
    """Real MachineLearningCVE header: leading spaces, 'Fwd Header Length' twice."""
    rng = np.random.default_rng(seed)
    header = [(" " + f if i % 2 else f).replace(".1", "") for i, f in enumerate(CIC_FEATURES)]
    lines = [",".join([*header, " Label"])]
    labels = ["BENIGN", "DDoS", "PortScan", "Web Attack \u2013 Brute Force"]
    for i in range(n):
        lab = labels[i % len(labels)]
        vals = [f"{rng.random() * (100 if lab != 'BENIGN' else 1):.3f}" for _ in CIC_FEATURES]
        if i == 5:
            vals[14] = "Infinity"
        if i == 6:
            vals[15] = "NaN"
        lines.append(",".join([*vals, lab]))
    return "\n".join(lines) + "\n"


#: The header of the CICIDS2017 corrected re-release (Engelen et al. 2021), as in
#: ../shared/datasets/cicids2017-improved/cicids2017-improved-sample.csv.xz.
CIC_IMPROVED_HEADER: tuple[str, ...] = tuple(
    "id,Flow ID,Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,"
    "Total Fwd Packet,Total Bwd packets,Total Length of Fwd Packet,Total Length of Bwd Packet,"
    "Fwd Packet Length Max,Fwd Packet Length Min,Fwd Packet Length Mean,Fwd Packet Length Std,"
    "Bwd Packet Length Max,Bwd Packet Length Min,Bwd Packet Length Mean,Bwd Packet Length Std,"
    "Flow Bytes/s,Flow Packets/s,Flow IAT Mean,Flow IAT Std,Flow IAT Max,Flow IAT Min,"
    "Fwd IAT Total,Fwd IAT Mean,Fwd IAT Std,Fwd IAT Max,Fwd IAT Min,Bwd IAT Total,Bwd IAT Mean,"
    "Bwd IAT Std,Bwd IAT Max,Bwd IAT Min,Fwd PSH Flags,Bwd PSH Flags,Fwd URG Flags,"
    "Bwd URG Flags,Fwd RST Flags,Bwd RST Flags,Fwd Header Length,Bwd Header Length,"
    "Fwd Packets/s,Bwd Packets/s,Packet Length Min,Packet Length Max,Packet Length Mean,"
    "Packet Length Std,Packet Length Variance,FIN Flag Count,SYN Flag Count,RST Flag Count,"
    "PSH Flag Count,ACK Flag Count,URG Flag Count,CWR Flag Count,ECE Flag Count,Down/Up Ratio,"
    "Average Packet Size,Fwd Segment Size Avg,Bwd Segment Size Avg,Fwd Bytes/Bulk Avg,"
    "Fwd Packet/Bulk Avg,Fwd Bulk Rate Avg,Bwd Bytes/Bulk Avg,Bwd Packet/Bulk Avg,"
    "Bwd Bulk Rate Avg,Subflow Fwd Packets,Subflow Fwd Bytes,Subflow Bwd Packets,"
    "Subflow Bwd Bytes,FWD Init Win Bytes,Bwd Init Win Bytes,Fwd Act Data Pkts,"
    "Fwd Seg Size Min,Active Mean,Active Std,Active Max,Active Min,Idle Mean,Idle Std,Idle Max,"
    "Idle Min,ICMP Code,ICMP Type,Total TCP Flow Time,Label,Attempted Category".split(",")
)
#: Columns of the corrected release that are not numeric flow features.
CIC_IMPROVED_TEXT: tuple[str, ...] = (
    "id", "Flow ID", "Src IP", "Src Port", "Dst IP", "Protocol", "Timestamp", "Label",
    "Attempted Category",
)  # fmt: skip


def cicids_improved_row(i: int, label: str, numbers: dict[str, float]) -> dict[str, str]:
    """One corrected-release row: identifier columns filled in, numeric columns from ``numbers``."""
    row = {
        "id": str(900_000 + i),
        "Flow ID": f"172.16.0.1-192.168.10.50-{40_000 + i}-80-6",
        "Src IP": "172.16.0.1" if label != "BENIGN" else "192.168.10.5",
        "Src Port": str(40_000 + i),
        "Dst IP": "192.168.10.50",
        "Protocol": "6" if i % 3 else "17",
        "Timestamp": f"2017-07-05 10:{i % 60:02d}:00.000001",
        "Label": label,
        "Attempted Category": "-1",
    }
    for col in CIC_IMPROVED_HEADER:
        if col not in row:
            row[col] = repr(numbers.get(col, 0.0))
    return row


def cicids_improved_csv(rows: list[dict[str, str]]) -> str:
    lines = [",".join(CIC_IMPROVED_HEADER)]
    lines += [",".join(r[c] for c in CIC_IMPROVED_HEADER) for r in rows]
    return "\n".join(lines) + "\n"


#: Labels of the synthetic corrected-release file: four attack families + BENIGN.
CIC_IMPROVED_LABELS: tuple[str, ...] = (
    "BENIGN", "DoS Hulk", "BENIGN", "DDoS", "BENIGN", "Portscan", "BENIGN", "SSH-Patator",
    "BENIGN", "Infiltration - Portscan",
)  # fmt: skip


def write_cicids_improved(directory: Path, n: int = 120) -> Path:
    """``cicids2017-improved-sample.csv.xz`` with a learnable signal per label."""
    rng = np.random.default_rng(7)
    numeric = [c for c in CIC_IMPROVED_HEADER if c not in CIC_IMPROVED_TEXT]
    rows = []
    for i in range(n):
        label = CIC_IMPROVED_LABELS[i % len(CIC_IMPROVED_LABELS)]
        shift = 0.0 if label == "BENIGN" else 5.0 * (1 + CIC_IMPROVED_LABELS.index(label))
        nums = {c: round(float(rng.random() * 3 + shift), 4) for c in numeric}
        rows.append(cicids_improved_row(i, label, nums))
    _write(directory / "cicids2017-improved-sample.csv", cicids_improved_csv(rows), True)
    return directory


def write_cicids(directory: Path, n: int = 60) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    _write(
        directory / "Friday-WorkingHours-Afternoon-DDos.pcap_ISCX.csv",
        cicids_text(n, 5),
        False,
        encoding="cp1252",
    )
    return directory


_CONN_FIELDS = (
    "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes "
    "resp_bytes conn_state local_orig local_resp missed_bytes history orig_pkts "
    "orig_ip_bytes resp_pkts resp_ip_bytes tunnel_parents"
).split()
_CONN_TYPES = (
    "time string addr port addr port enum string interval count count string bool bool "
    "count string count count count count set[string]"
).split()


def conn_log_text(n: int, seed: int, kind: str, iot23: bool) -> str:
    """Labelled conn log; kind = 'mixed' | 'benign' | 'background' (mixed + Background rows)."""
    rng = np.random.default_rng(seed)
    header = [
        "#separator \\x09",
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        "#path\tconn",
    ]
    if iot23:
        header.append("#fields\t" + "\t".join(_CONN_FIELDS) + "   label   detailed-label")
        header.append("#types\t" + "\t".join(_CONN_TYPES) + "   string   string")
    else:
        header.append("#fields\t" + "\t".join([*_CONN_FIELDS, "label", "detailedlabel"]))
        header.append("#types\t" + "\t".join([*_CONN_TYPES, "string", "string"]))
    lines = list(header)
    t = 1_600_000_000.0 + seed * 1000
    for i in range(n):
        t += float(rng.exponential(2.0))
        if kind == "benign":
            mal: bool | None = False
        elif kind == "background" and i % 4 == 3:
            mal = None
        else:
            mal = i % 2 == 1
        if mal:
            row = [
                f"{t:.6f}",
                f"C{seed}x{i}",
                "192.168.1.195",
                str(40000 + i),
                f"10.0.{i % 50}.{i % 200 + 1}",
                "23",
                "tcp",
                "-",
                "-",
                "-",
                "-",
                "S0",
                "-",
                "-",
                "0",
                "S",
                "1",
                "60",
                "0",
                "0",
            ]
            lab, det = "Malicious", "PartOfAHorizontalPortScan"
        else:
            row = [
                f"{t:.6f}",
                f"C{seed}y{i}",
                "192.168.1.132",
                str(50000 + i),
                "8.8.8.8",
                "53",
                "udp",
                "dns",
                f"{rng.random() * 0.1:.6f}",
                "40",
                "120",
                "SF",
                "-",
                "-",
                "0",
                "Dd",
                "1",
                "68",
                "1",
                "148",
            ]
            lab, det = ("Benign", "-") if mal is False else ("Background", "(empty)")
        if iot23:
            lab = lab.lower() if kind == "benign" else lab
            lines.append("\t".join(row) + f"\t-   {lab}   {det}")
        else:
            lines.append("\t".join([*row, "(empty)", lab, det]))
    return "\n".join(lines) + "\n"


def write_conn_logs(root: Path, n: int = 80) -> Path:
    """All KNOWN_CAPTURES under ``root`` at their real relative paths (xz)."""
    kinds = {
        "iot23-34-1": "mixed",
        "iot23-4-1": "benign",
        "iot23-5-1": "benign",
        "strat-001": "background",
        "strat-008": "mixed",
        "strat-010": "mixed",
    }
    for k, (name, rel) in enumerate(KNOWN_CAPTURES.items()):
        p = root / rel
        text = conn_log_text(n, 10 + k, kinds[name], name.startswith("iot23"))
        _write(p.with_name(p.name.removesuffix(".xz")), text, True)
    return root


def write_data_root(root: Path, n: int = 240) -> Path:
    """A synthetic data root with the real folder layout (CICIDS2017 only as the re-release)."""
    write_nsl_kdd(root / "nsl-kdd", n)
    write_unsw(root / "unsw-nb15", n)
    write_cicids_improved(root / "cicids2017-improved", n)
    write_conn_logs(root, max(n // 3, 60))
    return root
