"""``hamad dashboard``: a Streamlit app over Zeek's logs and the worker's metrics.

Optional: ``pip install 'hamad-zeek[dashboard]'``; serving never imports it.
:func:`launch` becomes ``streamlit run`` of :mod:`.app`, with the settings in
the ``HAMAD_DASHBOARD`` environment variable; :mod:`.data` computes what the
pages show.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError

#: The Streamlit script.
APP = Path(__file__).with_name("app.py")


def check_installed() -> None:
    """Raise ConfigError naming the extra to install when Streamlit is missing."""
    missing = [m for m in ("streamlit", "pandas") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(
            f"hamad dashboard needs {' and '.join(missing)}: pip install 'hamad-zeek[dashboard]' "
            "(or `make dashboard` in a checkout)"
        )


def streamlit_command(host: str, port: int) -> list[str]:
    """``streamlit run`` of the app, headless, quiet, on ``host:port``."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--global.developmentMode",
        "false",
        "--theme.base",
        "light",
        "--client.toolbarMode",
        "minimal",
    ]


def launch(host: str, port: int, **settings: Any) -> None:
    """Become ``streamlit run`` of the app (exec: signals reach Streamlit itself)."""
    check_installed()
    env = dict(os.environ, HAMAD_DASHBOARD=json.dumps(settings))
    cmd = streamlit_command(host, port)
    os.execve(cmd[0], cmd, env)
