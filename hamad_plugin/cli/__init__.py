"""The ``hamad`` command line: train, eval, replay, bench, info, simulate, serve, data, report.

Every failure HAMAD expects (bad input, missing model, bad config) is a
:class:`HamadError`, printed as ``Error: ...`` with exit code 1 (2 for
configuration and usage errors), never as a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .. import __version__
from ..errors import ConfigError, HamadError, OutputError


class _Group(click.Group):
    """Turns HamadError into ``Error: ...`` + exit code instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HamadError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)


def _progress(total: int | None, desc: str, unit: str = "conn") -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=True,
        file=sys.stderr,
        disable=None,
        dynamic_ncols=True,
    )


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hamad")
def cli() -> None:
    """HAMAD: ML anomaly detection for Zeek conn.log.

    \b
    Typical use:
      hamad replay conn.log            score a log with the shipped model
      hamad eval --data labelled.log   metrics + PNG plots on labelled data
      hamad train --data a.log --data b.log --out models/mine
      hamad serve --transport websocket   the live worker for the Zeek package
    """


_Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _data_option(help_text: str) -> _Decorator:
    """``--data FILE`` (repeatable, required): the conn logs a command reads."""
    return click.option(
        "--data", "data", multiple=True, required=True, type=click.Path(dir_okay=False),
        help=help_text,
    )  # fmt: skip


def _model_option() -> _Decorator:
    """``--model DIR``: which model directory to load."""
    return click.option(
        "--model", "model", default=None, help="Model directory (default: shipped model)."
    )


# --------------------------------------------------------------------------- train
@cli.command()
@_data_option("Labelled conn log (IoT-23 / Stratosphere); repeat for several captures.")
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
def train(
    data: tuple[str, ...],
    out: str,
    n_estimators: int,
    target_fpr: float,
    scales: str,
    seed: int,
    name: str | None,
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
    bar = _progress(len(data) + 1, "training", unit="step")
    last = {"stage": ""}

    def progress(stage: str, done: int, total: int) -> None:
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
        progress=progress,
    )
    bar.update(bar.total - bar.n)
    bar.close()
    m = res.metadata["metrics"]["heldout_test"]
    click.echo(f"model {res.metadata['version']} written to {res.out_dir}")
    click.echo(
        f"threshold (target FPR {target_fpr:g} on "
        f"{res.metadata['threshold']['n_calibration']} benign calibration rows): "
        f"{res.metadata['threshold']['threshold']:.4f}"
    )
    click.echo("held-out test rows (last 20 % of each capture, never trained on):")
    click.echo(_metrics_table({**m["per_capture"], "ALL": m["overall"]}))


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def _metrics_table(rows: dict[str, dict[str, Any]]) -> str:
    cols = ["n", "n_pos", "precision", "recall", "f1", "fpr", "roc_auc", "pr_auc"]
    width = max([len(k) for k in rows] + [8])
    lines = [f"{'capture':<{width}}  " + "  ".join(f"{c:>9}" for c in cols)]
    for name, m in rows.items():
        vals = [m.get(c, m.get(f"{c}_approx")) for c in cols]
        lines.append(f"{name:<{width}}  " + "  ".join(f"{_fmt(v):>9}" for v in vals))
    return "\n".join(lines)


# --------------------------------------------------------------------------- eval
@cli.command(name="eval")
@_model_option()
@_data_option("Labelled conn log; repeat for several captures.")
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
    bar = _progress(None, "eval")
    for path in data:
        pipe.extractor.reset()
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
    click.echo(_metrics_table({**per_file, "ALL": result["overall_at_calibrated_threshold"]}))
    click.echo(f"wrote {outp / 'metrics.json'} and {', '.join(p.name for p in pngs)}")


def _served_metrics(y: Any, scores: Any, flags: Any) -> dict[str, Any]:
    """Confusion and rates of the flags the pipeline actually raised (adaptive or not)."""
    from ..offline.replay import LabelledCounts

    counts = LabelledCounts()
    counts.add(y, scores, flags)
    return counts.metrics()


