"""Formatting rows as Zeek TSV or JSON lines, vectorised, plus the TSV header.

Why it exists: every column's ASCII bytes are written into a NUL-padded byte matrix and
the NULs dropped, so formatting costs a few numpy calls per column, never one per row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .addresses import is_local
from .services import HISTORIES
from .zeek import (
    _IP_PROTO,
    _UID_ALPHABET,
    _US,
    LOG_FIELDS,
    PROTOS,
    STATES,
    ZEEK_SERVICES,
    ZEEK_TYPES,
)


def _table(words: Sequence[str]) -> np.ndarray:
    """A NUL-padded byte matrix, one row per word, for vectorised lookups."""
    w = max(1, max(len(s) for s in words))
    m = np.zeros((len(words), w), np.uint8)
    for i, s in enumerate(words):
        m[i, : len(s)] = np.frombuffer(s.encode("ascii"), np.uint8)
    return m


def _digits(x: np.ndarray, width: int | None = None, strip: bool = True) -> np.ndarray:
    """Decimal digits of non-negative ints as ASCII, one row each; leading zeros are NUL
    (dropped later) unless ``strip`` is False. Built digit by digit in column-major order,
    which is several times faster than broadcasting divisions over a matrix."""
    top = int(x.max()) if len(x) else 0
    x = x.astype(np.int32 if top < 2**31 else np.int64)  # 32-bit division is faster
    if width is None:
        width = len(str(top))
    out = np.empty((width, len(x)), np.uint8)
    y = x
    for j in range(width - 1, -1, -1):
        q = y // 10
        np.subtract(y, q * 10, out=out[j], casting="unsafe")
        out[j] += 48
        if strip and j < width - 1:
            out[j] *= x >= 10 ** (width - 1 - j)
        y = q
    rows: np.ndarray = out.T
    return rows


_DASH = ord("-")
_COMPACT_ROWS = 4096


def _unset(m: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Zeek's TSV unset marker ``-`` where ``mask``."""
    m[mask] = 0
    m[mask, 0] = _DASH
    return m


