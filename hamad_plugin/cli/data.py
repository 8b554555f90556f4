"""``hamad data prepare``: validate a public dataset folder and cache training-ready arrays."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..research.datasets import DATASETS
from ..research.datasets.prepare import prepare_dataset


@click.group(name="data")
def data_group() -> None:
    """Validate public datasets and cache training-ready arrays."""


@data_group.command("prepare")
@click.option("--dataset", type=click.Choice(DATASETS), required=True)
@click.option(
    "--path",
    "path",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder holding the dataset's files (compressed .xz/.gz/.bz2 accepted).",
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
def prepare_command(dataset: str, path: Path, out: Path) -> None:
    """Validate DATASET files in --path and write <split>.npz + manifest.json to --out."""
    manifest = prepare_dataset(dataset, path, out)

    info = json.loads(manifest.read_text())
    for s in info["splits"]:
        click.echo(
            f"{s['name']}: {s['rows']:,} rows, {s['positives']:,} attacks -> {out / s['file']}"
        )
    click.echo(f"{info['n_features']} features; manifest: {manifest}")
