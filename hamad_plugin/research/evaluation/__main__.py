"""``python -m hamad_plugin.research.evaluation [report options]``: same as ``hamad report``."""

from __future__ import annotations

from .cli import report_command

if __name__ == "__main__":
    report_command(prog_name="python -m hamad_plugin.research.evaluation")
