"""The evaluation protocols: which rows train, which rows test, and nothing else.

* NSL-KDD: KDDTrain+ -> KDDTest+ and KDDTest-21 (the official files), and a
  stratified 80/20 split of KDDTrain+ (the "same distribution" number most
  papers quote).
* UNSW-NB15: the official training -> testing partitions when both files are
  present; here only the testing partition exists, so stratified 5-fold CV
  on it (stated as such in the report).
* CICIDS2017: stratified 5-fold CV over the MachineLearningCVE files (only
  when present; not in this project's data).
* CICIDS2017, corrected re-release (Engelen et al. 2021, class-balanced
  sample): stratified 5-fold CV by label, and leave-one-attack-family-out
  (train without one family, test whether its flows are still flagged at the
  threshold calibrated on the training side: the unseen-attack question).
* Zeek conn logs: leave-one-capture-out over the labelled captures, HAMAD's
  own streaming features, Background rows excluded.

Categorical encoders are fitted on each fold's training rows only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ...errors import InputFormatError
from ..datasets.common import RawTable, TabularEncoder, concat_tables
from .splits import (
    leave_one_family_out,
    leave_one_group_out,
    stratified_holdout,
    stratified_kfold,
    stratified_subsample,
)


@dataclass
class TestSet:
    """Encoded rows of one test set of a fold."""

    name: str
    X: NDArray[np.float32]
    y: NDArray[np.int64]
    category: NDArray[np.str_]
    X_alt: NDArray[np.float32] | None = None


@dataclass
class Fold:
    """Encoded training rows and one or more test sets (never overlapping)."""

    name: str
    X: NDArray[np.float32]
    y: NDArray[np.int64]
    category: NDArray[np.str_]
    tests: list[TestSet]
    feature_names: list[str]
    X_alt: NDArray[np.float32] | None = None
    train_index: NDArray[np.int64] | None = None
    test_index: NDArray[np.int64] | None = None
    #: Capture/file of each training row: HAMAD's out-of-fold gate training groups by it.
    groups: NDArray[np.str_] | None = None


@dataclass
class Protocol:
    """A named protocol: a lazily built sequence of folds plus how to describe it."""

    key: str
    dataset: str
    title: str
    description: str
    test_names: list[str]
    make_folds: Callable[[], Iterator[Fold]]
    n_folds: int
    class_names: list[str] | None = None
    alt_name: str | None = None
    sources: list[dict[str, object]] = field(default_factory=list)
    #: "standard" (binary tables per fold) or "held-out-family" (one fold per unseen family).
    layout: str = "standard"
    #: Caveat shown beside the seed's claim (e.g. a class mix unlike the original data's).
    note: str = ""
    #: Test category -> its coarser family, in report order (per-class tables group by it).
    class_family: dict[str, str] = field(default_factory=dict)
    #: The ``hamad report --dataset`` choice that built this protocol (set by the report).
    choice: str = ""


def out_of_family_groups(family: NDArray[np.str_], benign: str) -> NDArray[np.str_]:
    """Gate folds for a family that is never trained on: whole attack families out.

    HAMAD's gate is trained on out-of-fold member scores; grouped by family,
    each attack row's scores come from members that never saw its family,
    which is what the held-out family will look like. Benign rows are dealt
    round-robin to the attack families' groups, so whichever families a fold
    holds out, both sides keep benign rows.
    """
    groups: NDArray[np.str_] = np.asarray(family).astype(str)
    is_benign = groups == benign
    names = sorted(set(groups[~is_benign].tolist())) or [benign]
    groups[is_benign] = [names[k % len(names)] for k in range(int(is_benign.sum()))]
    return groups


def encode_fold(
    name: str,
    train: RawTable,
    tests: list[tuple[str, RawTable]],
    train_alt: RawTable | None = None,
    tests_alt: list[RawTable] | None = None,
) -> Fold:
    """Fit the encoder on ``train`` only and encode train + tests."""
    enc = TabularEncoder().fit(train)
    test_sets = []
    for k, (tname, t) in enumerate(tests):
        alt = None
        if tests_alt is not None and train_alt is not None:
            alt = TabularEncoder().fit(train_alt).transform(tests_alt[k])
        test_sets.append(TestSet(tname, enc.transform(t), t.y, t.category, alt))
    X_alt = TabularEncoder().fit(train_alt).transform(train_alt) if train_alt is not None else None
    return Fold(
        name,
        enc.transform(train),
        train.y,
        train.category,
        test_sets,
        enc.feature_names,
        X_alt,
        groups=train.groups,
    )


def _cap(table: RawTable, n: int | None, seed: int) -> RawTable:
    if n is None or len(table) <= n:
        return table
    return table.take(stratified_subsample(table.category, n, seed))


def _kfold(
    table: RawTable, n_splits: int, seed: int, test_name: str
) -> Callable[[], Iterator[Fold]]:
    """Stratified (by category) k-fold CV over one table; the encoder is refitted per fold."""

    def folds() -> Iterator[Fold]:
        for k, (tr, te) in enumerate(stratified_kfold(table.category, n_splits, seed)):
            fold = encode_fold(f"fold{k + 1}", table.take(tr), [(test_name, table.take(te))])
            fold.train_index, fold.test_index = tr, te
            yield fold

    return folds


def nsl_kdd_protocols(
    directory: Path, seed: int, max_train: int | None = None, max_test: int | None = None
) -> list[Protocol]:
    """KDDTrain+ -> {KDDTest+, KDDTest-21}, and stratified 80/20 of KDDTrain+."""
    from ..datasets.nsl_kdd import CLASS_NAMES, load_nsl_kdd

    train = _cap(load_nsl_kdd(directory, "train"), max_train, seed)
    test = _cap(load_nsl_kdd(directory, "test"), max_test, seed)
    test21 = _cap(load_nsl_kdd(directory, "test21"), max_test, seed)
    sources = train.sources + test.sources + test21.sources

    def official() -> Iterator[Fold]:
        yield encode_fold("official", train, [("KDDTest+", test), ("KDDTest-21", test21)])

    def holdout() -> Iterator[Fold]:
        tr, te = stratified_holdout(train.category, 0.2, seed)
        fold = encode_fold("holdout", train.take(tr), [("KDDTrain+ 20% holdout", train.take(te))])
        fold.train_index, fold.test_index = tr, te
        yield fold

    return [
        Protocol(
            "nsl-kdd-official",
            "NSL-KDD",
            "NSL-KDD: KDDTrain+ -> KDDTest+ / KDDTest-21",
            "Train on KDDTrain+ (125,973 rows), test on the official KDDTest+ (22,544) and "
            "KDDTest-21 (11,850: the KDDTest+ records that at most 20 of 21 reference learners "
            "got right, i.e. the hard ones). The test files contain 17 attack types that never "
            "occur in KDDTrain+.",
            ["KDDTest+", "KDDTest-21"],
            official,
            1,
            list(CLASS_NAMES),
            sources=sources,
        ),
        Protocol(
            "nsl-kdd-holdout",
            "NSL-KDD",
            "NSL-KDD: KDDTrain+ stratified 80/20",
            "Stratified (by attack category) 80/20 split of KDDTrain+: same distribution on "
            "both sides, the setting most >99% NSL-KDD claims use.",
            ["KDDTrain+ 20% holdout"],
            holdout,
            1,
            list(CLASS_NAMES),
            sources=train.sources,
        ),
    ]


def unsw_protocol(
    directory: Path, seed: int, n_splits: int = 5, max_rows: int | None = None
) -> Protocol:
    """Official train -> test if both partitions exist, else stratified k-fold CV on one."""
    from ..datasets.unsw_nb15 import CLASS_NAMES, available_unsw_splits, load_unsw_nb15

    splits = available_unsw_splits(directory)
    if not splits:
        load_unsw_nb15(directory, "test")  # raises the clear "missing file" error
    if splits == ["train", "test"]:
        train = _cap(load_unsw_nb15(directory, "train"), max_rows, seed)
        test = _cap(load_unsw_nb15(directory, "test"), max_rows, seed)

        def official() -> Iterator[Fold]:
            yield encode_fold("official", train, [("testing partition", test)])

        return Protocol(
            "unsw-nb15",
            "UNSW-NB15",
            "UNSW-NB15: official training -> testing partition",
            "Train on the official training partition, test on the official testing partition.",
            ["testing partition"],
            official,
            1,
            list(CLASS_NAMES),
            sources=train.sources + test.sources,
        )
    table = _cap(load_unsw_nb15(directory, splits[0]), max_rows, seed)
    part = "testing" if splits[0] == "test" else "training"
    return Protocol(
        "unsw-nb15",
        "UNSW-NB15",
        f"UNSW-NB15: stratified {n_splits}-fold CV on the {part} partition",
        f"Only the official {part} partition ({len(table):,} rows) is available, so this is "
        f"stratified {n_splits}-fold cross-validation inside it (stratified by attack_cat); "
        "not comparable with numbers on the official train -> test split.",
        [f"CV on {part} partition"],
        _kfold(table, n_splits, seed, f"CV on {part} partition"),
        n_splits,
        list(CLASS_NAMES),
        sources=table.sources,
    )


def cicids_protocol(
    directory: Path, seed: int, n_splits: int = 5, max_rows: int | None = None
) -> Protocol:
    """Stratified k-fold CV over the MachineLearningCVE files present."""
    from ..datasets.cicids2017 import load_cicids2017

    table = _cap(load_cicids2017(directory), max_rows, seed)
    return Protocol(
        "cicids2017",
        "CICIDS2017",
        f"CICIDS2017: stratified {n_splits}-fold CV",
        "Stratified k-fold CV over the MachineLearningCVE CSVs found.",
        ["CV"],
        _kfold(table, n_splits, seed, "CV"),
        n_splits,
        list(_cicids_class_family(table)),
        sources=table.sources,
        class_family=_cicids_class_family(table),
    )


def _cicids_class_family(table: RawTable) -> dict[str, str]:
    """CICIDS2017 labels present in ``table`` -> family, in report order."""
    from ..datasets.cicids2017 import LABEL_ORDER, family_of

    present = set(table.category.tolist())
    return {lab: family_of(lab) for lab in LABEL_ORDER if lab in present}


def cicids_improved_protocols(
    directory: Path,
    seed: int,
    n_splits: int = 5,
    max_rows: int | None = None,
    benign_test_frac: float = 0.2,
) -> list[Protocol]:
    """Corrected re-release: stratified k-fold CV by label, and leave-one-attack-family-out."""
    from ..datasets.cicids2017 import BENIGN, FAMILIES
    from ..datasets.cicids2017_improved import load_cicids2017_improved

    table = _cap(load_cicids2017_improved(directory), max_rows, seed)
    if table.family is None:  # pragma: no cover - the loader always sets it
        raise InputFormatError(f"{directory}: rows carry no attack family")
    family = table.family
    counts = table.label_counts()
    n_benign = counts.get(BENIGN, 0)
    mix = (
        f"{len(table):,} flows of {len(counts)} labels, {n_benign:,} of them BENIGN "
        f"({100 * n_benign / max(len(table), 1):.0f} %)"
    )
    note = (
        "corrected re-release (Engelen et al. 2021), class-balanced sample (up to 5,000 flows "
        f"per label): {len(table):,} flows of {len(counts)} labels, "
        f"{100 * n_benign / max(len(table), 1):.0f} % BENIGN; accuracy not comparable with "
        "figures on the original mix (~80 % BENIGN)"
    )
    class_family = _cicids_class_family(table)
    n_benign_test = int(round(benign_test_frac * n_benign))

    def lofo() -> Iterator[Fold]:
        for name, tr, te in leave_one_family_out(family, BENIGN, benign_test_frac, seed, FAMILIES):
            fold = encode_fold(name, table.take(tr), [("held-out family", table.take(te))])
            fold.train_index, fold.test_index = tr, te
            fold.groups = out_of_family_groups(family[tr], BENIGN)
            yield fold

    n_families = len(set(family.tolist()) - {BENIGN})
    title = "CICIDS2017 (corrected re-release)"
    return [
        Protocol(
            "cicids2017-improved-cv",
            "CICIDS2017",
            f"{title}: stratified {n_splits}-fold CV",
            f"The corrected and relabelled CICIDS2017 flows of Engelen, Rimmer and Joosen (2021), "
            f"class-balanced sample: {mix}; the original capture is about 80 % BENIGN, so "
            "accuracy and precision here are not comparable with figures on it. Stratified (by "
            f"label) {n_splits}-fold CV; identifier columns (id, Flow ID, IPs, source port, "
            "Timestamp, Attempted Category) are never features.",
            ["CV"],
            _kfold(table, n_splits, seed, "CV"),
            n_splits,
            list(class_family),
            sources=table.sources,
            note=note,
            class_family=class_family,
        ),
        Protocol(
            "cicids2017-improved-lofo",
            "CICIDS2017",
            f"{title}: leave-one-attack-family-out",
            f"Same sample ({mix}). One fold per attack family: every flow of that family is "
            "left out of training (so it is an unseen attack for every model, the novelty "
            f"detector included) and tested together with a fixed seeded "
            f"{100 * benign_test_frac:.0f} % of the BENIGN flows ({n_benign_test:,}, the same "
            "in every fold and never trained on); training uses all other flows. The question "
            "is whether the unseen family is still flagged at the threshold calibrated on the "
            "training side, and at what false-positive rate on BENIGN.",
            ["held-out family"],
            lofo,
            n_families,
            None,
            sources=table.sources,
            layout="held-out-family",
            note=note,
            class_family=class_family,
        ),
    ]


def conn_log_protocol(
    root: Path, seed: int, captures: list[str] | None = None, max_rows: int | None = None
) -> Protocol:
    """Leave-one-capture-out over labelled conn logs; alt features = single-scale (120 s)."""
    from ..datasets.zeek_conn import KNOWN_CAPTURES, load_known_captures

    names = captures or list(KNOWN_CAPTURES)
    multi = [_cap(t, max_rows, seed) for t in load_known_captures(root, None, names)]
    single = [_cap(t, max_rows, seed) for t in load_known_captures(root, (120.0,), names)]
    for a, b in zip(multi, single, strict=True):
        if not np.array_equal(a.y, b.y):
            raise InputFormatError(f"{a.name}: single- and multi-scale rows are not aligned")
    all_multi = concat_tables(multi, "conn")
    all_single = concat_tables(single, "conn-single")

    def loco() -> Iterator[Fold]:
        for name, tr, te in leave_one_group_out(all_multi.groups):
            fold = encode_fold(
                name,
                all_multi.take(tr),
                [("held-out capture", all_multi.take(te))],
                all_single.take(tr),
                [all_single.take(te)],
            )
            fold.train_index, fold.test_index = tr, te
            yield fold

    return Protocol(
        "zeek-conn",
        "Zeek conn logs",
        "Zeek conn logs: leave-one-capture-out",
        f"{len(names)} labelled captures ({', '.join(names)}); each fold trains on all other "
        "captures and tests on the held-out one. HAMAD's streaming features (10 s / 2 min / "
        "30 min windows) are computed per capture in connection-end order; Background rows "
        "are excluded after feature extraction.",
        ["held-out capture"],
        loco,
        len(names),
        None,
        alt_name="HAMAD single-scale (120 s)",
        sources=all_multi.sources,
    )
