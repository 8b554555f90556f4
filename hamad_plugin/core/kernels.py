"""The state behind the streaming features: bounded key tables and the compiled context kernel.

:class:`SlotTable` maps a key (a source, a responder, a pair) to a slot of
flat numpy state; :func:`context_kernel` walks a batch one connection after
the other over that state, compiled by numba where it is available
(:mod:`hamad_plugin.core.jit`) and as plain Python otherwise, with the same
results. :mod:`hamad_plugin.core.features` decides what the columns mean.
"""

from __future__ import annotations

import math
import sys
import zlib
from typing import Any

import numpy as np

from .jit import njit

_SKETCH_BITS = 128
_SATURATED = _SKETCH_BITS * math.log(_SKETCH_BITS)
# Decayed statistics kept per key and scale (columns of the state arrays).
_CNT, _FAIL, _LB, _LB2, _LD, _IN, _IS, _IS2 = range(8)
_NSTAT = 8


def intern_key(key: Any) -> Any:
    if isinstance(key, str):
        return sys.intern(key)
    return tuple(sys.intern(x) for x in key)


class SlotTable:
    """Key -> slot map over preallocated numpy state, bounded by ``cap``.

    State lives in flat arrays indexed by slot (not one Python object per
    key), which the compiled context kernel reads and writes in place.
    When the table is full, the least recently seen eighth of the slots (at
    least as many as needed) is evicted in one go: amortised O(1) per key.
    """

    def __init__(self, cap: int, n_scales: int) -> None:
        self.cap = cap
        self.index: dict[Any, int] = {}
        #: Key of each slot handed out so far (slots are handed out from 0 upwards).
        self.keys: list[Any] = []
        #: Slots given back by eviction, reused first.
        self.free: list[int] = []
        self.occupied = np.zeros(cap, dtype=bool)
        self.last = np.zeros(cap)
        self.stats = np.zeros((cap, n_scales, _NSTAT))
        self.sketch = np.zeros((cap, n_scales, 8), dtype=np.uint64)
        self.evicted = 0

    def __len__(self) -> int:
        return len(self.index)

    @property
    def state_bytes_per_key(self) -> int:
        """Bytes of numpy state behind one slot (what the features are defined on)."""
        arrays = (self.occupied, self.last, self.stats, self.sketch)
        return sum(a.nbytes // max(self.cap, 1) for a in arrays)

    def assign(self, keys: list[Any], allocate: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Slots for ``keys`` and which records' keys had no state yet.

        With ``allocate=False`` (scoring without updating) unknown keys get
        temporary ids >= ``cap``, distinct per key, and nothing is stored.
        """
        index = self.index
        get = index.get
        slots = np.array([get(k, -1) for k in keys], dtype=np.int64).reshape(-1)
        missing = np.flatnonzero(slots < 0)
        is_new = slots < 0
        if missing.size:
            fresh: dict[Any, int] = {}
            for i in missing.tolist():
                fresh.setdefault(keys[i], -1)
            if not allocate:
                for j, k in enumerate(fresh):
                    fresh[k] = self.cap + j
                slots[missing] = [fresh[keys[i]] for i in missing.tolist()]
                return slots, is_new
            short = len(fresh) - len(self.free) - (self.cap - len(self.keys))
            if short > 0:
                self._evict(short, protect=slots[slots >= 0])
            held, free = self.keys, self.free
            for key in fresh:
                # One string object per address, shared by the src, dst and pair tables.
                k = intern_key(key)
                if free:
                    s = free.pop()
                    held[s] = k
                else:
                    s = len(held)
                    held.append(k)
                fresh[key] = s
                index[k] = s
            self.occupied[list(fresh.values())] = True
            slots[missing] = [fresh[keys[i]] for i in missing.tolist()]
        return slots, is_new

    def _evict(self, need: int, protect: np.ndarray) -> None:
        mask = self.occupied.copy()
        mask[protect] = False
        cand = np.flatnonzero(mask)
        k = min(max(need, self.cap // 8), len(cand))
        if k < need:
            raise ValueError(
                f"max_keys={self.cap} is smaller than the distinct keys of one batch; "
                "raise max_keys or use smaller batches"
            )
        if k < len(cand):
            cand = cand[np.argpartition(self.last[cand], k - 1)[:k]]
        for s in cand.tolist():
            del self.index[self.keys[s]]
            self.keys[s] = None
            self.free.append(s)
        self.occupied[cand] = False
        self.evicted += len(cand)


def _mix32(h: int) -> int:
    """MurmurHash3's 32-bit finaliser: linear counting needs slots that look random."""
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    return h ^ (h >> 16)


#: Sketch slot (0..127) of every port, precomputed: a table lookup beats hashing per record.
PORT_SLOTS = np.array([_mix32(p) & 127 for p in range(65536)], dtype=np.int64)


def str_slot(text: str) -> int:
    """Sketch slot of an address; not hash(): str hashes are salted per process."""
    return _mix32(zlib.crc32(text.encode())) & 127


def _popcount64(x: Any) -> int:
    """Set bits of a 64-bit word (SWAR; numba compiles it to a few instructions)."""
    x = x - ((x >> 1) & 0x5555555555555555)
    x = (x & 0x3333333333333333) + ((x >> 2) & 0x3333333333333333)
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0F
    return int(((x * 0x0101010101010101) & 0xFFFFFFFFFFFFFFFF) >> 56)


def _log1p_distinct(lo: Any, hi: Any) -> float:
    """log1p of the linear-counting estimate of the distinct items in a 128-bit sketch."""
    zeros = _SKETCH_BITS - _popcount64(lo) - _popcount64(hi)
    if zeros == 0:
        return math.log1p(_SATURATED)
    return math.log1p(-_SKETCH_BITS * math.log(zeros / _SKETCH_BITS))


def context_kernel(
    rows: np.ndarray, new: np.ndarray, t: np.ndarray, fail: np.ndarray, lb: np.ndarray,
    ld: np.ndarray, peer: np.ndarray, port: np.ndarray, scales: np.ndarray,
    stats: np.ndarray, last: np.ndarray, sketch: np.ndarray, out: np.ndarray,
) -> None:  # fmt: skip
    """Context features of one key kind, one connection after the other, all scales.

    ``rows[i]`` is the state row of connection i's key and ``new[i]`` says it
    holds nothing yet (a key first seen here: its row is reset before use).
    Per row and scale: the decayed sums ``v = x + v_prev * exp(-gap / scale)``
    (``stats[..., :8]``), the time of the last connection (``last``) and two
    128-bit sketches (peers, ports) over the current and previous tumbling
    bucket (``sketch``: cur peers lo/hi, prev peers lo/hi, cur ports lo/hi,
    prev ports lo/hi). The bucket a row's sketch belongs to is
    ``floor(last / scale)``, so it is not stored.
    """
    n = rows.shape[0]
    n_scales = scales.shape[0]
    one = np.uint64(1)
    for i in range(n):
        r = rows[i]
        ti = t[i]
        fresh = new[i]
        if fresh:
            for s in range(n_scales):
                for j in range(8):
                    stats[r, s, j] = 0.0
                    sketch[r, s, j] = 0
        gap = 0.0 if fresh else ti - last[r]
        log_gap = 0.0 if fresh else math.log(max(gap, 0.0) + 1e-3)
        has_prev = 0.0 if fresh else 1.0
        lbi = lb[i]
        inc = (1.0, fail[i], lbi, lbi * lbi, ld[i], has_prev, log_gap, log_gap * log_gap)
        p = peer[i]
        q = port[i]
        p_lo = one << np.uint64(p & 63) if p < 64 else np.uint64(0)
        p_hi = one << np.uint64(p & 63) if p >= 64 else np.uint64(0)
        q_lo = one << np.uint64(q & 63) if q < 64 else np.uint64(0)
        q_hi = one << np.uint64(q & 63) if q >= 64 else np.uint64(0)
        for s in range(n_scales):
            scale = scales[s]
            decay = 0.0 if fresh else math.exp(-max(gap, 0.0) / scale)
            for j in range(8):
                stats[r, s, j] = inc[j] + stats[r, s, j] * decay
            v = stats[r, s]
            cnt = v[_CNT]
            mean_lb = v[_LB] / cnt
            i_n = v[_IN]
            if i_n > 0.5:
                m_iat = v[_IS] / i_n
                var_iat = v[_IS2] / i_n - m_iat * m_iat
            else:
                m_iat = math.log(scale)
                var_iat = 0.0
            bucket = math.floor(ti / scale)
            d = 2.0 if fresh else bucket - math.floor(last[r] / scale)
            w = sketch[r, s]
            if d >= 2.0:
                for j in range(8):
                    w[j] = 0
            elif d >= 1.0:  # the current bucket becomes the previous one
                w[2], w[3], w[6], w[7] = w[0], w[1], w[4], w[5]
                w[0] = w[1] = w[4] = w[5] = 0
            w[0] |= p_lo
            w[1] |= p_hi
            w[4] |= q_lo
            w[5] |= q_hi
            o = s * 9
            out[i, o] = math.log1p(cnt)
            out[i, o + 1] = v[_FAIL] / cnt
            out[i, o + 2] = _log1p_distinct(w[0] | w[2], w[1] | w[3])
            out[i, o + 3] = _log1p_distinct(w[4] | w[6], w[5] | w[7])
            out[i, o + 4] = mean_lb
            out[i, o + 5] = math.sqrt(max(v[_LB2] / cnt - mean_lb * mean_lb, 0.0))
            out[i, o + 6] = v[_LD] / cnt
            out[i, o + 7] = m_iat
            out[i, o + 8] = math.sqrt(max(var_iat, 0.0))
        last[r] = ti


def _popcount64_py(x: Any) -> int:
    return bin(int(x)).count("1")


if njit is None:  # plain Python: numpy's uint64 arithmetic would warn on the SWAR overflow
    _popcount64 = _popcount64_py
else:
    _popcount64 = njit(cache=True, inline="always")(_popcount64)
    _log1p_distinct = njit(cache=True)(_log1p_distinct)
    context_kernel = njit(cache=True, nogil=True)(context_kernel)
