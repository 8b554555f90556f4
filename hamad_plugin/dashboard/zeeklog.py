"""Read (and, for demos and tests, write) any Zeek log: TSV or JSON, rotated, compressed.

:mod:`hamad_plugin.offline.ingest` turns conn logs into typed :class:`ConnRecord` s for
scoring; this module reads the other logs an operator looks at (``hamad.log``,
``notice.log``) into plain dicts, with the same file handling (compression
detected by content, bounded lines; :func:`ingest.open_text`,
:func:`ingest.bounded_lines`) and the ``#types`` header deciding each column's
Python type. A log directory is searched the way Zeek and zeekctl leave it:
the current ``hamad.log``, files rotated by Zeek
(``hamad.2025-06-02-17-00-00.log``) and zeekctl's archive
(``2025-06-02/hamad.17:00:00-18:00:00.log.gz``), oldest first.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

# The conn-log reader's helpers for Zeek's \\xNN escapes (values and the #separator header).
from ..offline.ingest import DECOMPRESSION_ERRORS, _unescape, bounded_lines, open_text
from ..offline.ingest import _decode_header_value as _decode_separator

#: A rotated or archived log of stream NAME: NAME.<anything>.log[.gz|.xz|.bz2] or NAME.log.gz.
_ROTATED = r"^{name}(\.[^/]*)?\.log(\.(gz|xz|bz2))?$"


@dataclass
class LogStats:
    """What reading one or more logs skipped."""

    lines: int = 0
    rows: int = 0
    bad_lines: int = 0
    damaged: list[str] = field(default_factory=list)


def find_logs(root: str | Path, name: str, max_depth: int = 2) -> list[Path]:
    """The files of log stream ``name`` under ``root``, oldest first (by modification time).

    ``root`` may also be a single file. Subdirectories are searched up to
    ``max_depth`` levels (zeekctl: ``logs/current`` and ``logs/<date>/``).
    """
    p = Path(root)
    if p.is_file():
        return [p]
    pattern = re.compile(_ROTATED.format(name=re.escape(name)))
    found: list[Path] = []

    def walk(d: Path, depth: int) -> None:
        try:
            entries = sorted(d.iterdir())
        except OSError:
            return
        for e in entries:
            if e.is_dir() and not e.is_symlink() and depth < max_depth:
                walk(e, depth + 1)
            elif e.is_file() and pattern.match(e.name):
                found.append(e)

    walk(p, 0)
    # zeekctl's logs/current is a symlink to the spool: one file may appear twice.
    unique = {f.resolve(): f for f in found}
    return sorted(unique.values(), key=lambda f: (f.stat().st_mtime, f.name))


def _parse_time(v: Any) -> float:
    """Zeek time: epoch seconds, or an ISO 8601 string (``LogAscii::json_timestamps``)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    s = str(v)
    try:
        return float(s)
    except ValueError:
        t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
        if t.tzinfo is None:
            t = t.replace(tzinfo=dt.timezone.utc)
        return t.timestamp()


def _scalar(kind: str, raw: str) -> Any:
    if kind in ("time", "interval", "double"):
        x = float(raw)
        if not math.isfinite(x):
            raise ValueError(f"non-finite {kind} {raw!r}")
        return x
    if kind in ("count", "int", "port"):
        return int(raw)
    if kind == "bool":
        if raw not in ("T", "F"):
            raise ValueError(f"not a bool {raw!r}")
        return raw == "T"
    return _unescape(raw)


def _tsv_value(kind: str, raw: str, unset: str, empty: str, set_sep: str) -> Any:
    if raw == unset:
        return None
    inner = re.match(r"^(?:vector|set)\[(\w+)\]$", kind)
    if inner:
        if raw == empty:
            return []
        return [_scalar(inner.group(1), x) for x in raw.split(set_sep)]
    if raw == empty and kind == "string":  # Zeek's spelling of ""
        return ""
    return _scalar(kind, raw)


def read_log(path: str | Path, stats: LogStats | None = None) -> Iterator[dict[str, Any]]:
    """The rows of one Zeek log (TSV with headers, or JSON lines) as dicts.

    Column names are Zeek's (``id.orig_h``); values are typed by the TSV
    ``#types`` header (time/interval/double -> float, count/int/port -> int,
    bool, vector/set -> list, unset -> None). JSON rows keep JSON's types, with
    a nested ``id`` flattened and ISO 8601 ``ts`` converted to epoch seconds.
    Malformed lines are skipped and counted in ``stats``; compressed data that
    breaks off ends the file there (recorded in ``stats.damaged``).
    """
    st = stats if stats is not None else LogStats()
    with open_text(path) as fh:
        try:
            yield from _rows(fh, st)
        except DECOMPRESSION_ERRORS as exc:
            st.damaged.append(f"{path}: compressed data damaged after line {st.lines} ({exc})")


