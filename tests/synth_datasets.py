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

from hamad_plugin.datasets.cicids2017 import FEATURES as CIC_FEATURES
from hamad_plugin.datasets.nsl_kdd import FEATURES as NSL_FEATURES
from hamad_plugin.datasets.unsw_nb15 import COLUMNS as UNSW_COLUMNS
from hamad_plugin.datasets.zeek_conn import KNOWN_CAPTURES


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
    """A synthetic data root with the real folder layout (no CICIDS2017, like the real one)."""
    write_nsl_kdd(root / "nsl-kdd", n)
    write_unsw(root / "unsw-nb15", n)
    write_conn_logs(root, max(n // 3, 60))
    return root
