"""Addresses and stable hashes: made-up public servers, Zeek's local-network test.

Why it exists: the plan, the window generator and the ground truth all derive the same
addresses from seeds and indices (splitmix64, no RNG draws), so they live in one place.
"""

from __future__ import annotations

import math

import numpy as np

_PUBLIC_DNS = ("8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9")
_MDNS, _SSDP = "224.0.0.251", "239.255.255.250"
# First octets used for made-up public addresses: skips private, CGNAT, loopback,
# link-local, documentation/benchmark blocks (whole /8s, to keep it simple) and 224+.
_FIRST_OCTETS = np.array(
    [o for o in range(1, 224) if o not in (10, 100, 127, 169, 172, 192, 198, 203)], np.uint64
)


def _ip(text: str) -> int:
    a, b, c, d = (int(x) for x in text.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def _ip_text(ip: int) -> str:
    return ".".join(str((ip >> s) & 255) for s in (24, 16, 8, 0))


_M1, _M2, _GOLD = (
    np.uint64(0xBF58476D1CE4E5B9),
    np.uint64(0x94D049BB133111EB),
    np.uint64(0x9E3779B97F4A7C15),
)


def _mix(x: np.ndarray, salt: int) -> np.ndarray:
    """splitmix64 of ``x`` with ``salt``: stable pseudo-random uint64 per value."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) * _GOLD + np.uint64(salt & 0xFFFFFFFFFFFFFFFF)
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    out: np.ndarray = z ^ (z >> np.uint64(31))
    return out


def _unit(x: np.ndarray, salt: int) -> np.ndarray:
    """A stable uniform [0, 1) per value (destinations of periodic routines)."""
    out: np.ndarray = (_mix(x, salt) >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    return out


def _public_ip(idx: np.ndarray, salt: int) -> np.ndarray:
    """Made-up public IPv4 addresses, one per index and salt (a pool of servers)."""
    h = _mix(idx, salt)
    first = _FIRST_OCTETS[(h % np.uint64(len(_FIRST_OCTETS))).astype(np.intp)]
    mid = (h >> np.uint64(16)) & np.uint64(0xFFFF)
    last = np.uint64(1) + (h >> np.uint64(40)) % np.uint64(254)
    out: np.ndarray = ((first << np.uint64(24)) | (mid << np.uint64(8)) | last).astype(np.uint32)
    return out


def _zipf_index(u: np.ndarray, size: int) -> np.ndarray:
    """Index in [0, size) with P(k) ~ 1/(k+1): a few servers get most of the traffic."""
    k = np.floor(np.exp(u * math.log(size + 1.0))).astype(np.int64) - 1
    out: np.ndarray = np.clip(k, 0, size - 1)
    return out


def is_local(ip: np.ndarray) -> np.ndarray:
    """Zeek's default Site::local_nets view: private, CGNAT, link-local, loopback, multicast."""
    a = ip.astype(np.uint32)
    top = a >> np.uint32(24)
    out: np.ndarray = (
        (top == 10)
        | (top == 127)
        | (top >= 224)
        | ((a >> np.uint32(20)) == 0xAC1)
        | ((a >> np.uint32(16)) == 0xC0A8)
        | ((a >> np.uint32(16)) == 0xA9FE)
        | ((a >> np.uint32(22)) == (100 << 2 | 1))
    )
    return out
