"""Stream Zeek conn logs (TSV or JSON lines, plain or compressed) as ConnRecords.

One reader serves training, evaluation and replay. It streams line by line
(constant memory), accepts what real Zeek writes (``#fields``/``#types``
headers, ``-`` unset, ``(empty)``, ``\\xNN`` escapes, Zeek 8's ``ip_proto``,
JSON with omitted unset fields) and the labelled variants published by
Stratosphere (``label``/``detailedlabel`` columns) and IoT-23 (whose last three
columns are joined by three spaces instead of tabs).

Malformed lines are skipped and counted in :class:`IngestStats` (the first few
with their line numbers), so one broken line never costs a whole capture; so
is a line longer than :data:`MAX_LINE` (read in bounded pieces, never held
whole). Compressed data that ends early or is corrupt ends the file where it
breaks: what was read before stands, and the damage is recorded in
``IngestStats.damaged`` for the caller to report. A file that is not a conn
log at all raises one :class:`InputFormatError`. ``-`` reads standard input;
compression is detected from the first bytes, so pipes and FIFOs work too.
"""

from __future__ import annotations

import bz2
import gc
import gzip
import io
import json
import lzma
import math
import re
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar, cast

import numpy as np

from ..core.records import NUMERIC, REQUIRED_FIELDS, TEXT, ConnColumns, ConnRecord
from ..errors import InputFormatError

_T = TypeVar("_T")

#: How many malformed lines are kept verbatim (with line numbers) for the report.
MAX_REPORTED_ERRORS = 5
#: Lines read before deciding a headerless file is not a conn log.
_SNIFF_LINES = 50
#: Longest line accepted, in characters (a Zeek conn.log line is a few hundred).
MAX_LINE = 1 << 16
#: What a damaged gzip/xz/bz2 stream raises while it is read.
DECOMPRESSION_ERRORS = (EOFError, OSError, lzma.LZMAError, zlib.error)
#: Magic bytes of the compressions the readers open, and how to open them.
_COMPRESSED: tuple[tuple[bytes, Callable[[IO[bytes]], Any]], ...] = (
    (b"\x1f\x8b", lambda f: gzip.GzipFile(fileobj=f)),
    (b"\xfd7zXZ\x00", lambda f: lzma.LZMAFile(f)),
    (b"BZh", lambda f: bz2.BZ2File(f)),
)
_IOT23_JOIN = "   "
_ESCAPE_RE = re.compile(r"\\x([0-9a-fA-F]{2})")

_LABEL_COLUMNS = {
    "label": "label",
    "detailed-label": "detailed_label",
    "detailedlabel": "detailed_label",
}


@dataclass
class IngestStats:
    """What a reader saw: records produced and lines it had to drop."""

    path: str = ""
    lines: int = 0
    records: int = 0
    bad_lines: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    #: One message per file whose compressed data broke off (what came before was read).
    damaged: list[str] = field(default_factory=list)

    def record_error(self, lineno: int, message: str) -> None:
        """Count a dropped line; keep the first few for the report."""
        self.bad_lines += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append((lineno, message))

    def summary(self) -> str:
        """One line for logs and the CLI: counts plus the first errors."""
        text = f"{self.path}: {self.records} records, {self.bad_lines} malformed lines skipped"
        if self.errors:
            shown = "; ".join(f"line {n}: {m}" for n, m in self.errors)
            text += f" (first: {shown})"
        if self.damaged:
            text += "; " + "; ".join(self.damaged)
        return text

    def merge(self, other: IngestStats) -> None:
        """Add another reader's counts (multi-file replay and training)."""
        self.lines += other.lines
        self.records += other.records
        self.bad_lines += other.bad_lines
        room = MAX_REPORTED_ERRORS - len(self.errors)
        if room > 0:
            self.errors.extend((n, f"{other.path}: {m}") for n, m in other.errors[:room])
        self.damaged.extend(other.damaged)

    def raise_if_damaged(self) -> None:
        """For callers that must not go on with part of a file (training, evaluation)."""
        if self.damaged:
            raise InputFormatError("; ".join(self.damaged))


