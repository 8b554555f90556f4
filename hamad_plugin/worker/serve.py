"""Old import path of the serve worker; nothing lives here any more. Delete me.

``hamad serve`` was split by concern: the loop is :mod:`.loop`, the production
scorer :mod:`.scorer`, the counters and the metrics' snapshot :mod:`.state`,
the logs :mod:`.logs` and the click command :mod:`hamad_plugin.cli.serve`.
This module only keeps ``from hamad_plugin.worker.serve import Worker`` /
``PipelineScorer`` working for tests/test_grafana.py and tests/test_learning.py
until they import from the new homes.
"""

from __future__ import annotations

from .loop import Worker, run_worker
from .scorer import WORKER_OPTIONS, PipelineScorer, unit_interval
from .state import Counters

__all__ = ["WORKER_OPTIONS", "Counters", "PipelineScorer", "Worker", "run_worker", "unit_interval"]
