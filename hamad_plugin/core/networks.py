"""Which addresses are local: the deployment's configured networks.

Locality comes from configuration, never from a log's own ``local_orig`` /
``local_resp`` columns (in labelled datasets they are an artefact of how the
capture was recorded). Kept apart from the feature kernels so the settings can
name the default networks without loading numba.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

#: Networks treated as local when the configuration says nothing else.
DEFAULT_LOCAL_NETWORKS: tuple[str, ...] = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "127.0.0.0/8",
    "fc00::/7",
    "fe80::/10",
    "::1/128",
)


class Networks:
    """Fast membership test for a handful of CIDR blocks, with a small cache."""

    def __init__(self, cidrs: Sequence[str]) -> None:
        nets = [ipaddress.ip_network(c, strict=False) for c in cidrs]
        self._v4 = [(int(n.network_address), int(n.netmask)) for n in nets if n.version == 4]
        self._v6 = [(int(n.network_address), int(n.netmask)) for n in nets if n.version == 6]
        self._cache: dict[str, tuple[bool, bool]] = {}

    def classify_all(self, addrs: list[str]) -> list[tuple[bool, bool]]:
        """:meth:`classify` of many addresses (cached ones at the cost of a dict lookup)."""
        get = self._cache.get
        out = [get(a) for a in addrs]
        if None in out:
            out = [
                x if x is not None else self.classify(a) for x, a in zip(out, addrs, strict=True)
            ]
        return out  # type: ignore[return-value]

    def classify(self, addr: str) -> tuple[bool, bool]:
        """Return (is_local, is_multicast_or_broadcast)."""
        hit = self._cache.get(addr)
        if hit is not None:
            return hit
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            res = (False, False)
        else:
            value = int(ip)
            nets = self._v4 if ip.version == 4 else self._v6
            local = any((value & mask) == net for net, mask in nets)
            multi = ip.is_multicast or addr == "255.255.255.255" or addr.endswith(".255")
            res = (local, multi)
        if len(self._cache) > 65536:
            self._cache.clear()
        self._cache[addr] = res
        return res
