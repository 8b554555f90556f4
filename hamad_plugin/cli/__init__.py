"""The ``hamad`` command line.

Commands live in one module per family and are imported only when they run
(or when ``hamad --help`` lists them), so ``hamad serve`` loads the worker and
nothing of training, research or the dashboard.

Every failure HAMAD expects (bad input, missing model, bad config) is a
:class:`~hamad_plugin.errors.HamadError`; :class:`HamadGroup` is the one place
that turns it into ``Error: ...`` and the error's exit code (1, or 2 for
configuration and usage errors) instead of a traceback.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from .. import __version__
from ..errors import HamadError

#: Command name -> ``module:attribute`` inside this package, imported on first use.
COMMANDS: dict[str, str] = {
    "bench": "research:bench",
    "dashboard": "dashboard:dashboard_command",
    "data": "data:data_group",
    "drift": "site:drift",
    "edge": "research:edge",
    "evasion": "research:evasion",
    "eval": "model:eval_cmd",
    "fleet": "fleet:fleet",
    "fleet-study": "research:fleet_study",
    "info": "site:info",
    "learn": "site:learn",
    "loco": "research:loco",
    "quantize": "model:quantize",
    "replay": "replay:replay",
    "report": "report:report_command",
    "serve": "serve:serve_command",
    "shards": "research:shards",
    "simulate": "research:simulate",
    "train": "model:train",
}


class HamadGroup(click.Group):
    """A command group that imports its commands lazily and reports HamadError plainly."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        module, _, attr = spec.partition(":")
        command = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HamadError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=HamadGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hamad")
def cli() -> None:
    """HAMAD: ML anomaly detection for Zeek conn.log.

    \b
    Typical use:
      hamad replay conn.log            score a log with the shipped model
      hamad eval --data labelled.log   metrics + PNG plots on labelled data
      hamad train --data a.log --data b.log --out models/mine
      hamad serve                      the live worker for the Zeek package
    """


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="hamad")
