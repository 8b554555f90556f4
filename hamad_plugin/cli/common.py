"""What several commands share: the progress bar, common options, the site a worker learned."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

#: A click decorator, as the option helpers return them.
Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def progress(total: int | None, desc: str, unit: str = "conn") -> Any:
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


def data_option(help_text: str) -> Decorator:
    """``--data FILE`` (repeatable, required): the conn logs a command reads."""
    return click.option(
        "--data", "data", multiple=True, required=True, type=click.Path(dir_okay=False),
        help=help_text,
    )  # fmt: skip


def gateway_option() -> Decorator:
    """``--gateway NAME=LOG[,LOG...]`` (repeatable, required): a fleet's gateways."""
    return click.option(
        "--gateway", "gateways", multiple=True, required=True, metavar="NAME=LOG[,LOG...]",
        help="One gateway and its labelled conn logs (repeat; at least two).",
    )  # fmt: skip


def model_option() -> Decorator:
    """``--model DIR``: which model directory to load."""
    return click.option(
        "--model", "model", default=None, help="Model directory (default: shipped model)."
    )


def state_options() -> Decorator:
    """``--config`` and ``--state-dir``: where the worker keeps what it learned."""

    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        f = click.option("--state-dir", default=None, type=click.Path(file_okay=False),
                         help="The worker's state directory [learning.state_dir of --config, "
                         "else ~/.local/state/hamad].")(f)  # fmt: skip
        return click.option("--config", "config", default=None, type=click.Path(dir_okay=False),
                            help="The worker's YAML settings.")(f)  # fmt: skip

    return deco


def open_site(
    model: str | None, config: str | None, state_dir: str | None
) -> tuple[Any, Path, bool]:
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
