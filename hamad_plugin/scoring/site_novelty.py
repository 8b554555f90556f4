"""Novelty that knows the site: "unlike what this network does" as a score.

The shipped novelty member measures how unlike the *training captures* a
connection is. On a network the model never saw almost everything is unlike
them, so that score says little there (its recall on held-out captures is
near zero, docs/loco.md). What the learning period sees is a better
reference: how this site's clients use each service.

Per service class (transport and responder port, high ports pooled) the
learner keeps running means and variances of the connection's own features
(sizes, packets, duration, state and history flags) over the connections it
learns from, plus a small reservoir of them. When learning ends, each class
with enough connections freezes its scale: ``c`` is the 99th percentile of
the reservoir's distances, so a score is ``e / (e + c)``, 0.5 at the 99th
percentile of the site's own traffic of that service, the same scale the
shipped novelty member uses. :class:`~hamad_plugin.scoring.pipeline.Pipeline`
then puts it in the novelty member's place in the fused score, with the
weight the gate gave that member. Services not learned keep the shipped
novelty.

Bounded: at most :data:`MAX_CLASSES` classes, :data:`RESERVOIR` rows each.
Not persisted with the learned state: after a restart the shipped novelty
member is used until the next learning period.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

#: Service classes tracked (transport x responder port; ports >= 1024 pooled per transport).
MAX_CLASSES = 512
#: Learned connections a class needs before its distances mean something.
MIN_ROWS = 50
#: Rows kept per class to set its scale when learning ends.
RESERVOIR = 256
#: Squared standardised deviations are capped here (one odd flag must not dominate).
CLIP = 25.0
#: Smallest standard deviation a feature is measured in (flags constant while learning).
MIN_SD = 0.25


def service_classes(proto: Sequence[str], resp_p: Sequence[int]) -> list[str]:
    """The class of each connection: ``tcp/443``, ``udp/53``, ``tcp/high`` ..."""
    return [f"{p}/{q if q < 1024 else 'high'}" for p, q in zip(proto, resp_p, strict=True)]


@dataclass
class _ClassStats:
    n: int
    sum: np.ndarray
    sumsq: np.ndarray
    #: Each class draws from its own generator, seeded by its name: the reservoir depends
    #: only on the class's rows in stream order, never on how the stream was batched.
    rng: np.random.Generator
    reservoir: list[np.ndarray] = field(default_factory=list)
    offered: int = 0


class SiteNovelty:
    """Per-service distance to the site's learned traffic (see the module docstring)."""

    def __init__(self, n_features: int) -> None:
        self.n_features = n_features
        self._stats: dict[str, _ClassStats] = {}
        #: class -> (mean, sd, c) once frozen
        self.frozen: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}

    @property
    def ready(self) -> bool:
        return bool(self.frozen)

    def learn(self, classes: Sequence[str], X: np.ndarray) -> None:
        """Add learned connections (own features only) to their classes."""
        X = np.asarray(X, dtype=np.float64)
        if not len(X):
            return
        uniq, inv = np.unique(np.asarray(classes), return_inverse=True)
        for k, cls in enumerate(uniq.tolist()):
            rows = X[inv.reshape(-1) == k]
            st = self._stats.get(cls)
            if st is None:
                if len(self._stats) >= MAX_CLASSES:
                    continue
                zeros = np.zeros(self.n_features)
                rng = np.random.default_rng(zlib.crc32(cls.encode()))
                st = self._stats[cls] = _ClassStats(0, zeros, zeros.copy(), rng)
            st.n += len(rows)
            st.sum += rows.sum(axis=0)
            st.sumsq += (rows * rows).sum(axis=0)
            for row in rows:  # reservoir sampling: every learned row equally likely kept
                st.offered += 1
                if len(st.reservoir) < RESERVOIR:
                    st.reservoir.append(row)
                else:
                    j = int(st.rng.integers(st.offered))
                    if j < RESERVOIR:
                        st.reservoir[j] = row

    def freeze(self) -> None:
        """Learning is over: fix each well-seen class's reference and scale."""
        for cls, st in self._stats.items():
            if st.n < MIN_ROWS:
                continue
            mean = st.sum / st.n
            var = np.maximum(st.sumsq / st.n - mean * mean, 0.0)
            sd = np.maximum(np.sqrt(var), MIN_SD)
            e = self._distance(np.asarray(st.reservoir), mean, sd)
            self.frozen[cls] = (mean, sd, float(max(np.quantile(e, 0.99), 1e-6)))
        self._stats.clear()

    @staticmethod
    def _distance(X: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
        z = (X - mean) / sd
        return np.asarray(np.minimum(z * z, CLIP).mean(axis=1))

    def score(self, classes: Sequence[str], X: np.ndarray) -> np.ndarray:
        """Site novelty in [0, 1) per row; NaN where the class was not learned."""
        X = np.asarray(X, dtype=np.float64)
        out = np.full(len(X), np.nan)
        if not len(X):
            return out
        uniq, inv = np.unique(np.asarray(classes), return_inverse=True)
        for k, cls in enumerate(uniq.tolist()):
            ref = self.frozen.get(cls)
            if ref is None:
                continue
            idx = inv.reshape(-1) == k
            e = self._distance(X[idx], ref[0], ref[1])
            out[idx] = e / (e + ref[2])
        return out
