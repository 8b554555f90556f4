"""``hamad dashboard``: the click command (imports neither Streamlit nor pandas)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("dashboard")
@click.option("--logs", "logs", required=True, type=click.Path(exists=True),
              help="Zeek log directory with hamad.log and notice.log (TSV or JSON, rotated, "
              "compressed), or a directory of `hamad replay --out` verdicts.")  # fmt: skip
@click.option("--metrics", "metrics", default=None, metavar="URL",
              help="The worker's metrics endpoint (hamad serve --metrics-port), e.g. "
              "http://127.0.0.1:9761/metrics.")  # fmt: skip
@click.option("--eval", "eval_dir", default=None, type=click.Path(exists=True, file_okay=False),
              help="A `hamad eval --out` directory for the Evaluation page.")  # fmt: skip
@click.option("--model", "model", default=None, help="Model directory (default: shipped model).")
@click.option("--state-dir", default=None, type=click.Path(file_okay=False),
              help="The worker's state directory (learned state on the Model page).")  # fmt: skip
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", default=8501, show_default=True, type=click.IntRange(1, 65535))
@click.option("--refresh", default=5.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds between live refreshes (0 = only on demand).")  # fmt: skip
def dashboard_command(
    logs: str, metrics: str | None, eval_dir: str | None, model: str | None,
    state_dir: str | None, host: str, port: int, refresh: float,
) -> None:  # fmt: skip
    """Live dashboard (Streamlit) over Zeek's hamad.log/notice.log and the worker's metrics.

    Pages: Live, Alerts, Hosts, Model, Evaluation. Needs the optional extra:
    pip install 'hamad-zeek[dashboard]'. Open http://HOST:PORT in a browser.
    """
    from ..dashboard import launch

    click.echo(f"HAMAD dashboard on http://{host}:{port} (Ctrl-C stops it)", err=True)
    settings = {"logs": str(Path(logs).resolve()), "metrics": metrics, "model": model,
                "eval": str(Path(eval_dir).resolve()) if eval_dir else None,
                "state_dir": state_dir, "refresh": refresh}  # fmt: skip
    launch(host, port, **settings)  # does not return
