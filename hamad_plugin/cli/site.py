"""``hamad info``, ``learn`` and ``drift``: the model, and what a worker learned of its site."""

from __future__ import annotations

import json

import click

from ..errors import ConfigError
from .common import model_option, open_site, state_options
from .render import learning_line, service_line


@click.command()
@model_option()
@click.option(
    "--features", "show_features", is_flag=True, help="List every feature and its meaning."
)
@state_options()
def info(model: str | None, show_features: bool, config: str | None, state_dir: str | None) -> None:
    """Check a model loads against this code and show its metadata and what was learned."""
    # The pipeline serve would build (one model load), with its saved site state.
    pipe, path, found = open_site(model, config, state_dir)
    m = pipe.model
    mf = m.manifest
    click.echo(f"model:     {m.version} ({m.path})")
    click.echo(f"created:   {mf.created} with hamad {mf.hamad_version}")
    click.echo(f"members:   {', '.join(m.members)} fused by {mf.fusion}")
    click.echo(
        f"features:  {len(m.feature_names)} (schema {mf.features.hash}, "
        f"scales {list(m.feature_config.scales)})"
    )
    t = mf.threshold
    click.echo(
        f"threshold: {t.threshold:.4f} for target FPR {t.target_fpr:g} "
        f"({t.n_calibration} benign calibration rows), mode {t.mode}"
    )
    if note := t.resolution_note():
        click.echo(f"           note: {note}")
    for f in mf.training.files if mf.training is not None else ():
        click.echo(
            f"trained on: {f.capture} ({f.path}, sha256 {f.sha256[:12]}...) "
            f"{f.labelled_rows} labelled rows"
        )
    if show_features:
        for n, d in zip(m.feature_names, mf.features.descriptions or (), strict=False):
            click.echo(f"  {n:<36} {d}")
    if found and pipe.learner is not None:
        click.echo(learning_line(pipe.learner.summary(), str(path)))
    else:
        click.echo(f"learning:  nothing learned yet for this model ({path} does not exist)")


@click.group()
def learn() -> None:
    """What the worker learned about this network: show it, or start over."""


@learn.command("status")
@model_option()
@state_options()
@click.option("--services", "n_services", default=10, show_default=True,
              help="Familiar services to list, most used first.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the state summary as JSON.")
def learn_status(
    model: str | None, config: str | None, state_dir: str | None, n_services: int, as_json: bool
) -> None:
    """Phase, counters and the most used familiar services."""
    pipe, path, found = open_site(model, config, state_dir)
    lr = pipe.learner
    if not found or lr is None:
        click.echo(f"nothing learned yet for model {pipe.model_version}: no {path}")
        return
    summ = lr.summary()
    if as_json:
        click.echo(json.dumps({"state": str(path), **summ}, indent=1))
        return
    click.echo(learning_line(summ, str(path)))
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
        click.echo(f"  {service_line(key)} {v[0]:9.1f} sightings")
    review = lr.review(n_services)
    if review:
        click.echo(
            f"review: {summ['learned_while_flagged']} familiar services reached the threshold "
            "while they were learned (an attack already running during learning that RF and "
            "XGBoost did not recognise is learned too; `hamad learn reset` if one is not yours):"
        )
        for key, v in review:
            click.echo(
                f"  {service_line(key)} {v[3]:6.0f} of {v[0]:.0f} sightings above the threshold"
            )


@learn.command("reset")
@model_option()
@state_options()
def learn_reset(model: str | None, config: str | None, state_dir: str | None) -> None:
    """Forget what was learned for this model; the next connection starts a new learning period.

    A running `hamad serve` notices the missing file at its next save
    (learning.save_interval) and starts over too.
    """
    _, path, found = open_site(model, config, state_dir)
    if not found:
        click.echo(f"nothing to reset: no {path}")
        return
    path.unlink()
    click.echo(f"removed {path}; learning starts again with the next connection")


@click.command()
@model_option()
@state_options()
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
    from ..offline.drift import drift as compute

    pipe, path, found = open_site(model, config, state_dir)
    if not found or pipe.learner is None:
        raise ConfigError(
            f"no learned state at {path}: run `hamad serve` (or `hamad replay --learn`) first"
        )
    d = compute(pipe.learner, pipe.model.manifest)
    for line in d.lines(top):
        click.echo(line)
    if png:
        from ..offline.plots import plot_drift

        click.echo(f"wrote {plot_drift(d, png, top)}")
