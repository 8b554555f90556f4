"""The production scoring side of ``hamad serve`` and the Zeek options it applies.

Why a module of its own: the loop (:mod:`.loop`) only needs a narrow
``ScoreFn`` and can be tested with a tiny deterministic one; everything that
ties the worker to the real model (the Pipeline ``hamad replay`` uses, the
site learner's persistence, ``HAMAD::threshold_override`` and
``HAMAD::learning_period``) lives here. The heavy imports happen in
:class:`PipelineScorer` itself, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Sequence
from typing import Any

from ..core.durations import parse_duration
from ..core.records import ConnRecord
from ..core.settings import Settings
from ..core.verdict import Verdict
from ..errors import ConfigError
from .logs import SERVE_LOGGER, LogEvent

log = logging.getLogger(SERVE_LOGGER)

#: Options Zeek sends with ``HAMAD::config_changed`` that the worker applies.
WORKER_OPTIONS: tuple[str, ...] = ("threshold_override", "log_min_score", "learning_period")


def unit_interval(name: str, value: str) -> float:
    """A Zeek option value in [0, 1], or ConfigError saying the old value is kept."""
    try:
        x = float(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a number; keeping the old value") from None
    if not 0.0 <= x <= 1.0:
        raise ConfigError(f"{name}={x} is outside [0, 1]; keeping the old value")
    return x


class PipelineScorer:
    """The production scoring side of ``hamad serve``: the Pipeline ``hamad replay`` uses,
    plus the site learner's persistence (load at start, save periodically and at exit)."""

    def __init__(self, settings: Settings) -> None:
        from ..scoring.learning import state_path
        from ..scoring.pipeline import Pipeline

        self.pipe = Pipeline.from_settings(settings)
        self.model_version = str(self.pipe.model_version)
        self._save_interval = settings.learning.save_interval
        self._period = settings.learning.period
        self._last_save = time.monotonic()
        self._saved = False
        self.state_path = state_path(settings.learning.state_dir, self.model_version)
        self._resume()

    def _resume(self) -> None:
        from ..scoring.learning import StateError

        lr = self.pipe.learner
        if lr is None:
            return
        try:
            self.pipe.load_site(self.state_path)
        except FileNotFoundError:
            log.info(LogEvent("learning_started", period=lr.summary()["period"],
                              state=str(self.state_path)))  # fmt: skip
            return
        except StateError as exc:
            aside = self.state_path.with_name(self.state_path.name + ".unusable")
            with contextlib.suppress(OSError):
                os.replace(self.state_path, aside)
            log.warning(LogEvent("learning_state_unusable", error=str(exc),
                                 moved_to=str(aside), action="learning from scratch"))  # fmt: skip
            return
        self._saved = True
        # The saved state remembers the period it was learned under; this worker's
        # settings (and then Zeek's HAMAD::learning_period) decide from now on.
        lr.set_period(parse_duration(self._period))
        summ = lr.summary()
        log.info(LogEvent("learning_resumed", state=str(self.state_path),
                          **{k: summ[k] for k in ("phase", "period", "learned", "kept_out",
                                                  "services")}))  # fmt: skip

    def score(self, records: Sequence[ConnRecord]) -> list[Verdict]:
        out = self.pipe.score(records)
        if time.monotonic() - self._last_save >= self._save_interval:
            self.save()
        return out

    def score_interim(self, records: Sequence[ConnRecord]) -> list[Verdict]:
        return self.pipe.score(records, update_state=False)

    def save(self) -> None:
        """Save the learned state; a state file removed since the last save means
        ``hamad learn reset`` ran: start learning again instead of writing it back."""
        lr = self.pipe.learner
        self._last_save = time.monotonic()
        if lr is None:
            return
        if self._saved and not self.state_path.exists():
            self.pipe.threshold.reset()
            lr.reset()
            log.info(LogEvent("learning_reset", state=str(self.state_path)))
        try:
            self.pipe.save_site(self.state_path)
            self._saved = True
        except OSError as exc:
            log.warning(LogEvent("learning_state_not_saved", state=str(self.state_path),
                                 error=exc.strerror or str(exc)))  # fmt: skip

    def on_config(self, name: str, value: str) -> None:
        """Apply ``HAMAD::threshold_override`` and ``HAMAD::learning_period`` from Zeek."""
        if name == "threshold_override":
            x = unit_interval(name, value)
            self.pipe.set_threshold_override(None if x == 0.0 else x)
        elif name == "learning_period" and self.pipe.learner is not None:
            self.pipe.learner.set_period(parse_duration(value))

    def health(self) -> dict[str, Any]:
        fx = self.pipe.extractor
        out: dict[str, Any] = {
            "threshold": round(self.pipe.threshold.current(), 6),
            "time_jumps_clamped": fx.time_jumps_clamped,
            "time_jumps_accepted": fx.time_jumps_accepted,
        }
        lr = self.pipe.learner
        if lr is not None:
            # Called on the event loop while a batch may be scoring in its thread: read
            # only counters and len(), never iterate the services the batch is changing.
            out["learning"] = lr.phase
            for k in ("learned", "kept_out", "familiar"):
                out[f"learning_{k}"] = lr.counts[k]
            out["learning_services"] = len(lr.services)
        return out