def _micros(x: np.ndarray, strip: bool) -> np.ndarray:
    """Microseconds as seconds with six decimals (TSV) or trailing zeros stripped (JSON)."""
    x = np.maximum(x, 0)
    frac = _digits(x % _US, 6, strip=False).copy()
    dot = np.full((len(x), 1), ord("."), np.uint8)
    if strip:
        zero = np.logical_and.accumulate(frac[:, ::-1] == 48, axis=1)[:, ::-1]
        frac[zero] = 0
        dot[zero[:, 0], 0] = 0
    return np.hstack([_digits(x // _US), dot, frac])


def _uint(x: np.ndarray) -> np.ndarray:
    return _unset(_digits(np.maximum(x, 0)), x < 0)


def _ipv4(ip: np.ndarray) -> np.ndarray:
    a = ip.astype(np.int64)
    dot = np.full((len(a), 1), ord("."), np.uint8)
    parts = []
    for shift in (24, 16, 8, 0):
        parts += [_digits((a >> shift) & 255, 3), dot]
    return np.hstack(parts[:-1])


def _assemble(parts: list[bytes | np.ndarray], n: int) -> bytes:
    """Concatenate per-row byte columns and constants, then drop the NUL padding."""
    widths = [len(p) if isinstance(p, bytes) else p.shape[1] for p in parts]
    m = np.empty((n, sum(widths)), np.uint8)
    col = 0
    for p, w in zip(parts, widths, strict=True):
        m[:, col : col + w] = np.frombuffer(p, np.uint8) if isinstance(p, bytes) else p
        col += w
    # np.compress is the fastest way to drop the NULs, but it builds an index array
    # 8 bytes per input byte: compact a block of rows at a time to bound that.
    out = []
    for i in range(0, n, _COMPACT_ROWS):
        flat = m[i : i + _COMPACT_ROWS].ravel()
        out.append(np.compress(flat.astype(bool), flat).tobytes())
    return b"".join(out)


@dataclass(frozen=True)
class _Vocab:
    """Byte tables for the categorical columns (labels depend on the enabled scenarios)."""

    proto: np.ndarray = field(default_factory=lambda: _table(PROTOS))
    ip_proto: np.ndarray = field(default_factory=lambda: _table(_IP_PROTO))
    service: np.ndarray = field(default_factory=lambda: _table(ZEEK_SERVICES))
    state: np.ndarray = field(default_factory=lambda: _table(STATES))
    history: np.ndarray = field(default_factory=lambda: _table(HISTORIES))
    tsv_bool: np.ndarray = field(default_factory=lambda: _table(("F", "T")))
    json_bool: np.ndarray = field(default_factory=lambda: _table(("false", "true")))
    label: np.ndarray = field(default_factory=lambda: _table(("Benign", "Malicious")))
    detail: np.ndarray = field(default_factory=lambda: _table(("-",)))


def _uids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Zeek-looking connection ids: ``C`` and 17 base62 characters."""
    c = np.full((n, 1), ord("C"), np.uint8)
    return np.hstack([c, _UID_ALPHABET[rng.integers(0, 62, (n, 17))]])


def format_tsv(rows: np.ndarray, uids: np.ndarray, v: _Vocab) -> bytes:
    """Rows as Zeek TSV lines (``-`` for unset, ``T``/``F`` bools, six-decimal times)."""
    lo, lr = is_local(rows["oh"]).astype(np.intp), is_local(rows["rh"]).astype(np.intp)
    mal = (rows["lab"] > 0).astype(np.intp)
    t = b"\t"
    parts: list[bytes | np.ndarray] = [
        _micros(rows["ts"], False), t, uids, t, _ipv4(rows["oh"]), t, _digits(rows["op"]), t,
        _ipv4(rows["rh"]), t, _digits(rows["rp"]), t, v.proto[rows["proto"]], t,
        v.service[rows["svc"]], t, _unset(_micros(rows["dur"], False), rows["dur"] < 0), t,
        _uint(rows["ob"]), t, _uint(rows["rb"]), t, v.state[rows["state"]], t, v.tsv_bool[lo], t,
        v.tsv_bool[lr], b"\t0\t", v.history[rows["hist"]], t, _digits(rows["opk"]), t,
        _digits(rows["oip"]), t, _digits(rows["rpk"]), t, _digits(rows["rip"]), b"\t-\t",
        v.ip_proto[rows["proto"]], t, v.label[mal], t, v.detail[rows["lab"]], b"\n",
    ]  # fmt: skip
    return _assemble(parts, len(rows))


def _optional(key: bytes, value: np.ndarray, unset: np.ndarray, quote: bool = False) -> np.ndarray:
    """``,"key":value`` per row, all NUL (omitted) where ``unset``, as Zeek's JSON writer does."""
    n = len(value)
    q = [np.full((n, 1), ord('"'), np.uint8)] if quote else []
    head = np.broadcast_to(np.frombuffer(b',"' + key + b'":', np.uint8), (n, len(key) + 4))
    m = np.hstack([head, *q, value, *q])
    m[unset] = 0
    return m


def format_json(rows: np.ndarray, uids: np.ndarray, v: _Vocab) -> bytes:
    """Rows as Zeek JSON lines: flat ``id.*`` keys, unset fields left out."""
    lo, lr = is_local(rows["oh"]).astype(np.intp), is_local(rows["rh"]).astype(np.intp)
    mal = (rows["lab"] > 0).astype(np.intp)
    dur, svc, hist = rows["dur"], rows["svc"], rows["hist"]
    parts: list[bytes | np.ndarray] = [
        b'{"ts":', _micros(rows["ts"], True), b',"uid":"', uids, b'","id.orig_h":"',
        _ipv4(rows["oh"]), b'","id.orig_p":', _digits(rows["op"]), b',"id.resp_h":"',
        _ipv4(rows["rh"]), b'","id.resp_p":', _digits(rows["rp"]), b',"proto":"',
        v.proto[rows["proto"]], b'"', _optional(b"service", v.service[svc], svc == 0, True),
        _optional(b"duration", _micros(dur, True), dur < 0),
        _optional(b"orig_bytes", _digits(np.maximum(rows["ob"], 0)), rows["ob"] < 0),
        _optional(b"resp_bytes", _digits(np.maximum(rows["rb"], 0)), rows["rb"] < 0),
        b',"conn_state":"', v.state[rows["state"]], b'","local_orig":', v.json_bool[lo],
        b',"local_resp":', v.json_bool[lr], b',"missed_bytes":0',
        _optional(b"history", v.history[hist], hist == 0, True), b',"orig_pkts":',
        _digits(rows["opk"]), b',"orig_ip_bytes":', _digits(rows["oip"]), b',"resp_pkts":',
        _digits(rows["rpk"]), b',"resp_ip_bytes":', _digits(rows["rip"]), b',"ip_proto":',
        v.ip_proto[rows["proto"]], b',"label":"', v.label[mal], b'"',
        _optional(b"detailed-label", v.detail[rows["lab"]], rows["lab"] == 0, True), b"}\n",
    ]  # fmt: skip
    return _assemble(parts, len(rows))


def _zeek_time(epoch: float) -> str:
    """Zeek's #open/#close stamp (UTC here, from the simulated clock)."""
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d-%H-%M-%S")


def tsv_header(open_ts: float) -> bytes:
    """The header lines Zeek 8 writes at the top of conn.log, plus the label columns."""
    lines = [
        "#separator \\x09",
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        "#path\tconn",
        f"#open\t{_zeek_time(open_ts)}",
        "#fields\t" + "\t".join(LOG_FIELDS),
        "#types\t" + "\t".join(ZEEK_TYPES[f] for f in LOG_FIELDS),
    ]
    return ("\n".join(lines) + "\n").encode("ascii")