# --------------------------------------------------------------------------- replay
@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_model_option()
@click.option(
    "--config",
    "config",
    default=None,
    type=click.Path(dir_okay=False),
    help="YAML settings (threshold, features, ...); flags override it.",
)
@click.option(
    "--out",
    "out",
    default=None,
    type=click.Path(dir_okay=False),
    help="Write one JSON verdict per connection here ('-' = stdout).",
)
@click.option("--only-anomalies", is_flag=True, help="With --out: write anomalous verdicts only.")
@click.option("--threshold-mode", type=click.Choice(["fixed", "adaptive"]), default=None)
@click.option(
    "--threshold",
    "override",
    type=float,
    default=None,
    help="Pin the threshold to this score (disables adaptation).",
)
@click.option(
    "--local-net",
    "local_nets",
    multiple=True,
    help="CIDR of the monitored network (repeat); default RFC 1918 etc.",
)
@click.option("--batch-size", type=int, default=None, help="Connections per scoring batch.")
@click.option(
    "--learn",
    "learn",
    default=None,
    metavar="DURATION",
    help="Learn each file's network first, as serve does: 90s, 30min, 6h, 1d of event time "
    "from the file's first connection (verdicts meanwhile carry learning=true).",
)
@click.option(
    "--state-dir",
    "state_dir",
    default=None,
    type=click.Path(file_okay=False),
    help="With --learn: save what the last file taught here, as serve does (for hamad learn "
    "status, hamad drift, or to start serve from it).",
)
@click.option("--top", "top_n", default=10, show_default=True, help="Anomalies to list at the end.")
@click.option("--json-summary", is_flag=True, help="Print the summary as JSON.")
def replay(
    files: tuple[str, ...],
    model: str | None,
    config: str | None,
    out: str | None,
    only_anomalies: bool,
    threshold_mode: str | None,
    override: float | None,
    local_nets: tuple[str, ...],
    batch_size: int | None,
    learn: str | None,
    state_dir: str | None,
    top_n: int,
    json_summary: bool,
) -> None:
    """Stream conn logs through the live path and report anomalies.

    Same code as `hamad serve`: features -> ONNX ensemble -> threshold (->
    site learner with --learn). Constant memory. With labelled input (IoT-23 /
    Stratosphere) it also prints precision, recall, F1 and FPR.
    """
    from ..core.settings import load_settings, with_overrides
    from ..offline.replay import replay as run_replay
    from ..scoring.pipeline import Pipeline

    s = with_overrides(
        load_settings(config),
        model=model,
        batch_size=batch_size,
        threshold__mode=threshold_mode,
        threshold__override=override,
        features__local_networks=tuple(local_nets) if local_nets else None,
        learning__period=learn,
        learning__state_dir=state_dir,
    )
    if state_dir is not None and learn is None:
        raise click.BadParameter(
            "saves what --learn learned; add --learn", param_hint="--state-dir"
        )
    pipe = Pipeline.from_settings(s, learn=learn is not None)
    fh = None
    if out == "-":
        fh = sys.stdout
    elif out:
        try:
            fh = open(out, "w")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise OutputError(f"cannot write --out {out}: {exc.strerror or exc}") from exc
    bar = _progress(None, "replay")
    try:
        summ = run_replay(
            list(files),
            pipe,
            out=fh,
            batch_size=s.batch_size,
            top_n=top_n,
            all_verdicts=not only_anomalies,
            progress=bar.update,
        )
        if fh is not None and fh is not sys.stdout:
            fh.close()
    except OSError as exc:  # reading errors are the reader's; this is --out (disk full, ...)
        raise OutputError(f"cannot write --out {out}: {exc.strerror or exc}") from exc
    finally:
        bar.close()
    if state_dir is not None:
        from ..scoring.learning import state_path

        saved = state_path(state_dir, pipe.model_version)
        try:
            pipe.save_site(saved)
        except OSError as exc:
            msg = f"cannot save the learned state to {saved}: {exc.strerror or exc}"
            raise OutputError(msg) from exc
        click.echo(f"learned state saved to {saved}", err=True)
    d = summ.to_dict()
    if json_summary:
        click.echo(json.dumps(d, indent=1))
        summ.ingest.raise_if_damaged()
        return
    err = out == "-"
    echo = (lambda m: click.echo(m, err=True)) if err else click.echo
    echo(
        f"model {pipe.model_version}: {summ.connections} connections in {summ.seconds:.2f} s "
        f"({summ.rate:,.0f}/s), {summ.anomalous} anomalous "
        f"(threshold {d['threshold_range'][0]:.4f}..{d['threshold_range'][1]:.4f}, "
        f"mode {pipe.threshold.mode})"
    )
    if summ.ingest.bad_lines:
        echo(
            f"skipped {summ.ingest.bad_lines} malformed lines: "
            + "; ".join(d["malformed_examples"])
        )
    if summ.time_jumps_clamped:
        echo(
            f"{summ.time_jumps_clamped} connections ended more than an hour after the one before "
            "them and were scored at the event clock instead (a bad timestamp must not move it); "
            f"{summ.time_jumps_accepted} such gaps were confirmed by the connections after them"
        )
    if d["top_anomalies"]:
        echo("top anomalies:")
        for v in d["top_anomalies"]:
            feats = ", ".join(n for n, _ in v["top_features"])
            top_model = max(v["weights"], key=v["weights"].get) if v["weights"] else "-"
            echo(
                f"  {v['score']:.3f}  {v['uid']}  {v['orig_h']}:{v['orig_p']} -> "
                f"{v['resp_h']}:{v['resp_p']}/{v['proto']}  [{feats}; weighed most: {top_model}]"
            )
    for ls in summ.learning:
        echo(_learning_line(ls, Path(ls["file"]).name))
    if summ.learning:
        echo(
            f"  {summ.while_learning} connections scored while learning, "
            f"{summ.familiar} not flagged afterwards as familiar services"
        )
    if "metrics" in d:
        m = d["metrics"]
        echo(
            f"labelled rows: {m['n']} ({m['n_pos']} malicious, {m['n_neg']} benign, "
            f"{d['unlabelled_rows']} Background/unknown not scored)"
        )
        echo(
            "  "
            + "  ".join(
                f"{k}={_fmt(m[k])}"
                for k in ("precision", "recall", "f1", "fpr", "roc_auc_approx", "pr_auc_approx")
            )
        )
        echo(f"  confusion: tp={m['tp']} fp={m['fp']} tn={m['tn']} fn={m['fn']}")
        for line in _label_table(d["per_label"], m):
            echo(line)
        a = d.get("metrics_after_learning")
        if a is not None:
            fa = f"{1e4 * a['fp'] / a['n_neg']:.1f}" if a["n_neg"] else "n/a"
            echo(
                f"after learning: {a['n']} labelled rows ({a['n_pos']} malicious, "
                f"{a['n_neg']} benign): recall={_fmt(a['recall'])}, {a['fp']} false alarms "
                f"= {fa} per 10,000 benign"
            )
    summ.ingest.raise_if_damaged()


