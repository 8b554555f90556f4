"""``hamad fleet``: one model from several gateways over Flower; only model updates travel."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import ConfigError
from ..offline.fleet_config import FleetConfig
from .common import gateway_option

#: The one set of defaults: the options show FleetConfig's.
_D = FleetConfig()

if TYPE_CHECKING:
    from ..offline.fleet_launch import GatewaySpec


@click.command()
@gateway_option()
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Model directory.")
@click.option(
    "--rf-trees", default=_D.rf_trees, show_default=True, help="Forest trees per gateway."
)
@click.option(
    "--xgb-trees", default=_D.xgb_trees, show_default=True, help="Boosted trees per gateway."
)
@click.option(
    "--gate-rounds", default=_D.gate_rounds, show_default=True, help="FedAvg rounds of the gate."
)
@click.option(
    "--trim",
    default=_D.trim,
    show_default=True,
    help="Gateways dropped at each end of the gate's coordinate-wise trimmed mean.",
)
@click.option(
    "--min-review-auc",
    default=_D.min_review_auc,
    show_default=True,
    help="Leave out a gateway whose trees most peers score below this AUC on their rows "
    "(0 turns peer review off).",
)
@click.option(
    "--xgb-cycles",
    default=_D.xgb_cycles,
    show_default=True,
    help="0: average the gateways' boosters (bagging); N: boost in turn, N passes over them.",
)
@click.option("--target-fpr", default=_D.target_fpr, show_default=True)
@click.option(
    "--flip-labels",
    "flipped",
    multiple=True,
    metavar="NAME",
    help="Study only: this gateway trains on inverted labels (a poisoned update).",
)
@click.option(
    "--local",
    is_flag=True,
    help="Run every gateway in this process instead of over Flower (same steps, same bytes).",
)
@click.option(
    "--insecure",
    is_flag=True,
    help="Loopback without TLS (by default every Flower link is TLS with a throwaway CA).",
)
@click.option("--name", default=None, help="Model version (default: OUT's name and the date).")
def fleet(
    gateways: tuple[str, ...],
    out: str,
    rf_trees: int,
    xgb_trees: int,
    gate_rounds: int,
    trim: int,
    min_review_auc: float,
    xgb_cycles: int,
    target_fpr: float,
    flipped: tuple[str, ...],
    local: bool,
    insecure: bool,
    name: str | None,
) -> None:
    """Train one model across gateways with Flower (federated; traffic stays on each).

    Starts a Flower SuperLink and one SuperNode per --gateway on loopback, runs the
    fleet's steps (docs/fleet.md) and writes an ordinary model directory that
    ``hamad serve --model OUT`` takes; its metadata.json names the gateways (capture
    names and sha256 only), the rounds and the bytes each way.
    """
    from ..offline.fleet_launch import GatewaySpec, run_federation

    specs = [GatewaySpec.parse(g, flipped) for g in gateways]
    if len({s.name for s in specs}) != len(specs):
        raise ConfigError("gateway names must be distinct")
    unknown = set(flipped) - {s.name for s in specs}
    if unknown:
        raise ConfigError(f"--flip-labels names no gateway: {', '.join(sorted(unknown))}")
    if min(rf_trees, xgb_trees, gate_rounds) < 1 or trim < 0:
        raise ConfigError("--rf-trees, --xgb-trees and --gate-rounds must be >= 1, --trim >= 0")
    echo = lambda m: click.echo(m, err=True)  # noqa: E731
    if local:
        cfg = FleetConfig(
            rf_trees=rf_trees, xgb_trees=xgb_trees, gate_rounds=gate_rounds, trim=trim,
            target_fpr=target_fpr, min_review_auc=min_review_auc, xgb_cycles=xgb_cycles,
        )  # fmt: skip
        d = _local(specs, out, cfg, name, echo)
    else:
        rc: dict[str, object] = {"rf-trees": rf_trees, "xgb-trees": xgb_trees,
                                 "gate-rounds": gate_rounds, "trim": trim,
                                 "target-fpr": target_fpr, "min-review-auc": min_review_auc,
                                 "xgb-cycles": xgb_cycles,
                                 "name": name or ""}  # fmt: skip
        d = run_federation(specs, out, rc, echo=echo, tls=not insecure)
    meta = json.loads((d / "metadata.json").read_text())
    fl = meta["fleet"]
    click.echo(
        f"fleet model {meta['version']} in {d}: {len(fl['gateways'])} gateways, "
        f"{len(fl['rounds'])} rounds, {fl['bytes_total']:,} bytes exchanged, "
        f"threshold {meta['threshold']['threshold']:.4f}"
    )
    for e in meta["metrics"]["fleet_heldout_test"]:
        click.echo(
            f"  {e['gateway']}: held-out recall {e['recall']:.3f}, "
            f"false alarms {1e4 * e['fpr']:.1f}/10k benign ({int(e['benign'])} benign rows)"
        )


def _local(
    specs: list[GatewaySpec],
    out: str,
    cfg: FleetConfig,
    name: str | None,
    echo: Callable[[str], None],
) -> Path:
    from ..core.features import FeatureConfig, FeatureSchema
    from ..offline import fleet as fl

    config = FeatureConfig()
    gws = [fl.Gateway.load(s.name, s.paths, config, s.flip_labels) for s in specs]
    send = fl.run_local(gws)
    names = FeatureSchema.from_config(config).names
    fitted = fl.run_fleet(send, len(gws), names, cfg, echo=echo)
    meta = [{"gateway": g.name, "files": g.files} for g in gws]
    return fl.evaluate_and_write(send, out, fitted, meta, config, cfg, name=name)
