"""The one content hash of HAMAD's provenance (model binding, training captures, datasets).

Kept apart so that what needs a digest (the dataset loaders, training, the
model check) imports hashlib and nothing else: not the feature kernels and numba.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import IO


def file_sha256(source: str | Path | IO[bytes]) -> str:
    """sha256 of a file's bytes, or of what a binary stream yields (read to its end).

    The one hash of HAMAD's provenance: it binds model.onnx to its metadata and
    names every training capture.
    """
    if isinstance(source, (str, Path)):
        with open(source, "rb") as fh:
            return file_sha256(fh)
    h = hashlib.sha256()
    while chunk := source.read(1 << 20):
        h.update(chunk)
    return h.hexdigest()