def _learning_line(ls: dict[str, Any], where: str) -> str:
    """One line on what the site learner did (replay, info, learn status)."""
    return (
        f"learning ({where}): {ls['phase']}, period {ls['period']}; {ls['learned']} connections "
        f"learned, {ls['kept_out']} kept out as malicious-looking, {ls['familiar_services']} "
        f"familiar services of {ls['services']}"
    )


def _label_table(rows: list[dict[str, Any]], m: dict[str, Any]) -> list[str]:
    """Per (detailed) label: rows and how many were flagged; false alarms per 10,000 benign."""
    width = max([len(r["label"]) for r in rows] + [14])
    lines = [
        "per label (flagged = scored anomalous):",
        f"  {'class':<9}  {'label':<{width}}  {'rows':>8}  {'flagged':>8}  {'share':>8}",
    ]
    for r in rows:
        cls = "malicious" if r["malicious"] else "benign"
        share = f"{100.0 * r['flagged'] / r['rows']:.1f} %"
        lines.append(
            f"  {cls:<9}  {r['label']:<{width}}  {r['rows']:>8}  {r['flagged']:>8}  {share:>8}"
        )
    if m["n_neg"]:
        lines.append(
            f"false alarms: {m['fp']} of {m['n_neg']} benign rows = "
            f"{1e4 * m['fp'] / m['n_neg']:.1f} per 10,000 benign connections"
        )
    return lines


