"""What one ``hamad report`` run is asked to do: its options and the dataset choices.

Why a module of its own: the command line (``hamad_plugin/cli/report.py``), the
protocol builder and the run metadata all read these options, while none of
them needs the code that runs or renders the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .runner import RunConfig

#: The ``--dataset`` choices, in document order.
DATASET_CHOICES: tuple[str, ...] = (
    "nsl-kdd",
    "unsw-nb15",
    "cicids2017",
    "cicids2017-improved",
    "zeek-conn",
)


@dataclass
class ReportOptions:
    """Command-line options of ``hamad report`` (all echoed into the document)."""

    out: Path = Path("docs")
    data_root: Path = Path("../shared/datasets")
    smoke: bool = False
    run: RunConfig = field(default_factory=RunConfig)
    unsw_folds: int = 5
    cicids_folds: int = 5
    datasets: tuple[str, ...] = DATASET_CHOICES
    multiclass: bool = True
    max_train: int | None = None
    max_test: int | None = None
    command: str = ""
    progress: bool = True
    #: Re-run only ``datasets`` and keep the other sections of OUT/evaluation.json.
    update: bool = False


def smoke_options(opts: ReportOptions) -> ReportOptions:
    """Tiny subsets, few trees, 1 CNN epoch: a CI-sized run of the same code path."""
    opts.smoke = True
    opts.max_train = opts.max_train or 1200
    opts.max_test = opts.max_test or 500
    opts.unsw_folds = 2
    opts.cicids_folds = 2
    opts.run.n_estimators = min(opts.run.n_estimators, 10)
    opts.run.cnn_max_rows = min(opts.run.cnn_max_rows, 400)
    opts.run.cnn_max_epochs = 1
    opts.run.onnx = False
    # Tiny data: thread start-up costs more than it saves (10x slower XGB on a busy 2-core box).
    opts.run.n_jobs = 1
    return opts