def _rows(fh: IO[str], st: LogStats) -> Iterator[dict[str, Any]]:
    sep, set_sep, unset, empty = "\t", ",", "-", "(empty)"
    names: list[str] = []
    kinds: list[str] = []
    for raw in bounded_lines(fh):
        st.lines += 1
        if raw is None:
            st.bad_lines += 1
            continue
        line = raw.rstrip("\r\n")
        if not line:
            continue
        if line.startswith("#"):
            if line.startswith("#separator"):
                sep = _decode_separator(line[len("#separator") :].strip()) or "\t"
                continue
            key, _, rest = line[1:].partition(sep)
            if key == "fields":
                names = rest.split(sep)
            elif key == "types":
                kinds = rest.split(sep)
            elif key == "set_separator":
                set_sep = rest
            elif key == "unset_field":
                unset = rest
            elif key == "empty_field":
                empty = rest
            continue
        try:
            if line.startswith("{"):
                row = _json_row(line)
            elif names:
                cols = line.split(sep)
                if len(cols) != len(names):
                    raise ValueError(f"expected {len(names)} columns, got {len(cols)}")
                ks = kinds if len(kinds) == len(names) else ["string"] * len(names)
                row = {
                    n: _tsv_value(k, c, unset, empty, set_sep)
                    for n, k, c in zip(names, ks, cols, strict=True)
                }
            else:
                raise ValueError("data line before a #fields header")
        except (ValueError, TypeError, RecursionError):
            st.bad_lines += 1
            continue
        st.rows += 1
        yield row


def _json_row(line: str) -> dict[str, Any]:
    obj = json.loads(line)
    if not isinstance(obj, dict):
        raise ValueError("JSON value is not an object")
    idv = obj.pop("id", None)
    if isinstance(idv, dict):
        for k, v in idv.items():
            obj[f"id.{k}"] = v
    if "ts" in obj:
        obj["ts"] = _parse_time(obj["ts"])
    return obj


def read_logs(
    root: str | Path, name: str, stats: LogStats | None = None
) -> Iterator[dict[str, Any]]:
    """The rows of every file of log stream ``name`` under ``root`` (see :func:`find_logs`)."""
    for path in find_logs(root, name):
        yield from read_log(path, stats)


# --------------------------------------------------------------------------- writing


def _tsv_cell(v: Any, kind: str) -> str:
    if v is None:
        return "-"
    if kind.startswith(("vector[", "set[")):
        return ",".join(_tsv_cell(x, kind[kind.index("[") + 1 : -1]) for x in v) or "(empty)"
    if kind == "bool":
        return "T" if v else "F"
    if kind == "time":
        return f"{float(v):.6f}"
    if kind in ("double", "interval"):
        d = f"{float(v):.6f}".rstrip("0")
        return d + "0" if d.endswith(".") else d
    s = str(v)
    return s.replace("\t", "\\x09").replace("\n", "\\x0a") or "(empty)"


def write_log(
    path: str | Path,
    stream: str,
    columns: Sequence[tuple[str, str]],
    rows: Iterable[dict[str, Any]],
    fmt: str = "tsv",
    opened: float = 0.0,
) -> Path:
    """Write ``rows`` as Zeek would: ASCII TSV with its headers, or JSON lines.

    ``columns`` are ``(name, Zeek type)`` pairs in log order; ``.gz`` in the
    name compresses. For demos and tests (``hamad dashboard`` on a replay).
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix == ".gz":
        fh: IO[str] = gzip.open(p, "wt", encoding="utf-8")
    else:
        fh = open(p, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    with fh:
        if fmt == "json":
            for r in rows:
                fh.write(json.dumps({n: r[n] for n, _ in columns if r.get(n) is not None}) + "\n")
            return p
        stamp = dt.datetime.fromtimestamp(opened, dt.timezone.utc).strftime("%Y-%m-%d-%H-%M-%S")
        fh.write("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n")
        fh.write(f"#path\t{stream}\n#open\t{stamp}\n")
        fh.write("#fields\t" + "\t".join(n for n, _ in columns) + "\n")
        fh.write("#types\t" + "\t".join(k for _, k in columns) + "\n")
        for r in rows:
            fh.write("\t".join(_tsv_cell(r.get(n), k) for n, k in columns) + "\n")
        fh.write(f"#close\t{stamp}\n")
    return p
