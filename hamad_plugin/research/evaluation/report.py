"""``hamad report``: run every protocol, write docs/evaluation.md + docs/img/*.png.

Everything in the generated document comes from the recorded runs: the numbers,
the split descriptions, the software versions, the command lines and the dates.
The per-fold results are written next to it as ``evaluation.json``, and the
document is rendered from that data alone (:mod:`.store`), so ``--update``
can re-run some datasets and keep the others' sections as they were.

This module is the entry: which protocols to run, the run itself, and what
is written where. The steps live in their own modules: :mod:`.options` (what
a run is asked to do), :mod:`.collect` (running the folds), :mod:`.aggregate`
(numbers derived from the records), :mod:`.figures` (the plots),
:mod:`.document` with :mod:`.tables`, :mod:`.summary`, :mod:`.discussion` and
:mod:`.provenance` (the Markdown).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...errors import HamadError, InputFormatError
from .aggregate import aggregate, pooled_metrics
from .collect import run_protocols
from .document import write_document
from .figures import write_plots
from .options import DATASET_CHOICES, ReportOptions, smoke_options
from .protocols import Protocol
from .provenance import loadavg, run_info
from .store import FORMAT, ReportData, jsonable, load_report_data, merge_report_data

__all__ = [
    "DATASET_CHOICES",
    "ReportOptions",
    "build_protocols",
    "generate_report",
    "report_payload",
    "smoke_options",
    "write_document",
]


def _protocols_of(ds: str, opts: ReportOptions) -> list[Protocol]:
    """The protocols of one ``--dataset`` choice (raises when its data is missing)."""
    from .protocols import (
        cicids_improved_protocols,
        cicids_protocol,
        conn_log_protocol,
        nsl_kdd_protocols,
        unsw_protocol,
    )

    root, seed = opts.data_root, opts.run.seed
    if ds == "nsl-kdd":
        return nsl_kdd_protocols(root / "nsl-kdd", seed, opts.max_train, opts.max_test)
    if ds == "unsw-nb15":
        return [unsw_protocol(root / "unsw-nb15", seed, opts.unsw_folds, opts.max_train)]
    if ds == "cicids2017":
        return [cicids_protocol(root / "cicids2017", seed, 5, opts.max_train)]
    if ds == "cicids2017-improved":
        return cicids_improved_protocols(
            root / "cicids2017-improved", seed, opts.cicids_folds, opts.max_train
        )
    if ds == "zeek-conn":
        cap = None if opts.max_train is None else max(opts.max_train // 6, 50)
        return [conn_log_protocol(root, seed, None, cap)]
    raise InputFormatError(f"unknown dataset {ds!r}; expected one of {DATASET_CHOICES}")


def build_protocols(opts: ReportOptions) -> tuple[list[Protocol], list[str]]:
    """The protocols whose data exists under the data root; plus what was skipped and why."""
    root = opts.data_root
    if not root.is_dir():
        raise InputFormatError(
            f"{root}: data root not found; expected the shared datasets folder (nsl-kdd/, "
            "unsw-nb15/, cicids2017-improved/, iot23/, stratosphere-labeled-zeek/); pass "
            "--data-root"
        )
    protocols: list[Protocol] = []
    missing: list[str] = []
    for ds in opts.datasets:
        try:
            built = _protocols_of(ds, opts)
        except HamadError as exc:
            missing.append(f"{ds}: {exc}")
            continue
        for p in built:
            p.choice = ds
        protocols += built
    if not protocols:
        raise InputFormatError(f"{root}: none of the datasets could be loaded: {missing}")
    return protocols, missing


def report_payload(data: ReportData) -> dict[str, Any]:
    """evaluation.json: what :func:`load_report_data` reads back, plus derived aggregates."""
    return {
        "format": FORMAT,
        "smoke": data.smoke,
        "runs": data.runs,
        "missing": data.missing,
        "sources": data.sources,
        "benchmarks": [
            {
                **b.to_dict(),
                "aggregate_calibrated": aggregate(b, "calibrated"),
                "aggregate_0.5": aggregate(b, "0.5"),
                "pooled": pooled_metrics(b) if b.n_folds > 1 else None,
            }
            for b in data.benches
        ],
        "multiclass": data.multiclass,
    }


def generate_report(opts: ReportOptions) -> Path:
    """Run the protocols and write evaluation.md, evaluation.json and img/*.png under opts.out.

    With ``opts.update`` only ``opts.datasets`` are run; every other dataset's results in
    the existing evaluation.json are kept and the whole document is rendered again.
    """
    t0 = time.perf_counter()
    json_path = opts.out / "evaluation.json"
    previous = load_report_data(json_path) if opts.update else None
    opts.out.mkdir(parents=True, exist_ok=True)
    protocols, missing = build_protocols(opts)
    load_before = loadavg()
    with _single_thread_blas():
        benches, multi = run_protocols(protocols, opts)
    load = (load_before, loadavg())
    write_plots(benches, multi, opts.out)
    data = ReportData(
        runs=[run_info(opts, time.perf_counter() - t0, load)],
        benches=benches,
        multiclass=multi,
        sources={p.key: p.sources for p in protocols},
        missing=missing,
        smoke=opts.smoke,
    )
    if previous is not None:
        data = merge_report_data(previous, data, opts.datasets, DATASET_CHOICES)
    md = write_document(data, opts.out)
    json_path.write_text(json.dumps(jsonable(report_payload(data)), indent=1) + "\n")
    return md


@contextlib.contextmanager
def _single_thread_blas() -> Iterator[None]:
    """BLAS on one thread: on a shared 2-core box, 2 BLAS threads made small SVDs 6-14x slower.

    Tree models keep their own ``n_jobs`` threads.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
