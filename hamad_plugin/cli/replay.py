"""``hamad replay``: stream conn logs through the scoring path that ``hamad serve`` runs."""

from __future__ import annotations

import json
import sys
from typing import IO, TYPE_CHECKING

import click

from ..errors import OutputError
from .common import model_option, progress
from .render import replay_summary

if TYPE_CHECKING:
    from ..scoring.pipeline import Pipeline


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@model_option()
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

    if state_dir is not None and learn is None:
        raise click.BadParameter(
            "saves what --learn learned; add --learn", param_hint="--state-dir"
        )
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
    pipe = Pipeline.from_settings(s, learn=learn is not None)
    fh = _open_out(out)
    bar = progress(None, "replay")
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
        _save_site(pipe, state_dir)
    d = summ.to_dict()
    if json_summary:
        click.echo(json.dumps(d, indent=1))
    else:
        to_stderr = out == "-"  # the verdicts own stdout
        for line in replay_summary(d, pipe.model_version, pipe.threshold.mode):
            click.echo(line, err=to_stderr)
    summ.ingest.raise_if_damaged()


def _open_out(out: str | None) -> IO[str] | None:
    """The ``--out`` stream: stdout for ``-``, a new file, or None."""
    if out == "-":
        return sys.stdout
    if not out:
        return None
    try:
        return open(out, "w")  # noqa: SIM115 - the command closes it
    except OSError as exc:
        raise OutputError(f"cannot write --out {out}: {exc.strerror or exc}") from exc


def _save_site(pipe: Pipeline, state_dir: str) -> None:
    """Save what ``--learn`` learned where ``hamad serve`` would look for it."""
    from ..scoring.learning import state_path

    saved = state_path(state_dir, pipe.model_version)
    try:
        pipe.save_site(saved)
    except OSError as exc:
        msg = f"cannot save the learned state to {saved}: {exc.strerror or exc}"
        raise OutputError(msg) from exc
    click.echo(f"learned state saved to {saved}", err=True)
