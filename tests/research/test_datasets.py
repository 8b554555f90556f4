"""Dataset loaders: wrong/missing files give one clear error; real files load as documented.

The real-data tests use ``$HAMAD_DATA_ROOT`` or ``<repo>/../shared/datasets`` and are
skipped (with the reason) when neither exists; they print which files they read.
"""

from __future__ import annotations

import json
import lzma
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import DATA_ROOT as ROOT
from conftest import needs_data
from synth_datasets import (
    CIC_IMPROVED_HEADER,
    cicids_improved_csv,
    cicids_improved_row,
    cicids_text,
    nsl_rows,
    unsw_text,
    write_cicids,
    write_cicids_improved,
    write_conn_logs,
    write_nsl_kdd,
    write_unsw,
)

from hamad_plugin.cli import cli
from hamad_plugin.errors import InputFormatError
from hamad_plugin.research.datasets import (
    TabularEncoder,
    load_cicids2017,
    load_cicids2017_improved,
    load_conn_dir,
    load_known_captures,
    load_nsl_kdd,
    load_unsw_nb15,
)
from hamad_plugin.research.datasets.cicids2017 import FEATURES as CIC2017_FEATURES
from hamad_plugin.research.datasets.cicids2017 import family_of
from hamad_plugin.research.datasets.common import sha256_of_content

# ----------------------------------------------------------------------------- errors


def test_missing_directory_names_it(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match=r"nope: not a directory"):
        load_nsl_kdd(tmp_path / "nope", "train")


def test_missing_file_lists_expected_names(tmp_path: Path) -> None:
    with pytest.raises(
        InputFormatError, match=r"missing the NSL-KDD train file.*KDDTrain\+\.txt\.xz"
    ):
        load_nsl_kdd(tmp_path, "train")
    with pytest.raises(InputFormatError, match=r"UNSW_NB15_testing-set\.csv"):
        load_unsw_nb15(tmp_path, "test")
    with pytest.raises(InputFormatError, match=r"no CICIDS2017 MachineLearningCVE CSV found"):
        load_cicids2017(tmp_path)
    with pytest.raises(InputFormatError, match=r"no labelled conn logs found"):
        load_conn_dir(tmp_path)


def test_nsl_wrong_column_count_names_file_and_line(tmp_path: Path) -> None:
    good = nsl_rows(3, 0, ("neptune",)).splitlines()
    good[1] = ",".join(good[1].split(",")[:-1])  # drop the difficulty column
    (tmp_path / "KDDTrain+.txt").write_text("\n".join(good) + "\n")
    with pytest.raises(
        InputFormatError, match=r"KDDTrain\+\.txt: line 2 has 42 columns; expected 43"
    ):
        load_nsl_kdd(tmp_path, "train")


def test_nsl_unknown_label_and_bad_number(tmp_path: Path) -> None:
    rows = nsl_rows(2, 0, ("neptune",)).replace("neptune", "not_an_attack")
    (tmp_path / "KDDTrain+.txt").write_text(rows)
    with pytest.raises(InputFormatError, match=r"unknown label\(s\) \['not_an_attack'\]"):
        load_nsl_kdd(tmp_path, "train")
    parts = nsl_rows(1, 0, ("neptune",)).strip().split(",")
    parts[0] = "abc"
    (tmp_path / "KDDTrain+.txt").write_text(",".join(parts) + "\n")
    with pytest.raises(InputFormatError, match=r"column 'duration': expected a number, got 'abc'"):
        load_nsl_kdd(tmp_path, "train")


def test_corrupt_xz_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "KDDTrain+.txt.xz").write_bytes(b"\xfd7zXZ\x00garbage")
    with pytest.raises(InputFormatError, match=r"KDDTrain\+\.txt\.xz: cannot decompress"):
        load_nsl_kdd(tmp_path, "train")


