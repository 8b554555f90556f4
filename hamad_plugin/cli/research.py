"""The research instruments: ``hamad loco``, ``bench``, ``edge``, ``shards`` and ``simulate``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError, HamadError
from .common import data_option, gateway_option, model_option, progress


@click.command()
@data_option("Labelled conn log, one per capture (at least two).")
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
@click.option(
    "--neutralize",
    "neutralize",
    multiple=True,
    metavar="PREFIX",
    help="Ablation: hold the features whose names start with PREFIX (dst_, src_30m_, ...) "
    "at 0 in training and scoring (repeat for several).",
)
@click.option(
    "--train-extra",
    "train_extra",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Labelled conn log added to every fold's training and never held out (e.g. a "
    "simulated capture from a seed no evaluation uses; repeat for several).",
)
def loco(
    data: tuple[str, ...],
    out: str,
    target_fpr: float,
    n_estimators: int,
    seed: int,
    learn: tuple[float, ...],
    neutralize: tuple[str, ...],
    train_extra: tuple[str, ...],
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
    bar = progress(None, "loco", unit="step")

    def on_progress(msg: str) -> None:
        bar.set_postfix_str(msg)
        bar.update(1)

    res = run_loco(
        list(data),
        target_fpr=target_fpr,
        n_estimators=n_estimators,
        seed=seed,
        learn=learn,
        neutralize=neutralize,
        train_extra=train_extra,
        progress=on_progress,
    )
    bar.close()
    root = os.path.commonpath([str(Path(p).resolve().parent) for p in data])
    names = " ".join(f"--data DATA/{Path(p).resolve().relative_to(root)}" for p in data)
    cmd = (
        f"hamad loco {names} --target-fpr {target_fpr:g} "
        f"--n-estimators {n_estimators} --seed {seed}"
        + "".join(f" --learn {f:g}" for f in learn)
        + "".join(f" --neutralize {p}" for p in neutralize)
        + "".join(f" --train-extra {Path(p).name}" for p in train_extra)
    )
    img_dir = Path(out).parent / "img"
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    img = _loco_plots(res, img_dir)
    limg = _learning_plot(res, img_dir)
    text = render_markdown(
        res, cmd, target_fpr, n_estimators, seed, library_versions(),
        # The data relative to where the command ran (``../shared/datasets`` for
        # ``make loco``), never this machine's absolute path.
        data_note=os.path.relpath(root),
        pr_image=f"img/{img.name}" if img else None,
        learning_image=f"img/{limg.name}" if limg else None,
        neutralized=neutralize,
        train_extra=[Path(p).name for p in train_extra],
    )  # fmt: skip
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


@click.command()
@model_option()
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


@click.command()
@model_option()
@click.option("--edge-model", required=True, help="The int8 build (`hamad quantize --out DIR`).")
@data_option("Labelled conn log to compare detection on; repeat for several captures.")
@click.option(
    "--speed-log",
    required=True,
    type=click.Path(dir_okay=False),
    help="conn log for the one-core speed runs (graph alone and the whole replay path).",
)
@click.option("--json-out", default=None, type=click.Path(dir_okay=False))
@click.option("--md-out", default=None, type=click.Path(dir_okay=False))
def edge(
    model: str | None,
    edge_model: str,
    data: tuple[str, ...],
    speed_log: str,
    json_out: str | None,
    md_out: str | None,
) -> None:
    """Compare a model with its int8 build: size, one-core speed, detection deltas."""
    from ..research.edge import compare, markdown

    doc = compare(model, edge_model, data, speed_log, echo=lambda m: click.echo(m, err=True))
    command = "hamad edge " + " ".join(sys.argv[2:])
    text = markdown(doc, command)
    click.echo(text)
    if json_out:
        Path(json_out).write_text(json.dumps(doc, indent=1) + "\n")
    if md_out:
        Path(md_out).write_text(text)


@click.command()
@click.option(
    "--seed",
    "seeds",
    multiple=True,
    type=int,
    default=(17, 29),
    show_default=True,
    help="Simulator seed of a base day (repeat).",
)
@click.option("--hosts", default=64, show_default=True)
@click.option("--duration", default="24h", show_default=True)
@click.option("--connections", default=100_000, show_default=True)
@click.option("--learn", default="6h", show_default=True, help="The learning period.")
@click.option("--md-out", default=None, type=click.Path(dir_okay=False))
@click.option("--png-out", default=None, type=click.Path(dir_okay=False))
@click.option("--json-out", default=None, type=click.Path(dir_okay=False))
def evasion(
    seeds: tuple[int, ...],
    hosts: int,
    duration: str,
    connections: int,
    learn: str,
    md_out: str | None,
    png_out: str | None,
    json_out: str | None,
) -> None:
    """The evasion study: attacks rewritten (padded, jittered, slowed, spread, hidden)."""
    import tempfile

    from ..research.evasion import markdown, outcomes_json, plot, run_study
    from ..research.simulate import make_config
    from ..research.simulate import simulate as sim

    per_seed: dict[int, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            base = Path(tmp) / f"sim{seed}.conn.log"
            cfg = make_config(seed=seed, hosts=hosts, duration=duration, connections=connections)
            with open(base, "wb") as fh:
                sim(cfg, fh)
            echo = lambda m, s=seed: click.echo(f"seed {s}: {m}", err=True)  # noqa: E731
            per_seed[seed] = run_study(base, learn=learn, echo=echo)
    text = markdown(per_seed, "hamad evasion " + " ".join(sys.argv[2:]))
    click.echo(text)
    if md_out:
        Path(md_out).write_text(text)
    if png_out:
        plot(per_seed, Path(png_out))
    if json_out:
        doc = {str(s): outcomes_json(o) for s, o in per_seed.items()}
        Path(json_out).write_text(json.dumps(doc, indent=1) + "\n")


@click.command()
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
    bar = progress(connections, "simulate")
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


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@model_option()
@click.option(
    "--shards",
    "shard_counts",
    multiple=True,
    type=click.IntRange(2, 64),
    default=(2, 4),
    show_default=True,
    help="Split each file between this many shards by originator (repeat for several).",
)
@click.option(
    "--learn",
    "learn",
    default=None,
    metavar="DURATION",
    help="Each shard (and the one worker) learns its network first, as serve does: 6h, 1d.",
)
@click.option(
    "--local-net",
    "local_nets",
    multiple=True,
    help="CIDR of the monitored network (repeat); default RFC 1918 etc.",
)
@click.option("--json-out", default=None, type=click.Path(dir_okay=False))
def shards(
    files: tuple[str, ...],
    model: str | None,
    shard_counts: tuple[int, ...],
    learn: str | None,
    local_nets: tuple[str, ...],
    json_out: str | None,
) -> None:
    """Score each log once whole and once split between shards; compare the verdicts.

    What a Zeek cluster that shards scoring over its proxies (docs/zeek.md,
    "Scaling out") does to HAMAD's verdicts: each shard is a fresh `hamad serve`
    fed only its originators' connections, so responder-keyed features (dst_*)
    see part of the site. Prints connection-by-connection agreement and how far
    each label's flagged share moved (labelled input).
    """
    from ..core.settings import load_settings, with_overrides
    from ..research.shards import run_shards, table

    s = with_overrides(
        load_settings(None),
        model=model,
        features__local_networks=tuple(local_nets) if local_nets else None,
        learning__period=learn,
    )
    bar = progress(None, "shards")
    try:
        rows = run_shards(files, s, learn is not None, shard_counts, progress=bar.update)
    finally:
        bar.close()
    for line in table(rows):
        click.echo(line)
    if json_out:
        text = json.dumps([r.to_dict() for r in rows], indent=1)
        Path(json_out).write_text(text + "\n")


@click.command("fleet-study")
@gateway_option()
@click.option("--central-trees", default=60, show_default=True)
@click.option("--md-out", type=click.Path(dir_okay=False), default=None)
@click.option("--json-out", type=click.Path(dir_okay=False), default=None)
def fleet_study(
    gateways: tuple[str, ...], central_trees: int, md_out: str | None, json_out: str | None
) -> None:
    """docs/fleet.md: fleet vs local-only vs central, leave one gateway out, a poisoned one."""
    from ..offline.fleet_launch import GatewaySpec
    from ..research.fleet_study import markdown, run_study

    specs = [GatewaySpec.parse(g) for g in gateways]
    doc = run_study(
        {s.name: list(s.paths) for s in specs},
        central_trees=central_trees,
        echo=lambda m: click.echo(m, err=True),
    )
    text = markdown(doc, "hamad fleet-study " + " ".join(_shown(a) for a in sys.argv[2:]))
    click.echo(text)
    if md_out:
        Path(md_out).write_text(text)
    if json_out:
        Path(json_out).write_text(json.dumps(doc, indent=1) + "\n")


def _shown(arg: str) -> str:
    """Paths in the recorded command relative to the checkout, not this machine's."""
    cwd = str(Path.cwd()) + os.sep
    return arg.replace(cwd, "")
