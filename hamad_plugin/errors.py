"""Exceptions with actionable messages.

Every error HAMAD expects to happen (bad input, missing model, bad config)
is a :class:`HamadError`; the CLI prints its message as ``Error: ...`` and
exits with :attr:`HamadError.exit_code` instead of showing a traceback
(:class:`hamad_plugin.cli.HamadGroup` is the one place that does it).

Which class: :class:`ConfigError` (exit code 2) for a setting, option or flag;
:class:`InputFormatError` for a file that is not what was expected;
:class:`DataError` for data that is well-formed but cannot support the
computation; :class:`ModelError` for a model directory. A wrong array handed
over by code is a bug, not an expected error: plain ``ValueError``.
"""

from __future__ import annotations


class HamadError(Exception):
    """Base class of the errors HAMAD anticipates; carries a CLI exit code."""

    exit_code = 1


class ConfigError(HamadError, ValueError):
    """A configuration file, option or flag has a value HAMAD cannot use."""

    exit_code = 2


class InputFormatError(HamadError, ValueError):
    """An input file is not what the command expected (e.g. not a conn log)."""


class DataError(HamadError, ValueError):
    """The data cannot support what was asked: no benign rows to calibrate on, one class only."""


class OutputError(HamadError):
    """An output file or directory cannot be written (missing directory, disk full, ...)."""


class ModelError(HamadError):
    """A model directory is missing, incomplete or unreadable."""


class SchemaError(ModelError, ValueError):
    """A model was trained for a different feature schema than this code computes."""


class NotFittedError(HamadError, ValueError, AttributeError):
    """An estimator was used before ``fit`` was called."""


class DependencyError(HamadError, ImportError):
    """An optional dependency (training extras, Broker bindings) is missing."""