def open_binary(path: str | Path) -> IO[bytes]:
    """Decompressed bytes of a file, or of standard input for ``-``.

    gzip, xz and bz2 are recognised by their first bytes, not by the name. The
    input is opened once and peeked at, so a pipe or FIFO works like a file.
    """
    if str(path) == "-":
        raw: IO[bytes] = sys.stdin.buffer
    else:
        p = Path(path)
        try:
            raw = open(p, "rb")  # noqa: SIM115 - returned to the caller
        except FileNotFoundError as exc:
            raise InputFormatError(f"{p}: no such file") from exc
        except IsADirectoryError as exc:
            raise InputFormatError(f"{p}: is a directory, expected a conn.log file") from exc
        except OSError as exc:
            raise InputFormatError(f"{p}: cannot read it ({exc.strerror or exc})") from exc
    buf = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(cast(Any, raw))
    magic = buf.peek(6)[:6]
    for prefix, opener in _COMPRESSED:
        if magic.startswith(prefix):
            return cast(IO[bytes], opener(buf))
    return cast(IO[bytes], buf)


def open_text(path: str | Path) -> IO[str]:
    """Open plain, gzip, xz or bz2 text (see :func:`open_binary`); bad UTF-8 is replaced."""
    return io.TextIOWrapper(open_binary(path), encoding="utf-8", errors="replace")


def bounded_lines(fh: IO[str], limit: int = MAX_LINE) -> Iterator[str | None]:
    """The lines of ``fh``; ``None`` for a line longer than ``limit`` characters.

    An overlong line is consumed in pieces of at most ``limit`` characters, so
    a file without newlines cannot make the reader hold it whole.
    """
    while line := fh.readline(limit + 1):
        if len(line) > limit and not line.endswith("\n"):
            while (rest := fh.readline(limit)) and not rest.endswith("\n"):
                pass
            yield None
        else:
            yield line


def _unescape(value: str) -> str:
    return _ESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)), value) if "\\x" in value else value


def _to_str(v: str) -> str:
    """A TSV string value with Zeek's ``\\xNN`` escapes decoded."""
    return _unescape(v)


def _to_float(v: str) -> float:
    x = float(v)
    if not math.isfinite(x):
        raise ValueError(f"non-finite number {v!r}")
    return x


def _to_count(v: str) -> int:
    x = int(v)
    if x < 0:
        raise ValueError(f"negative count {v!r}")
    return x


def _to_port(v: str) -> int:
    x = int(v)
    if not 0 <= x <= 65535:
        raise ValueError(f"port out of range {v!r}")
    return x


def _to_bool(v: str) -> bool:
    if v in ("T", "true", "1"):
        return True
    if v in ("F", "false", "0"):
        return False
    raise ValueError(f"not a bool {v!r}")


# Zeek column name -> (ConnRecord attribute, TSV converter).
_COLUMNS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "ts": ("ts", _to_float),
    "uid": ("uid", str),
    "id.orig_h": ("orig_h", str),
    "id.orig_p": ("orig_p", _to_port),
    "id.resp_h": ("resp_h", str),
    "id.resp_p": ("resp_p", _to_port),
    "proto": ("proto", str),
    "service": ("service", str),
    "duration": ("duration", _to_float),
    "orig_bytes": ("orig_bytes", _to_count),
    "resp_bytes": ("resp_bytes", _to_count),
    "conn_state": ("conn_state", str),
    "local_orig": ("local_orig", _to_bool),
    "local_resp": ("local_resp", _to_bool),
    "missed_bytes": ("missed_bytes", _to_count),
    "history": ("history", str),
    "orig_pkts": ("orig_pkts", _to_count),
    "orig_ip_bytes": ("orig_ip_bytes", _to_count),
    "resp_pkts": ("resp_pkts", _to_count),
    "resp_ip_bytes": ("resp_ip_bytes", _to_count),
    "ip_proto": ("ip_proto", _to_count),
    "label": ("label", str),
    "detailed-label": ("detailed_label", str),
    "detailedlabel": ("detailed_label", str),
}


