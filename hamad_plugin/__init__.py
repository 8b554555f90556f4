"""HAMAD: Hybrid Attention-based Multi-scale Anomaly Detection for Zeek.

The worker side of the HAMAD Zeek package: conn.log ingestion, streaming
multi-scale features, an ONNX-served attention-fused ensemble, an adaptive
threshold, and the ``hamad`` command line.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .core.records import ConnRecord as ConnRecord
from .errors import ConfigError as ConfigError
from .errors import HamadError as HamadError
from .errors import InputFormatError as InputFormatError
from .errors import ModelError as ModelError
from .errors import SchemaError as SchemaError

__all__ = [
    "__version__",
    "ConnRecord",
    "ConfigError",
    "HamadError",
    "InputFormatError",
    "ModelError",
    "SchemaError",
]
