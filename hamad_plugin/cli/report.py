"""``hamad report``: regenerate the seed-comparison evaluation report."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from ..research.evaluation.report import (
    DATASET_CHOICES,
    ReportOptions,
    generate_report,
    smoke_options,
)
from ..research.evaluation.runner import RunConfig


def _command_line(ctx: click.Context) -> str:
    """The command as typed, rebuilt from the options that differ from their defaults."""
    parts = ["hamad report"]
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name is None:
            continue
        value = ctx.params.get(param.name)
        always = param.name in ("out", "data_root")
        if not always and (value == param.default or value in ((), None, False)):
            continue
        flag = param.opts[-1] if param.opts[-1].startswith("--") else param.opts[0]
        if param.is_flag:
            parts.append(flag)
        elif isinstance(value, tuple):
            parts += [f"{flag} {shlex.quote(str(v))}" for v in value]
        else:
            parts.append(f"{flag} {shlex.quote(str(value))}")
    return " ".join(parts)


@click.command("report")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("docs"),
    show_default=True,
    help="Output folder: evaluation.md, evaluation.json, img/*.png.",
)
@click.option(
    "--data-root",
    type=click.Path(path_type=Path),
    default=Path("../shared/datasets"),
    show_default=True,
    help="Folder holding nsl-kdd/, unsw-nb15/, cicids2017-improved/, iot23/, "
    "stratosphere-labeled-zeek/.",
)
@click.option("--smoke", is_flag=True, help="Tiny subsets and few trees (CI); numbers meaningless.")
@click.option(
    "--dataset",
    "datasets",
    multiple=True,
    type=click.Choice(DATASET_CHOICES),
    help="Restrict to these datasets (repeatable). Default: all found. cicids2017 = the "
    "original MachineLearningCVE CSVs, cicids2017-improved = the corrected re-release.",
)
@click.option(
    "--update",
    is_flag=True,
    help="Re-run only the --dataset(s) given and keep every other section of the existing "
    "OUT/evaluation.json (its numbers, plots, command and versions); the document is rendered "
    "again from the merged results.",
)
@click.option(
    "--target-fpr",
    type=float,
    default=0.01,
    show_default=True,
    help="Benign FPR the calibrated thresholds aim for (on TRAIN-side validation rows).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--n-estimators", type=int, default=100, show_default=True)
@click.option("--n-jobs", type=int, default=2, show_default=True)
@click.option("--unsw-folds", type=int, default=5, show_default=True)
@click.option("--no-cnn", is_flag=True, help="Skip the CNN-LSTM baseline (needs PyTorch).")
@click.option("--cnn-max-rows", type=int, default=5_000, show_default=True)
@click.option("--cnn-max-epochs", type=int, default=10, show_default=True)
@click.option("--no-student", is_flag=True, help="Skip the distilled ONNX student.")
@click.option("--no-multiclass", is_flag=True, help="Skip the multi-class tables.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def report_command(
    out: Path,
    data_root: Path,
    smoke: bool,
    datasets: tuple[str, ...],
    update: bool,
    target_fpr: float,
    seed: int,
    n_estimators: int,
    n_jobs: int,
    unsw_folds: int,
    no_cnn: bool,
    cnn_max_rows: int,
    cnn_max_epochs: int,
    no_student: bool,
    no_multiclass: bool,
    quiet: bool,
) -> None:
    """Regenerate the evaluation report (docs/evaluation.md + docs/img/*.png)."""
    run = RunConfig(
        target_fpr=target_fpr,
        seed=seed,
        n_estimators=n_estimators,
        n_jobs=n_jobs,
        cnn=not no_cnn,
        cnn_max_rows=cnn_max_rows,
        cnn_max_epochs=cnn_max_epochs,
        student=not no_student,
    )
    command = _command_line(click.get_current_context())
    opts = ReportOptions(
        out=out,
        data_root=data_root,
        run=run,
        unsw_folds=unsw_folds,
        datasets=datasets or DATASET_CHOICES,
        multiclass=not no_multiclass,
        command=command,
        progress=not quiet,
        update=update,
    )
    if smoke:
        smoke_options(opts)
    md = generate_report(opts)
    click.echo(f"wrote {md}, {out / 'evaluation.json'} and {out / 'img'}/*.png")
