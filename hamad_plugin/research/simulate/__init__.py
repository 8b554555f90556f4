"""``hamad simulate``: a seeded simulator of the traffic behind a home / small-office gateway.

Why it exists: the repository ships no third-party captures, yet ``make run``, the tests and
``hamad bench`` need conn logs. This package writes what Zeek 8 would write for a simulated
network: conn.log as TSV (Zeek's header lines, the ``ip_proto`` column, ``#close``) or as
JSON lines (Zeek's JSON writer: flat ``id.orig_h`` keys, unset fields omitted), with
IoT-23-style ``label`` / ``detailed-label`` columns and a small JSON ground-truth summary.

Behaviour is written from how the protocols and devices work (TCP handshakes and teardowns
as Zeek's ``history`` letters, SYN retransmission timing, DNS/NTP request-reply, multicast
announcements, periodic IoT keep-alives, bulk transfers limited by throughput), not fitted
to any dataset. What it leaves out is listed in docs/simulator.md. Detection figures on its
output are not evidence of detection on real traffic.

Fast and constant memory: the capture is cut into time windows of about
:data:`~.plan.CHUNK_ROWS` connections. Each window's connections are drawn with numpy (a
few calls per column and service, never per row) and formatted by writing every column's
ASCII bytes into a NUL-padded byte matrix, then dropping the NULs. Zeek writes a
connection when it ends, so rows leave in end-time order: a connection still open when
its window closes waits in a buffer until the window its end falls in (the buffer holds
the connections open at one moment, as Zeek's own state does).

Modules, one concern each:

- :mod:`.zeek`: conn.log vocabulary (protocols, states, services, column types);
- :mod:`.addresses`: stable hashes and made-up addresses, Zeek's local-network test;
- :mod:`.services`, :mod:`.devices`: the benign model (connection kinds, device kinds);
- :mod:`.scenarios`: the labelled attacks and ``--list-scenarios``;
- :mod:`.config`: :class:`~.config.SimConfig` and parsing command-line strings;
- :mod:`.rows`: the row layout and drawing one service's connections;
- :mod:`.plan`: what is fixed from the seed before the first row;
- :mod:`.traffic`: the connections of one time window;
- :mod:`.writer`: Zeek TSV / JSON formatting;
- :mod:`.run`: the driver (:func:`simulate`, :func:`iter_records`);
- :mod:`.truth`: the ground-truth JSON.

This module re-exports the names the rest of the code imports.
"""

from __future__ import annotations

from .config import make_config
from .plan import make_plan
from .run import iter_records, simulate
from .scenarios import SCENARIOS, list_scenarios
from .truth import write_truth

__all__ = [
    "SCENARIOS",
    "iter_records",
    "list_scenarios",
    "make_config",
    "make_plan",
    "simulate",
    "write_truth",
]
