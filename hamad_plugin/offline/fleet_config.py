"""The fleet's settings (one set of defaults for ``hamad fleet``, its Flower app and the
study), light to import: the CLI reads them for its ``--help``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

#: A message between the fleet server and one gateway: named numpy arrays only.
Payload = dict[str, np.ndarray]


@dataclass(frozen=True)
class FleetConfig:
    """How the fleet trains; the server sends it with every step."""

    rf_trees: int = 40
    xgb_trees: int = 60
    gate_rounds: int = 4
    gate_epochs: int = 75
    #: Gateways dropped at each end of every coordinate of the gate's trimmed mean.
    trim: int = 0
    target_fpr: float = 1e-4
    seed: int = 0
    #: A gateway whose trees most of its peers score below this AUC on their rows is left out.
    min_review_auc: float = 0.5
    #: 0: the fleet's booster is the mean of the gateways' (bagging). N >= 1: it is boosted
    #: in turn, N passes over the gateways, each adding its share of trees on top of the
    #: fleet's booster so far (Flower's cyclic XGBoost; worse than bagging in docs/fleet.md).
    xgb_cycles: int = 0

    def payload(self) -> Payload:
        return {k: np.asarray(v, dtype=np.float64) for k, v in self.__dict__.items()}

    @classmethod
    def of(cls, p: Mapping[str, np.ndarray]) -> FleetConfig:
        g = {k: np.asarray(p[k]).item() for k in cls().__dict__}
        return cls(
            rf_trees=int(g["rf_trees"]), xgb_trees=int(g["xgb_trees"]),
            gate_rounds=int(g["gate_rounds"]), gate_epochs=int(g["gate_epochs"]),
            trim=int(g["trim"]), target_fpr=float(g["target_fpr"]), seed=int(g["seed"]),
            min_review_auc=float(g["min_review_auc"]), xgb_cycles=int(g["xgb_cycles"]),
        )  # fmt: skip