@dataclass
class _TsvHeader:
    separator: str = "\t"
    unset: str = "-"
    empty: str = "(empty)"
    #: Raw values that mean "not set" (``-``, ``(empty)``, empty string).
    skip: frozenset[str] = frozenset({"-", "(empty)", ""})
    path: str | None = None
    fields: list[str] | None = None
    #: index in the split row -> (attribute, converter)
    plan: list[tuple[int, str, Callable[[str], Any]]] = field(default_factory=list)
    #: IoT-23: the row's last tab-column holds this many space-joined fields.
    joined_tail: int = 0


def _plan_tsv(header: _TsvHeader, names: list[str], where: str) -> None:
    expanded: list[str] = []
    joined_tail = 0
    for i, name in enumerate(names):
        if _IOT23_JOIN in name:
            if i != len(names) - 1:
                raise InputFormatError(f"{where}: #fields joins columns mid-line: {name!r}")
            parts = [p for p in name.split(_IOT23_JOIN) if p]
            joined_tail = len(parts)
            expanded.extend(parts)
        else:
            expanded.append(name)
    missing = REQUIRED_FIELDS - set(expanded)
    if missing:
        raise InputFormatError(
            f"{where}: not a Zeek conn log: #fields lacks {sorted(missing)} "
            f"(got {expanded[:8]}{'...' if len(expanded) > 8 else ''})"
        )
    header.fields = expanded
    header.joined_tail = joined_tail
    # TSV strings may carry \xNN escapes; JSON strings arrive decoded.
    header.plan = [
        (i, attr, _to_str if conv is str else conv)
        for i, n in enumerate(expanded)
        if n in _COLUMNS
        for attr, conv in [_COLUMNS[n]]
    ]


#: Characters read at a time by the batch reader.
_BLOCK = 1 << 20
#: Data lines converted to columns at once.
_RUN = 1024


def _line_blocks(fh: IO[str], limit: int = MAX_LINE) -> Iterator[list[str | None]]:
    """The lines of ``fh`` in blocks, without newlines; None for a line over ``limit``.

    The same lines :func:`bounded_lines` yields (read a megabyte at a time): an
    overlong line is dropped as it is read, never held whole.
    """
    carry = ""
    skipping = False
    while True:
        block, damage = _read_block(fh)
        if damage is not None:  # keep what came before the damage, as readline would
            block = block[: block.rfind("\n") + 1]
        if not block:
            if damage is not None:
                raise damage
            break
        lines: list[str | None] = list((carry + block).split("\n"))
        carry = cast(str, lines.pop())
        if skipping:  # the rest of an overlong line
            if not lines:
                carry = ""
                continue
            lines[0], skipping = None, False
        elif len(carry) > limit:
            carry, skipping = "", True
        if any(len(ln) > limit for ln in lines if ln is not None):
            lines = [None if ln is not None and len(ln) > limit else ln for ln in lines]
        yield lines
        if damage is not None:
            raise damage
    if skipping:
        yield [None]
    elif carry:
        yield [carry if len(carry) <= limit else None]


def _read_block(fh: IO[str]) -> tuple[str, BaseException | None]:
    """About :data:`_BLOCK` characters, read in the text layer's own 8 KiB steps, so
    damaged compressed data costs at most the step it breaks in (as with readline)."""
    parts: list[str] = []
    size = 0
    try:
        while size < _BLOCK and (piece := fh.read(8192)):
            parts.append(piece)
            size += len(piece)
    except DECOMPRESSION_ERRORS as exc:
        return "".join(parts), exc
    return "".join(parts), None


_BOOLS = frozenset({"T", "true", "1", "F", "false", "0"})
_REQUIRED_TEXT = frozenset({"uid", "orig_h", "resp_h", "proto"})


def _numbers(col: tuple[str, ...], skip: frozenset[str], unset: bool, dtype: Any) -> Any:
    """A column converted as float() / int() convert each value (NaN where unset), or None.

    int64 conversion is int()'s, and int64 -> float64 rounds as float(int) does;
    a count too large for int64 goes to the per-line reader.
    """
    try:
        if not unset:
            return np.array(col, dtype=dtype).astype(np.float64)
        known = np.fromiter((v not in skip for v in col), bool, len(col))
        x = np.full(len(col), np.nan)
        x[known] = np.array([v for v in col if v not in skip], dtype=dtype)
        return x
    except (ValueError, OverflowError, TypeError):
        return None


