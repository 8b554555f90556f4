"""Index-level splitters. Pure numpy so they are easy to prove disjoint.

Every function returns integer index arrays into the rows it was given;
the train/test index sets of one split never intersect (tests check this on
the real data by hashing rows). Seeds are explicit so every split in the
report can be regenerated.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ...errors import ConfigError

IndexPair = tuple[NDArray[np.int64], NDArray[np.int64]]


def stratified_holdout(y: ArrayLike, test_size: float, seed: int) -> IndexPair:
    """(train_idx, test_idx): ``test_size`` of each class goes to test, at least 1 if possible."""
    if not 0.0 < test_size < 1.0:
        raise ConfigError(f"test_size must be in (0, 1), got {test_size!r}")
    yy = np.asarray(y)
    rng = np.random.default_rng(seed)
    train: list[NDArray[np.int64]] = []
    test: list[NDArray[np.int64]] = []
    for cls in np.unique(yy):
        idx = np.flatnonzero(yy == cls)
        rng.shuffle(idx)
        n_test = int(round(test_size * idx.size))
        if idx.size >= 2:
            n_test = min(max(n_test, 1), idx.size - 1)
        else:
            n_test = 0
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def stratified_kfold(y: ArrayLike, n_splits: int, seed: int) -> Iterator[IndexPair]:
    """Stratified K-fold: each row is in exactly one test fold; folds keep class shares."""
    if n_splits < 2:
        raise ConfigError(f"n_splits must be >= 2, got {n_splits!r}")
    yy = np.asarray(y)
    rng = np.random.default_rng(seed)
    fold_of = np.empty(yy.size, dtype=np.int64)
    offset = 0
    for cls in np.unique(yy):
        idx = np.flatnonzero(yy == cls)
        rng.shuffle(idx)
        # Continue the round-robin across classes so small classes spread over folds.
        fold_of[idx] = (np.arange(idx.size) + offset) % n_splits
        offset = (offset + idx.size) % n_splits
    all_idx = np.arange(yy.size, dtype=np.int64)
    for k in range(n_splits):
        yield all_idx[fold_of != k], all_idx[fold_of == k]


def leave_one_group_out(
    groups: ArrayLike,
) -> Iterator[tuple[str, NDArray[np.int64], NDArray[np.int64]]]:
    """(group, train_idx, test_idx) per distinct group: the held-out capture never trains."""
    g = np.asarray(groups)
    names = list(dict.fromkeys(g.tolist()))
    if len(names) < 2:
        raise ConfigError(f"leave-one-group-out needs >= 2 groups, got {names}")
    all_idx = np.arange(g.size, dtype=np.int64)
    for name in names:
        mask = g == name
        yield str(name), all_idx[~mask], all_idx[mask]


def leave_one_family_out(
    family: ArrayLike,
    benign: str,
    benign_test_frac: float,
    seed: int,
    order: Sequence[str] | None = None,
) -> Iterator[tuple[str, NDArray[np.int64], NDArray[np.int64]]]:
    """(family, train_idx, test_idx) per attack family: no row of that family ever trains.

    Test = every row of the held-out family + a seeded ``benign_test_frac`` of the
    ``benign`` rows; train = all other rows. The benign test rows are the SAME in
    every fold and never train in any fold, so each fold's false-positive rate is
    measured on benign rows the models never saw and folds differ only in the
    family left out. ``order`` fixes the fold order (families absent from the data
    are skipped, present ones missing from it follow in sorted order).
    """
    fam = np.asarray(family)
    is_benign = fam == benign
    benign_idx = np.flatnonzero(is_benign)
    if benign_idx.size < 2:
        raise ConfigError(
            f"leave-one-family-out needs >= 2 {benign!r} rows (some to test the false-positive "
            f"rate on), got {benign_idx.size}"
        )
    present = set(fam[~is_benign].tolist())
    first = [f for f in dict.fromkeys(order or ()) if f in present]
    names = first + sorted(present - set(first))
    if len(names) < 2:
        raise ConfigError(f"leave-one-family-out needs >= 2 attack families, got {names}")
    _, bte = stratified_holdout(np.zeros(benign_idx.size), benign_test_frac, seed)
    benign_test = np.zeros(fam.size, dtype=bool)
    benign_test[benign_idx[bte]] = True
    all_idx = np.arange(fam.size, dtype=np.int64)
    for name in names:
        held = fam == name
        yield str(name), all_idx[~held & ~benign_test], all_idx[held | benign_test]


def stratified_subsample(y: ArrayLike, n: int, seed: int) -> NDArray[np.int64]:
    """At most ``n`` indices keeping class shares (every class keeps >= 1 row); sorted."""
    yy = np.asarray(y)
    if n >= yy.size:
        return np.arange(yy.size, dtype=np.int64)
    rng = np.random.default_rng(seed)
    out = []
    for cls in np.unique(yy):
        idx = np.flatnonzero(yy == cls)
        k = max(1, int(round(n * idx.size / yy.size)))
        out.append(rng.choice(idx, size=min(k, idx.size), replace=False))
    return np.sort(np.concatenate(out)).astype(np.int64)
