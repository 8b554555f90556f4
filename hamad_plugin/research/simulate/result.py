"""What a simulation wrote: counts per label and scenario, timing, the ground truth.

Its own module because the run fills it and the ground truth is computed from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class SimResult:
    """What was written: counts per label and scenario, timing, the ground truth."""

    rows: int = 0
    seconds: float = 0.0
    counts: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    first_ts: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    last_ts: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    last_end_us: int = 0
    truth: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0