def test_unsw_validation(tmp_path: Path) -> None:
    text = unsw_text(6, 0)
    (tmp_path / "UNSW_NB15_testing-set.csv").write_text(text.replace(",sttl,", ",ttl_renamed,"))
    with pytest.raises(InputFormatError, match=r"missing column\(s\) \['sttl'\]"):
        load_unsw_nb15(tmp_path, "test")
    lines = text.splitlines()
    lines[1] = lines[1][: lines[1].rfind(",")] + ",1"  # a Normal row labelled attack
    (tmp_path / "UNSW_NB15_testing-set.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFormatError, match=r"attack_cat and label disagree"):
        load_unsw_nb15(tmp_path, "test")
    (tmp_path / "UNSW_NB15_testing-set.csv").write_text(text.replace(",Generic,", ",Aliens,"))
    with pytest.raises(InputFormatError, match=r"unknown value\(s\) \['aliens'\]"):
        load_unsw_nb15(tmp_path, "test")


def test_cicids_synthetic_with_real_header(tmp_path: Path) -> None:
    t = load_cicids2017(write_cicids(tmp_path, n=40))
    assert t.numeric.shape == (38, 78)  # 2 rows with Infinity/NaN dropped
    assert t.sources[0]["dropped_non_finite_rows"] == 2
    assert "Fwd Header Length.1" in t.numeric_names
    # labels keep their name (the en dash normalised); the family is kept beside them
    assert set(t.label_counts()) == {"BENIGN", "DDoS", "Portscan", "Web Attack - Brute Force"}
    assert t.family is not None
    assert t.sources[0]["family_counts"] == {
        "BENIGN": 10,
        "DDoS": 9,  # rows 5 and 6 (Infinity, NaN) are dropped
        "PortScan": 9,
        "Web Attack": 10,
    }
    assert int(t.y.sum()) == int((t.category != "BENIGN").sum())
    bad = cicids_text(5, 0).replace(" Label", " Class")
    (tmp_path / "Monday-WorkingHours.pcap_ISCX.csv").write_text(bad, encoding="cp1252")
    with pytest.raises(InputFormatError, match=r"Monday.*missing column\(s\) \['Label'\]"):
        load_cicids2017(tmp_path)


# ----------------------------------------------------------------------------- CICIDS2017 re-release

#: Written here, independently of the loader: corrected-release header -> 2017 name.
RENAMED_BY_HAND = {
    "Dst Port": "Destination Port",
    "Total Fwd Packet": "Total Fwd Packets",
    "Total Bwd packets": "Total Backward Packets",
    "Total Length of Fwd Packet": "Total Length of Fwd Packets",
    "Packet Length Min": "Min Packet Length",
    "CWR Flag Count": "CWE Flag Count",
    "Fwd Bytes/Bulk Avg": "Fwd Avg Bytes/Bulk",
    "FWD Init Win Bytes": "Init_Win_bytes_forward",
    "Fwd Act Data Pkts": "act_data_pkt_fwd",
    "Fwd Seg Size Min": "min_seg_size_forward",
}
IDENTIFIERS = ("id", "Flow ID", "Src IP", "Src Port", "Dst IP", "Timestamp", "Attempted Category")


def _improved_rows(labels: list[str]) -> list[dict[str, str]]:
    """Rows whose numeric cell = 1000 * row + column index: every value says where it came from."""
    return [
        cicids_improved_row(i, lab, {c: 1000.0 * i + j for j, c in enumerate(CIC_IMPROVED_HEADER)})
        for i, lab in enumerate(labels)
    ]


def test_cicids_improved_column_mapping_on_rows_written_here(tmp_path: Path) -> None:
    labels = ["BENIGN", "DoS Hulk", "Infiltration - Portscan", "Web Attack - XSS", "Botnet"]
    (tmp_path / "cicids2017-improved-sample.csv").write_text(
        cicids_improved_csv(_improved_rows(labels))
    )
    t = load_cicids2017_improved(tmp_path)
    assert len(t) == 5 and t.numeric.shape == (5, 82)
    # each table column holds exactly the cells of one file column: decode which one
    source = {
        name: CIC_IMPROVED_HEADER[int(t.numeric[0, k])] for k, name in enumerate(t.numeric_names)
    }
    for k in range(len(t.numeric_names)):
        np.testing.assert_array_equal(t.numeric[:, k] - t.numeric[0, k], 1000.0 * np.arange(5))
    for new, old in RENAMED_BY_HAND.items():
        assert source[old] == new, (old, source[old])
    # the 2017 names are the table's names; the duplicate .1 column is gone; 5 new features kept
    assert [n for n in t.numeric_names if n in CIC2017_FEATURES] == [
        f for f in CIC2017_FEATURES if f != "Fwd Header Length.1"
    ]
    assert t.numeric_names[-5:] == [
        "Fwd RST Flags",
        "Bwd RST Flags",
        "ICMP Code",
        "ICMP Type",
        "Total TCP Flow Time",
    ]
    assert all(source[n] == n for n in t.numeric_names if n in CIC_IMPROVED_HEADER)
    assert len(set(source.values())) == 82  # no file column feeds two table columns
    # nothing that names the capture is a feature, under any name
    assert not set(IDENTIFIERS) & set(source.values())
    assert not set(IDENTIFIERS) & set(t.numeric_names + t.categorical_names)
    assert not np.isin([900_000.0, 40_001.0], t.numeric).any()  # an id, a source port
    assert t.categorical_names == ["Protocol"] and t.categorical[:, 0].tolist() == [
        "17",
        "6",
        "6",
        "17",
        "6",
    ]
    assert t.category.tolist() == labels
    assert t.family is not None and t.family.tolist() == [
        "BENIGN",
        "DoS",
        "PortScan",
        "Web Attack",
        "Botnet",
    ]
    assert t.y.tolist() == [0, 1, 1, 1, 1]
    src = t.sources[0]
    assert set(src["dropped_columns"]) == set(IDENTIFIERS) and "ignored_columns" not in src
    assert src["sha256_matches_dataset_readme"] is False  # a file written here


def test_cicids_improved_rejects_attempted_labels_and_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "cicids2017-improved-sample.csv"
    path.write_text(cicids_improved_csv(_improved_rows(["BENIGN", "DoS Hulk - Attempted"])))
    with pytest.raises(InputFormatError, match=r"line 3: unknown Label 'DoS Hulk - Attempted'"):
        load_cicids2017_improved(tmp_path)
    path.write_text(
        cicids_improved_csv(_improved_rows(["BENIGN"])).replace("CWR Flag Count", "CWR Flags")
    )
    with pytest.raises(InputFormatError, match=r"missing column\(s\) \['CWR Flag Count'\]"):
        load_cicids2017_improved(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFormatError, match=r"cicids2017-improved-sample\.csv\.xz"):
        load_cicids2017_improved(tmp_path / "empty")


def test_cicids_family_mapping_both_releases() -> None:
    expected = {
        "BENIGN": "BENIGN",
        "DoS Hulk": "DoS",
        "DoS Slowhttptest": "DoS",
        "DDoS": "DDoS",
        "PortScan": "PortScan",  # 2017 spelling
        "Portscan": "PortScan",
        "Infiltration - Portscan": "PortScan",  # a scan from the infiltrated host
        "Infiltration": "Infiltration",
        "FTP-Patator": "Brute Force",
        "SSH-Patator": "Brute Force",
        "Web Attack \u2013 Brute Force": "Web Attack",  # 2017 en dash
        "Web Attack - SQL Injection": "Web Attack",
        "Bot": "Botnet",  # 2017 name
        "Botnet": "Botnet",
        "Heartbleed": "Heartbleed",
    }
    assert {lab: family_of(lab) for lab in expected} == expected
    with pytest.raises(KeyError):
        family_of("DoS Hulk - Attempted")


def test_prepare_cli_cicids_improved_keeps_label_family_and_provenance(tmp_path: Path) -> None:
    d = write_cicids_improved(tmp_path / "c", 40)
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli,
        [
            "data",
            "prepare",
            "--dataset",
            "cicids2017-improved",
            "--path",
            str(d),
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    m = json.loads((out / "manifest.json").read_text())
    (src,) = m["sources"]
    assert src["sha256"] == sha256_of_content(d / "cicids2017-improved-sample.csv.xz")
    assert src["rows"] == 40 and src["label_counts"]["BENIGN"] == 20
    assert src["family_counts"] == {
        "BENIGN": 20,
        "DDoS": 4,
        "DoS": 4,
        "PortScan": 8,
        "Brute Force": 4,
    }
    assert "Engelen" in src["release"] and set(src["dropped_columns"]) == set(IDENTIFIERS)
    assert any("class-balanced" in n for n in m["notes"])
    assert not set(IDENTIFIERS) & {f.split("=")[0] for f in m["feature_names"]}
    with np.load(out / "all.npz") as z:
        assert z["X"].shape == (40, m["n_features"]) and set(z["family"].tolist()) == set(
            src["family_counts"]
        )
        assert z["category"].tolist()[:2] == ["BENIGN", "DoS Hulk"]


def test_conn_log_without_labels_or_not_a_conn_log(tmp_path: Path) -> None:
    d = tmp_path / "caps" / "cap1"
    d.mkdir(parents=True)
    (d / "conn.log.labeled").write_text("hello,world\n1,2\n")
    with pytest.raises(InputFormatError, match=r"not a Zeek conn log"):
        load_conn_dir(tmp_path / "caps")
    # a real-format conn log whose label columns were stripped: rejected, file named
    text = lzma.decompress(
        (
            write_conn_logs(tmp_path / "r", 20)
            / "stratosphere-labeled-zeek/008-ctu-normal-40-day1.conn.log.labeled.xz"
        ).read_bytes()
    ).decode()
    stripped = "\n".join(
        line.rsplit("\t", 2)[0]
        if not line.startswith("#") or line.startswith(("#fields", "#types"))
        else line
        for line in text.splitlines()
    )
    (d / "conn.log.labeled").write_text(stripped + "\n")
    with pytest.raises(
        InputFormatError, match=r"cap1/conn\.log\.labeled: no Benign/Malicious labels"
    ):
        load_conn_dir(tmp_path / "caps")


def test_encoder_is_fitted_on_train_only(tmp_path: Path) -> None:
    d = write_nsl_kdd(tmp_path / "nsl", 60, xz=False)
    train = load_nsl_kdd(d, "train")
    train.categorical[:, 1] = "http"  # training data sees only one service
    enc = TabularEncoder().fit(train)
    assert [n for n in enc.feature_names if n.startswith("service=")] == ["service=http"]
    test = load_nsl_kdd(d, "test")
    X = enc.transform(test)
    col = enc.feature_names.index("service=http")
    assert X.shape == (len(test), len(enc.feature_names))
    np.testing.assert_array_equal(X[:, col], (test.categorical[:, 1] == "http").astype(np.float32))


def test_prepare_cli_writes_npz_and_manifest(tmp_path: Path) -> None:
    d = write_nsl_kdd(tmp_path / "nsl", 60)
    out = tmp_path / "prepared"
    res = CliRunner().invoke(
        cli, ["data", "prepare", "--dataset", "nsl-kdd", "--path", str(d), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    m = json.loads((out / "manifest.json").read_text())
    assert [s["name"] for s in m["splits"]] == ["train", "test", "test21"]
    assert any("KDDTrain+_20Percent.txt not found" in n for n in m["notes"])
    src = {Path(s["file"]).name: s for s in m["sources"]}
    assert src["KDDTrain+.txt.xz"]["sha256"] == sha256_of_content(d / "KDDTrain+.txt.xz")
    assert src["KDDTrain+.txt.xz"]["rows"] == 60
    with np.load(out / "test.npz") as z:
        assert z["X"].dtype == np.float32 and z["X"].shape == (30, m["n_features"])
        assert set(np.unique(z["y"]).tolist()) == {0, 1}
    # unsw, cicids and conn logs through the same command
    for ds, path in (
        ("unsw-nb15", write_unsw(tmp_path / "u", 30)),
        ("cicids2017", write_cicids(tmp_path / "c", 30)),
        ("iot23", write_conn_logs(tmp_path / "z", 40) / "iot23"),
    ):
        res = CliRunner().invoke(
            cli,
            [
                "data",
                "prepare",
                "--dataset",
                ds,
                "--path",
                str(path),
                "--out",
                str(tmp_path / f"out-{ds}"),
            ],
        )
        assert res.exit_code == 0, (ds, res.output)
    mi = json.loads((tmp_path / "out-iot23" / "manifest.json").read_text())
    assert {s["capture"] for s in mi["sources"]} == {
        "CTU-IoT-Malware-Capture-34-1",
        "CTU-Honeypot-Capture-4-1",
        "CTU-Honeypot-Capture-5-1",
    }


def test_prepare_cli_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli,
        [
            "data",
            "prepare",
            "--dataset",
            "unsw-nb15",
            "--path",
            str(tmp_path),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert res.exit_code != 0
    assert "missing the UNSW-NB15 testing partition CSV" in res.output
    assert "Traceback" not in res.output


# ----------------------------------------------------------------------------- real data


@pytest.mark.slow
@needs_data
def test_real_nsl_kdd_matches_source_md() -> None:
    assert ROOT is not None
    d = ROOT / "nsl-kdd"
    expected = {"train": (125_973, 58_630), "test": (22_544, 12_833), "test21": (11_850, 9_698)}
    for split, (rows, attacks) in expected.items():
        t = load_nsl_kdd(d, split)
        print(f"read {t.sources[0]['file']} ({len(t)} rows, sha256 {t.sources[0]['sha256']})")
        assert len(t) == rows and int(t.y.sum()) == attacks
        assert t.numeric.shape[1] == 38 and t.categorical_names == [
            "protocol_type",
            "service",
            "flag",
        ]
        if split == "train":
            assert t.sources[0]["sha256"] == (
                "1b86d2f957b33082081bba410fe129b475efebcc13c9014c3f447c8271aadf95"
            )
            assert t.label_counts()["normal"] == 67_343


@pytest.mark.slow
@needs_data
def test_real_unsw_nb15_testing_partition() -> None:
    assert ROOT is not None
    t = load_unsw_nb15(ROOT / "unsw-nb15", "test")
    print(f"read {t.sources[0]['file']} ({len(t)} rows)")
    assert len(t) == 82_332 and int(t.y.sum()) == 45_332
    counts = t.label_counts()
    assert counts["normal"] == 37_000 and counts["generic"] == 18_871 and counts["worms"] == 44
    assert "id" not in t.numeric_names and t.numeric.shape[1] == 39


CIC_IMPROVED = None if ROOT is None else ROOT / "cicids2017-improved"


@pytest.mark.slow
@pytest.mark.skipif(
    CIC_IMPROVED is None or not CIC_IMPROVED.is_dir(),
    reason="reads ../shared/datasets/cicids2017-improved (or $HAMAD_DATA_ROOT/...): not found",
)
def test_real_cicids2017_improved_sample_matches_its_readme() -> None:
    assert CIC_IMPROVED is not None
    t = load_cicids2017_improved(CIC_IMPROVED)
    src = t.sources[0]
    print(f"read {src['file']} ({len(t)} rows, sha256 {src['sha256']})")
    assert src["sha256"] == "9402e00d71bf57c43ffcd7f2faa2510c7f993381ba8869e61f40ea9294930ad9"
    assert len(t) == 43_419 and src["dropped_non_finite_rows"] == 0
    counts = t.label_counts()
    assert len(counts) == 16 and counts["BENIGN"] == 5_000 and counts["Heartbleed"] == 11
    assert counts["Infiltration - Portscan"] == 5_000 and counts["Web Attack - XSS"] == 18
    assert int(t.y.sum()) == 43_419 - 5_000
    assert t.numeric.shape == (43_419, 82) and "ignored_columns" not in src
    assert src["family_counts"] == {
        "BENIGN": 5_000,
        "Botnet": 736,
        "Brute Force": 6_933,
        "DDoS": 5_000,
        "DoS": 15_599,
        "Heartbleed": 11,
        "Infiltration": 36,
        "PortScan": 10_000,
        "Web Attack": 104,
    }


@pytest.mark.slow
@needs_data
def test_real_labelled_conn_logs() -> None:
    assert ROOT is not None
    tables = {t.name: t for t in load_known_captures(ROOT)}
    for t in tables.values():
        print(f"read {t.sources[0]['file']} ({len(t)} labelled rows)")
    assert len(tables["iot23-34-1"]) == 23_145 and int(tables["iot23-34-1"].y.sum()) == 21_222
    assert int(tables["iot23-4-1"].y.sum()) == 0 and len(tables["iot23-5-1"]) == 1_374
    # Background rows excluded: 992 - 739 = 253 labelled rows in 001
    assert len(tables["strat-001"]) == 253 and int(tables["strat-001"].y.sum()) == 244
    assert len(tables["strat-008"]) == 5_603 and len(tables["strat-010"]) == 5_310