# --------------------------------------------------------------------------- loco
@cli.command()
@_data_option("Labelled conn log, one per capture (at least two).")
@click.option(
    "--out",
    "out",
    default="docs/loco.md",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Markdown report to write.",
)
@click.option("--target-fpr", default=1e-4, show_default=True)
@click.option("--n-estimators", default=60, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--learn",
    "learn",
    multiple=True,
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    help="Also score each held-out capture as a new deployment that learns on this share "
    "of its time span first (repeat for several; the first is the headline).",
)
def loco(
    data: tuple[str, ...],
    out: str,
    target_fpr: float,
    n_estimators: int,
    seed: int,
    learn: tuple[float, ...],
) -> None:
    """Leave-one-capture-out evaluation: train on the others, score the held-out capture.

    Compares HAMAD with mean fusion, RF alone and the novelty detector alone
    (same fitted trees), at a threshold calibrated on the training captures.
    With --learn, each held-out capture is also streamed through the serving
    pipeline with a learning period, side by side with today's numbers.
    """
    from ..offline.train import library_versions
    from ..research.loco import render_markdown, run_loco

    if len(data) < 2:
        raise click.BadParameter("needs at least two captures", param_hint="--data")
    bar = _progress(None, "loco", unit="step")

    def progress(msg: str) -> None:
        bar.set_postfix_str(msg)
        bar.update(1)

    res = run_loco(
        list(data),
        target_fpr=target_fpr,
        n_estimators=n_estimators,
        seed=seed,
        learn=learn,
        progress=progress,
    )
    bar.close()
    import os

    root = os.path.commonpath([str(Path(p).resolve().parent) for p in data])
    names = " ".join(f"--data DATA/{Path(p).resolve().relative_to(root)}" for p in data)
    cmd = (
        f"hamad loco {names} --target-fpr {target_fpr:g} "
        f"--n-estimators {n_estimators} --seed {seed}" + "".join(f" --learn {f:g}" for f in learn)
    )
    text = render_markdown(res, cmd, target_fpr, n_estimators, seed, library_versions())
    # Name the data relative to where the command ran (``../shared/datasets`` for
    # ``make loco``), never by this machine's absolute path.
    shown = os.path.relpath(root)
    text = text.replace(
        "(conn logs)\n", f"(conn logs)\n\nDATA = `{shown}` (`make loco` runs this).\n", 1
    )
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    img = _loco_plots(res, Path(out).parent / "img")
    if img:
        text += "\n![PR curves per held-out capture](img/" + img.name + ")\n"
    limg = _learning_plot(res, Path(out).parent / "img")
    if limg:
        text = text.replace(
            "\n## Per capture and scorer",
            f"\n![false alarms and recall after learning](img/{limg.name})\n\n"
            "## Per capture and scorer",
            1,
        )
    Path(out).write_text(text)
    click.echo(text)


def _learning_plot(res: Any, img_dir: Path) -> Path | None:
    """Today's calibration vs the learned deployment, per held-out capture (``--learn``)."""
    from ..errors import DependencyError
    from ..research.loco import LEARN_VARIANTS, NO_LEARNING

    folds = [r for r in res if r.learning]
    if not folds:
        return None
    names = (NO_LEARNING[1], NO_LEARNING[0], LEARN_VARIANTS[0], LEARN_VARIANTS[1])
    rows = {n: [r.learning[0].rows[n] for r in folds] for n in names}
    try:
        from ..offline.plots import plot_learning

        return plot_learning(
            [r.capture for r in folds],
            {n: [row["fa_per_10k"] for row in rows[n]] for n in names},
            {n: [row["recall"] for row in rows[n]] for n in names},
            img_dir / "loco_learning.png",
        )
    except DependencyError:
        return None


def _loco_plots(res: Any, img_dir: Path) -> Path | None:
    """PR curves of HAMAD per held-out capture that has both classes."""
    from ..errors import DependencyError

    curves = {
        r.capture: (r.y, r.scores) for r in res if r.y is not None and 0 < r.y.sum() < len(r.y)
    }
    if not curves:
        return None
    try:
        from ..offline.plots import plot_pr_curves

        img_dir.mkdir(parents=True, exist_ok=True)
        return plot_pr_curves(curves, img_dir / "loco_pr.png", "HAMAD, leave-one-capture-out")
    except DependencyError:
        return None