def _columns(header: _TsvHeader, lines: list[str]) -> ConnColumns | None:
    """Data lines as columns, or None where the per-line reader must decide.

    None for anything that is not exactly what the per-line reader would
    accept and convert the same way: a wrong column count, an unset required
    field, an escape, a value its converter rejects.
    """
    assert header.fields is not None
    sep, skip, n_fields = header.separator, header.skip, len(header.fields)
    # The split rows are short-lived lists: the cyclic garbage collector, triggered by
    # their allocation, would otherwise take as long as the splitting itself.
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        rows = [ln.split(sep) for ln in lines]
        if header.joined_tail:  # IoT-23: the last tab column holds the labels, space-joined
            k = n_fields - header.joined_tail + 1
            rows = [r[:-1] + r[-1].split(_IOT23_JOIN) if len(r) == k else r for r in rows]
        if any(len(r) != n_fields for r in rows):
            return None
        by_col = list(zip(*rows, strict=True))
        del rows
    finally:
        if gc_was_on:
            gc.enable()
    n = len(lines)
    num = np.full((n, len(NUMERIC)), np.nan)
    text: dict[str, list[Any]] = {}
    for idx, attr, conv in header.plan:
        col = by_col[idx]
        unset = not skip.isdisjoint(col)
        if conv is _to_str:
            if "\\x" in "".join(col) or (unset and attr in _REQUIRED_TEXT):
                return None
            text[attr] = [None if v in skip else v for v in col] if unset else list(col)
            continue
        if conv is _to_bool:
            if not set(col) <= _BOOLS | skip:
                return None
            continue
        x = _numbers(col, skip, unset, np.float64 if conv is _to_float else np.int64)
        if x is None or (unset and attr in ("ts", "orig_p", "resp_p")):
            return None
        if conv is _to_float:
            if not np.isfinite(x[~np.isnan(x)] if unset else x).all():
                return None
        elif (x < 0).any() or (conv is _to_port and (x > 65535).any()):
            return None
        if attr not in NUMERIC:
            continue
        num[:, NUMERIC.index(attr)] = x
    empty: list[Any] = [None] * n
    return ConnColumns(num, *(text.get(name, empty) for name in TEXT))


def _decode_header_value(raw: str) -> str:
    return raw.encode("latin-1").decode("unicode_escape") if "\\x" in raw else raw


