"""``hamad train``, ``hamad quantize`` and ``hamad eval``: make a model, and measure one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..errors import HamadError
from .common import data_option, model_option, progress
from .render import metrics_table


@click.command()
@data_option("Labelled conn log (IoT-23 / Stratosphere); repeat for several captures.")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False),
    help="Model directory to write (model.onnx + metadata.json).",
)
@click.option("--n-estimators", default=100, show_default=True, help="Trees per tree member.")
@click.option(
    "--target-fpr",
    default=1e-4,
    show_default=True,
    help="False-positive rate the threshold is calibrated for on benign validation rows.",
)
@click.option(
    "--scales",
    default="10,120,1800",
    show_default=True,
    help="Feature window lengths in seconds, comma-separated.",
)
@click.option("--seed", default=0, show_default=True)
@click.option("--name", default=None, help="Model version string (default: DIR-NAME-DATE).")
@click.option(
    "--quantize",
    is_flag=True,
    help="Also write the int8 edge build into OUT-int8, calibrated on the training logs.",
)
def train(
    data: tuple[str, ...],
    out: str,
    n_estimators: int,
    target_fpr: float,
    scales: str,
    seed: int,
    name: str | None,
    quantize: bool,
) -> None:
    """Train the ensemble on labelled conn logs and export it to ONNX.

    Each capture is split in time order: 70 % train, 10 % threshold
    calibration (benign rows), 20 % held-out test. Prints the held-out metrics.
    """
    from ..core.features import FeatureConfig
    from ..offline.train import train_model

    try:
        scale_t = tuple(float(s) for s in scales.split(","))
    except ValueError as exc:
        raise click.BadParameter(f"expected numbers like 10,120,1800, got {scales!r}") from exc
    config = FeatureConfig(scales=scale_t)
    bar = progress(len(data) + 1, "training", unit="step")
    last = {"stage": ""}

    def on_progress(stage: str, done: int, total: int) -> None:
        if stage != last["stage"]:
            bar.set_postfix_str(stage)
            last["stage"] = stage
            if stage != "features" and done:
                bar.update(1)

    res = train_model(
        list(data),
        out,
        config=config,
        n_estimators=n_estimators,
        target_fpr=target_fpr,
        seed=seed,
        name=name,
        progress=on_progress,
    )
    bar.update(bar.total - bar.n)
    bar.close()
    mf = res.manifest
    m = (mf.metrics or {})["heldout_test"]
    click.echo(f"model {mf.version} written to {res.out_dir}")
    click.echo(
        f"threshold (target FPR {target_fpr:g} on "
        f"{mf.threshold.n_calibration} benign calibration rows): "
        f"{mf.threshold.threshold:.4f}"
    )
    if note := mf.threshold.resolution_note():
        click.echo(f"note: {note}")
    click.echo("held-out test rows (last 20 % of each capture, never trained on):")
    click.echo(metrics_table({**m["per_capture"], "ALL": m["overall"]}))
    if quantize:
        _quantize(str(res.out_dir), f"{res.out_dir}-int8", data, None, None)


@click.command()
@model_option()
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False),
    help="Model directory to write the edge build into.",
)
@click.option(
    "--calibration",
    "calibration",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False),
    help="Conn log whose connections set the int8 ranges (repeatable; labels not read). "
    "Your own site's traffic is best; `hamad simulate` writes one otherwise.",
)
@click.option(
    "--rows",
    default=None,
    type=click.IntRange(min=1),
    help="Calibration rows, spread over the logs  [default: 20,000].",
)
@click.option("--name", default=None, help="Model version string (default: SOURCE-VERSION-int8).")
def quantize(
    model: str | None, out: str, calibration: tuple[str, ...], rows: int | None, name: str | None
) -> None:
    """Write an edge build of a model: int8 where it costs no detection (docs/edge.md).

    The novelty member's projections become int8 (static, calibrated); the tree
    ensembles lose a layout hint onnxruntime never reads; the attention gate stays
    float32. The result serves like any model: `hamad serve --model OUT`.
    """
    _quantize(model, out, calibration, rows, name)


def _quantize(
    model: str | None, out: str, calibration: tuple[str, ...], rows: int | None, name: str | None
) -> None:
    from ..offline.quantize import CALIBRATION_ROWS, calibration_rows, quantize_model
    from ..scoring.model import LoadedModel

    src = LoadedModel.load(model)
    limit = rows or CALIBRATION_ROWS
    bar = progress(limit, "calibration rows", unit="row")
    X = calibration_rows(calibration, src.feature_config, limit, progress=bar.update)
    bar.close()
    res = quantize_model(
        model, out, X, calibration_from=[Path(c).name for c in calibration], name=name
    )
    thr = res.manifest.threshold.threshold
    click.echo(
        f"model {res.manifest.version} written to {res.out_dir}: model.onnx "
        f"{res.source_bytes:,} -> {res.quantized_bytes:,} bytes"
    )
    click.echo(
        f"on the {res.rows_checked:,} calibration rows: largest score change "
        f"{res.max_abs_score_delta:.4f}, {res.flag_disagreements} flag(s) changed at "
        f"the threshold {thr:.4f}"
    )


@click.command(name="eval")
@model_option()
@data_option("Labelled conn log; repeat for several captures.")
@click.option(
    "--out",
    "out",
    default="eval-out",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Directory for metrics.json and the PNG plots.",
)
@click.option(
    "--threshold-mode",
    type=click.Choice(["fixed", "adaptive"]),
    default=None,
    help="Override the model's threshold mode.",
)
def eval_cmd(
    model: str | None, data: tuple[str, ...], out: str, threshold_mode: str | None
) -> None:
    """Score labelled conn logs; write metrics JSON and PNG plots.

    Runs the live path (fresh windows per file). Writes metrics.json,
    confusion_matrix.png, roc.png, pr.png and score_hist.png into --out.
    """
    import numpy as np

    from ..offline.ingest import read_conn_log
    from ..offline.metrics import binary_metrics
    from ..offline.plots import save_eval_plots
    from ..offline.replay import batches
    from ..scoring.pipeline import Pipeline

    pipe = Pipeline.load(model, threshold_mode=threshold_mode)
    ys: list[int] = []
    scores: list[float] = []
    flags: list[bool] = []
    per_file: dict[str, Any] = {}
    bar = progress(None, "eval")
    for path in data:
        pipe.reset_windows()
        reader = read_conn_log(path)
        fy: list[int] = []
        fs: list[float] = []
        for batch in batches(reader, 1024):
            for rec, v in zip(batch, pipe.score(batch), strict=True):
                mal = rec.is_malicious
                if mal is None:
                    continue
                fy.append(int(mal))
                fs.append(v.score)
                flags.append(v.anomalous)
            bar.update(len(batch))
        reader.stats.raise_if_damaged()
        if not fy:
            raise HamadError(
                f"{path}: no Benign/Malicious labels; `hamad eval` needs labelled logs "
                "(use `hamad replay` for unlabelled ones)"
            )
        per_file[Path(path).name] = binary_metrics(fy, fs, pipe.threshold.current())
        per_file[Path(path).name]["malformed_lines"] = reader.stats.bad_lines
        ys += fy
        scores += fs
    bar.close()
    y = np.asarray(ys)
    s = np.asarray(scores)
    thr = pipe.threshold.threshold_
    result: dict[str, Any] = {
        "model": pipe.model_version,
        "threshold": {"calibrated": thr, "mode": pipe.threshold.mode},
        "overall_at_calibrated_threshold": binary_metrics(y, s, thr),
        "overall_as_served": _served_metrics(y, s, np.asarray(flags, dtype=bool)),
        "per_file": per_file,
    }
    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    (outp / "metrics.json").write_text(json.dumps(result, indent=1) + "\n")
    pngs = save_eval_plots(y, s, thr, outp, f"HAMAD {pipe.model_version}")
    click.echo(json.dumps(result["overall_at_calibrated_threshold"], indent=1))
    click.echo(metrics_table({**per_file, "ALL": result["overall_at_calibrated_threshold"]}))
    click.echo(f"wrote {outp / 'metrics.json'} and {', '.join(p.name for p in pngs)}")


def _served_metrics(y: Any, scores: Any, flags: Any) -> dict[str, Any]:
    """Confusion and rates of the flags the pipeline actually raised (adaptive or not)."""
    from ..offline.replay import LabelledCounts

    counts = LabelledCounts()
    counts.add(y, scores, flags)
    return counts.metrics()