# --------------------------------------------------------------------------- info
def _state_options() -> _Decorator:
    """``--config`` and ``--state-dir``: where the worker keeps what it learned."""

    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        f = click.option("--state-dir", default=None, type=click.Path(file_okay=False),
                         help="The worker's state directory [learning.state_dir of --config, "
                         "else ~/.local/state/hamad].")(f)  # fmt: skip
        return click.option("--config", "config", default=None, type=click.Path(dir_okay=False),
                            help="The worker's YAML settings.")(f)  # fmt: skip

    return deco


def _site(model: str | None, config: str | None, state_dir: str | None) -> tuple[Any, Path, bool]:
    """The pipeline serve would build, with the saved site state loaded if there is one."""
    from ..core.settings import load_settings, with_overrides
    from ..scoring.learning import state_path
    from ..scoring.pipeline import Pipeline

    s = with_overrides(load_settings(config), model=model, learning__state_dir=state_dir)
    pipe = Pipeline.from_settings(s)
    path = state_path(s.learning.state_dir, pipe.model_version)
    try:
        pipe.load_site(path)
    except FileNotFoundError:
        return pipe, path, False
    return pipe, path, True


@cli.command()
@_model_option()
@click.option(
    "--features", "show_features", is_flag=True, help="List every feature and its meaning."
)
@_state_options()
def info(model: str | None, show_features: bool, config: str | None, state_dir: str | None) -> None:
    """Check a model loads against this code and show its metadata and what was learned."""
    # The pipeline serve would build (one model load), with its saved site state.
    pipe, path, found = _site(model, config, state_dir)
    m = pipe.model
    meta = m.metadata
    click.echo(f"model:     {m.version} ({m.path})")
    click.echo(f"created:   {meta.get('created')} with hamad {meta.get('hamad_version')}")
    click.echo(f"members:   {', '.join(m.members)} fused by {meta.get('fusion')}")
    click.echo(
        f"features:  {len(m.feature_names)} (schema {meta['features']['hash']}, "
        f"scales {meta['features']['config'].get('scales')})"
    )
    t = meta["threshold"]
    click.echo(
        f"threshold: {t['threshold']:.4f} for target FPR {t['target_fpr']:g} "
        f"({t['n_calibration']} benign calibration rows), mode {t['mode']}"
    )
    for f in meta.get("training", {}).get("files", []):
        click.echo(
            f"trained on: {f.get('capture', f['path'])} ({f['path']}, "
            f"sha256 {f['sha256'][:12]}...) "
            f"{f['labelled_rows']} labelled rows"
        )
    if show_features:
        for n, d in zip(m.feature_names, meta["features"].get("descriptions", []), strict=False):
            click.echo(f"  {n:<36} {d}")
    if found and pipe.learner is not None:
        click.echo(_learning_line(pipe.learner.summary(), str(path)))
    else:
        click.echo(f"learning:  nothing learned yet for this model ({path} does not exist)")


# --------------------------------------------------------------------------- learn / drift
@cli.group()
def learn() -> None:
    """What the worker learned about this network: show it, or start over."""


@learn.command("status")
@_model_option()
@_state_options()
@click.option("--services", "n_services", default=10, show_default=True,
              help="Familiar services to list, most used first.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the state summary as JSON.")
