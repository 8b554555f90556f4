"""numba's ``njit`` when compiled kernels are available, else None.

numba is a dependency (it has wheels for x86_64 and aarch64), but the kernels
are written so they also run as plain Python: a platform without numba, or
``HAMAD_COMPILED=0`` (to compare against, or to debug), still works, only slower.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

njit: Callable[..., Any] | None
try:
    if os.environ.get("HAMAD_COMPILED", "1") == "0":
        raise ImportError("HAMAD_COMPILED=0")
    from numba import njit as _numba_njit
except ImportError:
    njit = None
else:
    njit = _numba_njit

#: Whether this process runs compiled kernels.
COMPILED = njit is not None
