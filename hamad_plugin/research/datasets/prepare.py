"""Validate a dataset folder and cache training-ready arrays (``hamad data prepare``)."""

from __future__ import annotations

from pathlib import Path

from ...errors import HamadError
from .cicids2017 import load_cicids2017
from .cicids2017_improved import load_cicids2017_improved
from .common import PreparedSplit, RawTable, TabularEncoder, concat_tables, write_prepared
from .nsl_kdd import FILES as NSL_FILES
from .nsl_kdd import load_nsl_kdd
from .unsw_nb15 import available_unsw_splits, load_unsw_nb15, partition_role
from .zeek_conn import load_conn_dir


def _encode(encoder: TabularEncoder, tables: dict[str, RawTable]) -> list[PreparedSplit]:
    return [
        PreparedSplit(name, encoder.transform(t), t.y, t.category, t.groups, t.family)
        for name, t in tables.items()
    ]


def prepare_dataset(dataset: str, path: Path, out: Path) -> Path:
    """Load ``dataset`` from ``path``, encode (fitted on train), write to ``out``; manifest path."""
    notes: list[str] = []
    tables: dict[str, RawTable] = {}
    if dataset == "nsl-kdd":
        tables["train"] = load_nsl_kdd(path, "train")
        for split in ("test", "test21", "train20"):
            try:
                tables[split] = load_nsl_kdd(path, split)
            except HamadError as exc:
                if "missing" not in str(exc):
                    raise
                notes.append(f"{NSL_FILES[split]} not found; split {split!r} not written")
        fit_on = "train"
    elif dataset == "unsw-nb15":
        splits = available_unsw_splits(path)
        if not splits:
            load_unsw_nb15(path, "test")  # raises the clear "missing" error
        for split in splits:
            tables[split] = load_unsw_nb15(path, split)
            role = partition_role(tables[split])
            if role is not None and role != split:
                notes.append(
                    f"{split} file has {len(tables[split])} rows, the official size of the {role} "
                    "partition: the file names look swapped (common in mirrors)"
                )
        fit_on = "train" if "train" in tables else "test"
        if fit_on == "test":
            notes.append(
                "only the testing partition is present: the encoder vocabulary was fitted on it; "
                "evaluate with cross-validation (the report refits the encoder per fold)"
            )
    elif dataset == "cicids2017":
        tables["all"] = load_cicids2017(path)
        fit_on = "all"
        notes.append("no official split; the report uses stratified k-fold CV")
    elif dataset == "cicids2017-improved":
        tables["all"] = load_cicids2017_improved(path)
        fit_on = "all"
        notes += [
            "corrected re-release of CICIDS2017 (Engelen, Rimmer, Joosen 2021); class-balanced "
            "sample (up to 5,000 flows per label): the class mix is not the capture's, so "
            "accuracy on it is not comparable with figures on the original distribution",
            "identifier columns dropped (reasons in sources[].dropped_columns); the 2017 "
            "MachineLearningCVE names are used for the features both releases share",
            "category = label, family = attack family (npz key 'family'); no official split: "
            "the report uses stratified 5-fold CV and leave-one-attack-family-out",
        ]
    else:
        captures = load_conn_dir(path)
        tables["all"] = concat_tables(captures, dataset)
        fit_on = "all"
        notes.append(
            "HAMAD streaming features, one extractor per capture; groups = capture names "
            "(use leave-one-capture-out); Background/unlabelled rows excluded"
        )
    encoder = TabularEncoder().fit(tables[fit_on])
    prepared = _encode(encoder, tables)
    sources = [s for t in tables.values() for s in t.sources]
    return write_prepared(
        out, dataset, prepared, encoder.feature_names, sources, notes, encoder.to_dict()
    )
