"""Reproducible evaluation: protocols, baselines, ablations and the ``hamad report`` command."""

from __future__ import annotations

from .splits import (
    leave_one_family_out,
    leave_one_group_out,
    stratified_holdout,
    stratified_kfold,
    stratified_subsample,
)

__all__ = [
    "leave_one_family_out",
    "leave_one_group_out",
    "stratified_holdout",
    "stratified_kfold",
    "stratified_subsample",
]