def learn_status(
    model: str | None, config: str | None, state_dir: str | None, n_services: int, as_json: bool
) -> None:
    """Phase, counters and the most used familiar services."""
    pipe, path, found = _site(model, config, state_dir)
    lr = pipe.learner
    if not found or lr is None:
        click.echo(f"nothing learned yet for model {pipe.model_version}: no {path}")
        return
    summ = lr.summary()
    if as_json:
        click.echo(json.dumps({"state": str(path), **summ}, indent=1))
        return
    click.echo(_learning_line(summ, str(path)))
    click.echo(
        f"  {summ['seen']} connections seen; {summ['kept_out']} kept out "
        f"({summ['kept_out_flagged']} of them flagged), {summ['adapted']} learned after the "
        f"period, {summ['familiar']} not flagged as familiar, "
        f"{summ['forgotten']} services forgotten"
    )
    if summ["learning_until"] is not None:
        import datetime as _dt

        until = _dt.datetime.fromtimestamp(summ["learning_until"], _dt.timezone.utc)
        click.echo(f"  learning ends at network time {until:%Y-%m-%d %H:%M:%S} UTC")
    fam = lr.familiar()
    click.echo(f"most used familiar services (of {len(fam)}):")
    for key, v in fam[:n_services]:
        click.echo(f"  {_service(key)} {v[0]:9.1f} sightings")
    review = lr.review(n_services)
    if review:
        click.echo(
            f"review: {summ['learned_while_flagged']} familiar services reached the threshold "
            "while they were learned (an attack already running during learning that RF and "
            "XGBoost did not recognise is learned too; `hamad learn reset` if one is not yours):"
        )
        for key, v in review:
            click.echo(f"  {_service(key)} {v[3]:6.0f} of {v[0]:.0f} sightings above the threshold")


def _service(key: tuple[str, str, int, str]) -> str:
    kind, addr, port, proto = key
    return f"{'client' if kind == 'c' else 'group':<6} {addr:<39} {f'{port}/{proto}':<11}"


@learn.command("reset")
@_model_option()
@_state_options()
def learn_reset(model: str | None, config: str | None, state_dir: str | None) -> None:
    """Forget what was learned for this model; the next connection starts a new learning period.

    A running `hamad serve` notices the missing file at its next save
    (learning.save_interval) and starts over too.
    """
    _, path, found = _site(model, config, state_dir)
    if not found:
        click.echo(f"nothing to reset: no {path}")
        return
    path.unlink()
    click.echo(f"removed {path}; learning starts again with the next connection")


@cli.command()
@_model_option()
@_state_options()
@click.option(
    "--png",
    "png",
    default=None,
    type=click.Path(dir_okay=False),
    help="Also draw the report here (score histogram + top drifting features).",
)
@click.option("--top", "top", default=10, show_default=True, help="Features to list.")
def drift(
    model: str | None, config: str | None, state_dir: str | None, png: str | None, top: int
) -> None:
    """How this deployment differs from the model's training data.

    Feature shift (mean, in training standard deviations, and spread ratio),
    the site's score distribution against the shipped calibration, and the
    features that drifted most, from the worker's learned state.
    """
    from ..scoring.learning import drift as compute

    pipe, path, found = _site(model, config, state_dir)
    if not found or pipe.learner is None:
        raise ConfigError(
            f"no learned state at {path}: run `hamad serve` (or `hamad replay --learn`) first"
        )
    d = compute(pipe.learner, pipe.model.metadata)
    for line in d.lines(top):
        click.echo(line)
    if png:
        from ..offline.plots import plot_drift

        click.echo(f"wrote {plot_drift(d, png, top)}")


# --------------------------------------------------------------------------- bench
@cli.command()
@_model_option()
@click.option(
    "--data",
    "data",
    default=None,
    type=click.Path(dir_okay=False),
    help="conn log to benchmark on, looped (default: a simulated capture, `hamad simulate`).",
)
@click.option(
    "--connections",
    default=100_000,
    show_default=True,
    help="Connections for the throughput runs (simulated, or --data looped).",
)
@click.option(
    "--hosts",
    default=1_000_000,
    show_default=True,
    help="Hosts of the simulated network in the memory run (0 = skip).",
)
@click.option("--json-out", default=None, type=click.Path(dir_okay=False))
def bench(
    model: str | None, data: str | None, connections: int, hosts: int, json_out: str | None
) -> None:
    """Measure throughput, latency percentiles and peak memory; print a table + JSON."""
    from ..research.bench import run_bench

    res = run_bench(
        model=model,
        data=data,
        connections=connections,
        hosts=hosts,
        echo=lambda m: click.echo(m, err=True),
    )
    click.echo(res.table())
    text = json.dumps(res.to_dict(), indent=1)
    click.echo(text)
    if json_out:
        Path(json_out).write_text(text + "\n")


