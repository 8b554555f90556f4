"""Loaders for the public intrusion datasets HAMAD is evaluated on.

Each loader validates columns and label values and returns a
:class:`RawTable`; :class:`TabularEncoder` turns tables into float32
matrices with categoricals one-hot encoded from the TRAINING rows only.
``hamad data prepare`` writes the encoded arrays (``.npz``) and a
``manifest.json`` (source files with sha256, rows, label counts). Nothing is
ever downloaded.
"""

from __future__ import annotations

from .cicids2017 import load_cicids2017
from .cicids2017_improved import load_cicids2017_improved
from .common import PreparedSplit, RawTable, TabularEncoder, default_data_root, write_prepared
from .nsl_kdd import load_nsl_kdd
from .unsw_nb15 import load_unsw_nb15
from .zeek_conn import load_conn_dir, load_known_captures, read_labeled_conn_log

DATASETS: tuple[str, ...] = (
    "nsl-kdd",
    "unsw-nb15",
    "cicids2017",
    "cicids2017-improved",
    "iot23",
    "zeek-conn",
)

__all__ = [
    "DATASETS",
    "PreparedSplit",
    "RawTable",
    "TabularEncoder",
    "default_data_root",
    "load_cicids2017",
    "load_cicids2017_improved",
    "load_conn_dir",
    "load_known_captures",
    "load_nsl_kdd",
    "load_unsw_nb15",
    "read_labeled_conn_log",
    "write_prepared",
]