class ConnLogReader:
    """Iterate the ConnRecords of one conn log; :attr:`stats` says what was dropped.

    Parameters
    ----------
    path : str or Path
        A Zeek conn log: TSV with headers or JSON lines, optionally gzip/xz/bz2.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.stats = IngestStats(path=str(path))
        self.format: str | None = None
        #: A conn log's ``#fields`` header was read: a file whose rows are all damaged is
        #: then a damaged conn log (0 connections, its lines counted), not another format.
        self.header_seen = False

    def __iter__(self) -> Iterator[ConnRecord]:
        with open_text(self.path) as fh:
            yield from self._guarded(self._iter_lines(fh))

    def batches(self, size: int = 1024) -> Iterator[ConnColumns]:
        """The connections in columnar batches of ``size`` (the last may be shorter).

        Same records, counts and errors as iterating the reader: runs of plain
        TSV data lines are split and converted a column at a time; any run the
        columnar conversion cannot take exactly as the per-line reader would
        (a bad value, an escape, a header, JSON, IoT-23's joined columns) goes
        through the per-line reader instead.
        """
        with open_text(self.path) as fh:
            pending: list[ConnColumns] = []
            have = 0
            for part in self._guarded(self._iter_parts(fh)):
                pending.append(part)
                have += len(part)
                if have < size:
                    continue
                cols = ConnColumns.concat(pending)
                cut = have - have % size
                for start in range(0, cut, size):
                    yield cols.part(start, start + size)
                pending = [cols.part(cut, have)] if cut < have else []
                have -= cut
            if have:
                yield ConnColumns.concat(pending)

    def _guarded(self, parts: Iterator[_T]) -> Iterator[_T]:
        try:
            yield from parts
        except DECOMPRESSION_ERRORS as exc:
            self.stats.damaged.append(
                f"{self.path}: the compressed data is damaged after line {self.stats.lines} "
                f"({exc}); the {self.stats.records} records before it were read"
            )
        if self.stats.records == 0 and self.stats.bad_lines > 0 and not self.header_seen:
            raise InputFormatError(
                f"{self.path}: not a Zeek conn log: none of its {self.stats.lines} lines could be "
                f"read as a connection ({self.stats.errors[0][1] if self.stats.errors else ''})"
            )

    def _iter_lines(self, fh: IO[str]) -> Iterator[ConnRecord]:
        header = _TsvHeader()
        self._json_ok = 0
        for lineno, raw in enumerate(bounded_lines(fh), 1):
            rec = self._line(header, lineno, raw)
            if rec is not None:
                yield rec

    def _iter_parts(self, fh: IO[str]) -> Iterator[ConnColumns]:
        """Columnar pieces of the file: plain data runs converted at once, the rest per line."""
        header = _TsvHeader()
        self._json_ok = 0
        lineno = 0
        for lines in _line_blocks(fh):
            special = [i for i, ln in enumerate(lines) if ln is None or not ln or ln[0] in "#{"]
            special.append(len(lines))
            start = 0
            for stop in special:
                for a in range(start, stop, _RUN):  # pieces that stay in the CPU's caches
                    b = min(stop, a + _RUN)
                    part = self._run(header, lines[a:b], lineno + a + 1)
                    if len(part):  # a run of nothing but damaged lines gives no rows
                        yield part
                if stop < len(lines):
                    rec = self._line(header, lineno + stop + 1, lines[stop])
                    if rec is not None:
                        yield ConnColumns.from_records([rec])
                start = stop + 1
            lineno += len(lines)

    def _run(self, header: _TsvHeader, lines: list[str | None], first: int) -> ConnColumns:
        """A run of non-empty data lines (no header, no JSON) as columns."""
        cols = None
        if header.fields is not None and self.format == "tsv":
            cols = _columns(header, cast(list[str], lines))
        if cols is not None:
            self.stats.lines += len(lines)
            self.stats.records += len(lines)
            return cols
        recs = []
        for k, raw in enumerate(lines):
            rec = self._line(header, first + k, raw)
            if rec is not None:
                recs.append(rec)
        return ConnColumns.from_records(recs)

    def _line(self, header: _TsvHeader, lineno: int, raw: str | None) -> ConnRecord | None:
        """One line of the file (with its newline, or None if overlong): a record or None."""
        where = str(self.path)
        if raw is None:
            self.stats.lines += 1
            self.stats.record_error(lineno, f"line longer than {MAX_LINE} characters")
            return None
        line = raw.rstrip("\r\n")
        if not line:
            return None
        self.stats.lines += 1
        first = line[0]
        if first == "#":
            self._header_line(header, line, f"{where}:{lineno}")
            self.format = "tsv"
            return None
        if first == "{":
            self.format = self.format or "json"
            rec = self._json_line(line, lineno)
            if rec is not None:
                self._json_ok += 1
                return rec
            if self._json_ok == 0 and self.stats.bad_lines >= _SNIFF_LINES:
                raise InputFormatError(
                    f"{where}: not a Zeek conn log: the first {_SNIFF_LINES} JSON lines lack "
                    f"conn.log fields ({self.stats.errors[0][1]})"
                )
            return None
        if header.fields is None:
            if self.format == "json":
                self.stats.record_error(lineno, "not a JSON object")
                return None
            if lineno <= _SNIFF_LINES:
                raise InputFormatError(
                    f"{where}: not a Zeek conn log: line {lineno} is data but no '#fields' "
                    "header came before it, and it is not JSON. Expected a conn.log written "
                    "by Zeek (TSV with #fields, or JSON lines)."
                )
            self.stats.record_error(lineno, "data line without a #fields header")
            return None
        return self._tsv_line(header, line, lineno)

    def _header_line(self, header: _TsvHeader, line: str, where: str) -> None:
        if line.startswith("#separator"):
            header.separator = _decode_header_value(line[len("#separator") :].strip()) or "\t"
            return
        key, _, rest = line[1:].partition(header.separator)
        if key == "fields":
            _plan_tsv(header, rest.split(header.separator), where)
            self.header_seen = True
        elif key == "path":
            header.path = rest.strip()
            if header.path and header.path != "conn" and not header.path.startswith("conn"):
                raise InputFormatError(
                    f"{where}: this is Zeek's {header.path!r} log, not a conn log "
                    "(#path must be 'conn')"
                )
        elif key == "unset_field":
            header.unset = rest
        elif key == "empty_field":
            header.empty = rest
        header.skip = frozenset({header.unset, header.empty, ""})

    def _tsv_line(self, header: _TsvHeader, line: str, lineno: int) -> ConnRecord | None:
        assert header.fields is not None
        cols = line.split(header.separator)
        if header.joined_tail and len(cols) == len(header.fields) - header.joined_tail + 1:
            cols = cols[:-1] + cols[-1].split(_IOT23_JOIN)
        if len(cols) != len(header.fields):
            self.stats.record_error(
                lineno, f"expected {len(header.fields)} columns, got {len(cols)}"
            )
            return None
        skip = header.skip
        try:
            rec = ConnRecord(
                **{
                    attr: conv(raw)
                    for idx, attr, conv in header.plan
                    if (raw := cols[idx]) not in skip
                }
            )
        except (ValueError, TypeError) as exc:
            self.stats.record_error(lineno, _short_error(exc))
            return None
        self.stats.records += 1
        return rec

    def _json_line(self, line: str, lineno: int) -> ConnRecord | None:
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("JSON value is not an object")
            rec = record_from_mapping(obj)
        except RecursionError:
            self.stats.record_error(lineno, "JSON nested too deeply")
            return None
        except (ValueError, TypeError, KeyError) as exc:
            self.stats.record_error(lineno, _short_error(exc))
            return None
        self.stats.records += 1
        return rec


def _short_error(exc: BaseException) -> str:
    msg = str(exc)
    if isinstance(exc, TypeError) and "missing" in msg:
        return "missing required conn.log field(s): " + msg.split("missing", 1)[1].strip()
    return msg[:200]


def _flatten(obj: dict[str, Any]) -> dict[str, Any]:
    idv = obj.get("id")
    if isinstance(idv, dict):
        obj = dict(obj)
        del obj["id"]
        for k, v in idv.items():
            obj[f"id.{k}"] = v
    return obj


def record_from_mapping(obj: dict[str, Any]) -> ConnRecord:
    """Build a ConnRecord from a Zeek JSON object (flat ``id.orig_h`` or nested ``id``).

    Raises ``ValueError``/``TypeError`` on wrong types or missing fields; callers count them.
    """
    obj = _flatten(obj)
    values: dict[str, Any] = {}
    for name, raw in obj.items():
        spec = _COLUMNS.get(name)
        if spec is None or raw is None:
            continue
        attr, conv = spec
        if conv is str:
            if not isinstance(raw, str):
                raise ValueError(f"field {name!r} should be a string, got {raw!r}")
            values[attr] = raw
        elif isinstance(raw, bool):
            if conv is not _to_bool:
                raise ValueError(f"field {name!r} should be a number, got {raw!r}")
            values[attr] = raw
        elif isinstance(raw, (int, float)):
            values[attr] = conv(repr(raw)) if conv is not _to_float else _to_float(str(raw))
        else:
            raise ValueError(f"field {name!r} has unexpected value {raw!r}")
    for req in ("ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto"):
        if _COLUMNS[req][0] not in values:
            raise ValueError(f"missing required conn.log field {req!r}")
    return ConnRecord(**values)


def read_conn_log(path: str | Path) -> ConnLogReader:
    """Open one conn log for streaming; iterate it for ConnRecords."""
    return ConnLogReader(path)


def iter_conn_logs(
    paths: list[str | Path], stats: IngestStats | None = None
) -> Iterator[ConnRecord]:
    """Chain several conn logs; fold each file's counts into ``stats``."""
    for p in paths:
        reader = read_conn_log(p)
        yield from reader
        if stats is not None:
            stats.merge(reader.stats)


def parse_text(text: str, name: str = "<text>") -> tuple[list[ConnRecord], IngestStats]:
    """Parse conn-log text held in memory (tests, the WebSocket fixture)."""
    reader = ConnLogReader(name)
    recs = list(reader._iter_lines(io.StringIO(text)))
    return recs, reader.stats