# --------------------------------------------------------------------------- simulate
@cli.command()
@click.option(
    "--out",
    "out",
    default=None,
    type=click.Path(dir_okay=False),
    help="conn.log to write ('-' = stdout). Parent directories are created.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["tsv", "json"]), default="tsv", show_default=True
)
@click.option("--seed", default=0, show_default=True, type=int, help="Same seed, same bytes.")
@click.option(
    "--connections",
    default=10_000,
    show_default=True,
    type=int,
    help="Rows to write (exactly; attacks included).",
)
@click.option(
    "--hosts",
    default=16,
    show_default=True,
    type=int,
    help="Devices behind the gateway (192.168.1.0/24 up to 253, else 10.0.0.0/8).",
)
@click.option(
    "--duration", default="1h", show_default=True, help="Capture length: 90s, 10m, 1h, 2d."
)
@click.option(
    "--start",
    default="2025-06-02T17:00:00Z",
    show_default=True,
    help="Capture start: ISO 8601 (UTC unless it says otherwise) or epoch seconds.",
)
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    metavar="NAME[@OFFSET]",
    help="Enable only these attacks (repeat); OFFSET like 10m, 90s or 25%. "
    "Default: every scenario at its default start.",
)
@click.option("--no-attacks", is_flag=True, help="Benign traffic only.")
@click.option(
    "--truth",
    default=None,
    type=click.Path(dir_okay=False),
    help="Ground-truth JSON (default: OUT.truth.json; none when writing to stdout).",
)
@click.option("--list-scenarios", is_flag=True, help="List the attack scenarios and exit.")
def simulate(
    out: str | None,
    fmt: str,
    seed: int,
    connections: int,
    hosts: int,
    duration: str,
    start: str,
    scenarios: tuple[str, ...],
    no_attacks: bool,
    truth: str | None,
    list_scenarios: bool,
) -> None:
    """Write a simulated home/small-office gateway capture as a labelled Zeek 8 conn.log.

    TSV with Zeek's headers (or JSON lines) plus IoT-23-style label and
    detailed-label columns, and a ground-truth JSON. Seeded: same options,
    same bytes. Streams in constant memory. Simulated traffic: detection
    figures on it are not evidence on real traffic (docs/simulator.md).
    """
    from ..research import simulate as sim

    if list_scenarios:
        click.echo(sim.list_scenarios())
        return
    if not out:
        raise ConfigError("--out is required (a file, or - for stdout)")
    cfg = sim.make_config(
        seed=seed, connections=connections, hosts=hosts, duration=duration, start=start,
        scenarios=scenarios, no_attacks=no_attacks, fmt=fmt,
    )  # fmt: skip
    truth_path = truth or (None if out == "-" else f"{out}.truth.json")
    bar = _progress(connections, "simulate")
    try:
        if out == "-":
            res = sim.simulate(cfg, sys.stdout.buffer, progress=bar.update)
        else:
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            with open(out, "wb", buffering=1 << 20) as fh:
                res = sim.simulate(cfg, fh, progress=bar.update)
    except OSError as exc:
        raise HamadError(f"cannot write {out}: {exc.strerror or exc}") from exc
    finally:
        bar.close()
    if truth_path:
        sim.write_truth(truth_path, res.truth)
    labels = res.truth["labels"]
    click.echo(
        f"wrote {res.rows:,} connections ({labels['Benign']:,} benign, {labels['Malicious']:,} "
        f"malicious in {len(cfg.scenarios)} scenarios) to {out} in {res.seconds:.2f} s "
        f"({res.rate:,.0f} rows/s)" + (f"; ground truth in {truth_path}" if truth_path else ""),
        err=True,
    )


def _register_commands() -> None:
    """Attach the commands that live in their own modules (serve, data, report).

    Their heavy imports (sklearn, torch, websockets) happen inside the commands,
    so importing them here keeps ``hamad --help`` fast.
    """
    from ..dashboard.cli import dashboard_command
    from ..research.datasets.cli import data_group
    from ..research.evaluation.cli import report_command
    from ..worker.serve import serve_command

    cli.add_command(serve_command)
    cli.add_command(dashboard_command)
    cli.add_command(data_group)
    cli.add_command(report_command)


_register_commands()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="hamad")
