"""Learn the deployment: the services a site uses routinely stop raising false alarms.

Why: ranking transfers across networks, thresholds do not. On networks the
model never saw, almost every false alarm is a *recurring service of that
site* (a device's keep-alive to its cloud on 443, multicast DNS, an MQTT
broker) that the supervised members were never shown. Raising the global
threshold until they vanish costs recall everywhere; learning them costs
nothing elsewhere (docs/loco.md has the measurements).

What is learned (from the first ``period`` of network time, then slowly):

* **Services.** A *service* is what one client host uses: ``(orig_h, resp_p,
  proto)``; for multicast and broadcast destinations, which every host on the
  link joins, also the group itself: ``(resp_h, resp_p, proto)``. Each keeps a
  count of clean sightings and the busiest rate its client used it at (the
  ``src_10s_log_count`` feature). After the learning period, a connection
  whose score reaches the threshold is *familiar*, and not anomalous, when
  its service was seen at least ``min_count`` times, it is not much busier
  than ever learned (up to e x the learned peak, or ``rate_floor`` per 10 s),
  and the supervised members do not both call it malicious, unless its
  responder is one most of the site's hosts use, and at least three of them
  (``dst_30m_host_share`` >= 0.5): the site's resolver, whose busy counts
  the supervised members take for a flood target's (on the simulator, 206
  of 462 false alarms after learning were such queries on learned services).
* **Site services.** ``(resp_p, proto)`` as the whole site uses it: a
  connection on a service at least :data:`SITE_MIN_CLIENTS` local clients
  used cleanly, ``min_count`` times in all, within the same rate envelope,
  is familiar too. Why: a host that starts using HTTPS, DNS or a casting
  port other hosts here use every day is ordinary, though it never used it
  while learning (simulator, seed 7, 64 hosts: 125 of the 132 false alarms
  after learning were such connections). Likewise a responder's service
  ``(resp_h, resp_p, proto)`` that at least :data:`SHARED_MIN_HOSTS` clients
  used cleanly is the site's (its resolver, its printer) even in an hour few
  hosts are up, so it is familiar however the supervised members score it,
  as a responder most hosts use right now is. Behaviour evidence and the
  guards still decide first: a beacon or a brute force on a common port is
  never familiar.
* **The score distribution** the adaptive threshold tracks, only with
  ``adapt_threshold`` (off by default: measured, an adaptive threshold fed by
  attack-heavy traffic rises and hides the attack; with it on, it is fed only
  clean connections). By default the threshold stays at the shipped
  calibration and the familiar services remove the site's false alarms.
* **Feature and score statistics** of the site, for the drift report.

Poisoning guards (an infected device or an attack running during learning
must not teach itself benign): a connection that both supervised members (RF,
XGBoost) score at least ``guard`` is *kept out* of everything learned and
counted; a service's rate envelope only grows freely while learning, so a
flood on a known port is never familiar; after the learning period only
connections below the threshold are learned, each counting a fifth of a
sighting; the threshold never drops below the shipped calibration's bounds.

Behaviour guards (:mod:`hamad_plugin.scoring.guards`): a connection whose
recent behaviour is failing, fanning out, flooding or periodic is never
learned and never familiar, so a beacon, brute force or scan that starts
inside the learning period is still flagged after it. One exception, for
judging only: a guarded client's ordinary business (a completed exchange, or
a connection to a service it completed an exchange with in the last hour;
:meth:`~hamad_plugin.scoring.guards.BehaviourGuards.ordinary`) with a
responder it is not flooding may be familiar, held to the pair's pace: the
scanning host's DNS answer from the site's resolver is its ordinary business
(on the simulator such connections were every false alarm left after
learning). A client the guards or evidence marked while learning is a
*suspect*: what it taught may be its attack's (an infected device's C&C, in
IoT-23 34-1, lost 0.5 points of recall when trusted), so only the site's
services (a port or a responder several clients learned), not its own, make
its guarded connections familiar. Evidence keeps its rows out of all of it.

The state is one JSON file per model version (:func:`state_path`), bound to
the model's version and sha256, saved atomically, reloaded on restart.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.durations import format_duration, parse_duration
from ..core.records import ConnColumns, ConnRecord
from ..errors import ConfigError, HamadError
from .guards import GUARD_COUNTS, GUARD_FEATURES, SHARED_HOST_SHARE, BehaviourGuards
from .site_novelty import SiteNovelty, service_classes

if TYPE_CHECKING:
    from ..core.settings import LearningSettings
    from ..core.threshold import AdaptiveThreshold

#: Format tag of the state file; bump when its meaning changes.
STATE_FORMAT = "hamad-learning/1"
#: Members whose joint verdict keeps a connection out of what is learned.
SUPERVISED = ("rf", "xgb")
#: The feature that measures how hard a client uses its services.
RATE_FEATURE = "src_10s_log_count"
#: Suspect clients remembered at most (beyond it none are added).
MAX_SUSPECTS = 10_000
#: Flags multicast/broadcast responders (the group services).
GROUP_FEATURE = "resp_multicast"
#: How much a learned peak rate may be exceeded (log units: e x the peak).
RATE_MARGIN = 1.0
#: Weight of one sighting after the learning period ("keep adapting slowly").
ADAPT_WEIGHT = 0.2
#: Fewest distinct originators a responder needs to count as shared by the site.
SHARED_MIN_HOSTS = 3
#: Distinct clients that must have used a service for it to be the site's: a port
#: (``"s"`` keys), a responder's port (``"r"`` keys).
SITE_MIN_CLIENTS = {"s": 2, "r": SHARED_MIN_HOSTS}
#: Score histogram resolution for the drift report.
SCORE_BINS = 100


def supervised_index(members: Sequence[str]) -> list[int]:
    """Positions of the supervised members (:data:`SUPERVISED`) among a model's members."""
    return [i for i, m in enumerate(members) if m in SUPERVISED]


def clean_rows(members: np.ndarray, supervised: Sequence[int], guard: float) -> np.ndarray:
    """Connections the supervised members (columns ``supervised``) do not all score >= guard."""
    return np.asarray(np.asarray(members)[:, list(supervised)].min(axis=1) < guard)


class StateError(HamadError):
    """A learned-state file cannot be used (unreadable, damaged, or for another model)."""


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/hamad``, else ``~/.local/state/hamad``."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local/state")
    return Path(base) / "hamad"


def state_path(state_dir: str | Path, model_version: str) -> Path:
    """The state file of one model version in a state directory."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", model_version) or "model"
    return Path(state_dir or default_state_dir()).expanduser() / f"learning-{safe}.json"


@dataclass
class LearnOutcome:
    """What the learner decided for one batch (all arrays aligned with the batch)."""

    #: Final anomalous flags.
    flags: np.ndarray
    #: Scored while the site was still being learned.
    learning: np.ndarray
    #: Reached the threshold but not anomalous: a familiar service of this site.
    familiar: np.ndarray


class SiteLearner:
    """What HAMAD has learned about the network it guards (see the module docstring).

    Parameters
    ----------
    settings : LearningSettings
    model_version, model_sha256 : str
        The model the state is bound to.
    feature_names, members : sequence of str
        The model's feature and member names (to find the rate column and the
        supervised members).
    """

    def __init__(
        self,
        settings: LearningSettings,
        model_version: str,
        model_sha256: str,
        feature_names: Sequence[str],
        members: Sequence[str],
    ) -> None:
        self.period = parse_duration(settings.period)
        self.guard = float(settings.guard)
        self.min_count = int(settings.min_count)
        self.rate_cap = math.log1p(max(float(settings.rate_floor), 0.0))
        self.max_services = int(settings.max_services)
        self.adapt_threshold = bool(settings.adapt_threshold)
        self.model_version = model_version
        self.model_sha256 = model_sha256
        self.feature_names = list(feature_names)
        self._supervised = supervised_index(members)
        if not self._supervised:
            raise ConfigError(
                f"learning needs a supervised member ({', '.join(SUPERVISED)}) to keep attack "
                f"traffic out of what it learns; this model has only {list(members)}"
            )
        names = {n: i for i, n in enumerate(self.feature_names)}
        self._rate_col = names.get(RATE_FEATURE)
        self._dst_rate_col = names.get(GUARD_FEATURES["dst_rate"])
        self._shared_col = names.get(GUARD_FEATURES["dst_hosts"])
        self._peers_col = names.get("dst_30m_log_distinct_peers")
        self._group_col = names.get(GROUP_FEATURE)
        #: The behaviour guards (failing, fanning out, flooding, periodic).
        self.guards = BehaviourGuards(
            self.feature_names, self.rate_cap, periodic=bool(settings.guard_periodic)
        )
        #: The connection's own features come before the first context feature.
        self.n_own = next(
            (i for i, n in enumerate(self.feature_names) if n.startswith("src_")),
            len(self.feature_names),
        )
        self.reset()

    def reset(self) -> None:
        """Forget everything learned (a new deployment)."""
        #: Network time of the first connection; learning lasts ``period`` from it.
        self.started: float | None = None
        #: Last network time seen.
        self.clock: float | None = None
        #: service key -> [weighted sightings, peak rate (log1p per 10 s), last seen,
        #: sightings that reached the threshold while learning (for review)].
        self.services: dict[tuple[str, str, int, str], list[float]] = {}
        #: site service key -> the first SITE_MIN_CLIENTS clients that used it cleanly.
        self.site_clients: dict[tuple[str, str, int, str], list[str]] = {}
        #: Clients the guards or evidence marked while learning (their own services are
        #: not trusted for a guarded connection's familiarity; see _judge_and_learn).
        self.suspects: set[str] = set()
        self.counts: dict[str, int] = dict.fromkeys(
            ("seen", "learned", "kept_out", "kept_out_flagged", "flagged_while_learning",
             "adapted", "familiar", "forgotten", "guarded", *GUARD_COUNTS,
             "guarded_evidence"), 0)  # fmt: skip
        self.guards.reset()
        #: How the site uses each service, learned from what is learned (not persisted).
        self.novelty = SiteNovelty(self.n_own)
        n = len(self.feature_names)
        self._fsum = np.zeros(n)
        self._fsq = np.zeros(n)
        self._fn = 0
        self._scores = np.zeros(SCORE_BINS)

    # ------------------------------------------------------------------ phase

    @property
    def enabled(self) -> bool:
        return self.period > 0

    @property
    def learning_until(self) -> float | None:
        """Network time learning ends (None before the first connection)."""
        return None if self.started is None else self.started + self.period

    def is_learning(self, t: float | None = None) -> bool:
        """Whether a connection ending at ``t`` (default: the clock) is still learned from."""
        if not self.enabled:
            return False
        t = self.clock if t is None else t
        return self.started is None or t is None or t < self.started + self.period

    def set_period(self, seconds: float) -> None:
        """Change the learning period (Zeek's ``HAMAD::learning_period``); counts from the start."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ConfigError(f"learning period must be >= 0 seconds, got {seconds!r}")
        self.period = float(seconds)

    # ------------------------------------------------------------------ scoring

    def clean(self, members: np.ndarray) -> np.ndarray:
        """Connections the supervised members do not both call malicious."""
        return clean_rows(members, self._supervised, self.guard)

    def apply(
        self,
        records: Sequence[ConnRecord] | ConnColumns,
        times: np.ndarray,
        X: np.ndarray,
        scores: np.ndarray,
        clean: np.ndarray,
        flags: np.ndarray,
        update: bool = True,
        evident: np.ndarray | None = None,
    ) -> LearnOutcome:
        """Decide familiarity for a scored batch and (if ``update``) learn from it.

        ``evident`` marks connections that carry behaviour evidence
        (:mod:`hamad_plugin.scoring.behaviours`): guarded like the guards' own.

        ``times`` are the extractor's event times (monotone, jump-guarded), so
        the period is measured on the same clock as the features.
        ``update=False`` is for Zeek's interim summaries: judged, not learned.
        """
        cols = (
            records if isinstance(records, ConnColumns) else ConnColumns.from_records(list(records))
        )
        n = len(cols)
        out_flags = np.array(flags, dtype=bool, copy=True)
        familiar = np.zeros(n, dtype=bool)
        if not self.enabled or n == 0:
            return LearnOutcome(out_flags, np.zeros(n, dtype=bool), familiar)
        if self.started is None and update:
            self.started = float(times[0])
        until = self.learning_until
        learning = np.ones(n, dtype=bool) if until is None else np.asarray(times < until)
        clean = np.asarray(clean, dtype=bool)
        guarded, counts = self.guards.check(cols, times, X, update)
        # A guarded client's ordinary business with a responder it is not flooding may
        # still be judged familiar (never learned): the guards speak of the client.
        exempt = self.guards.ordinary(cols, times, guarded, update) & ~self._flooded(X)
        if self.guards.periodic:  # that guard speaks of the pair, not of the client
            exempt[:] = False
        if evident is not None:
            counts["guarded_evidence"] = int((evident & ~guarded).sum())
            guarded = guarded | evident
            exempt &= ~evident
        if update:
            self._suspect(cols, guarded & learning)
        if update:
            for k, v in counts.items():
                self.counts[k] += v
            self.counts["guarded"] += int(guarded.sum())
        ok = clean & ~guarded
        # Only flagged, clean connections after learning can be familiar. While
        # learning every clean connection is learned; afterwards clean ones below
        # the threshold (so an alarm never teaches itself). Guarded behaviour never.
        judge = out_flags & (~guarded | exempt) & ~learning
        opened = clean | self._shared(X)  # may be familiar on any key, else only "r" keys
        take = ok & (learning | ~out_flags) if update else np.zeros(n, dtype=bool)
        self._judge_and_learn(cols, times, X, learning, judge, opened, take, out_flags, familiar,
                              exempt)  # fmt: skip
        if update:
            self._learn_novelty(cols, X, take & learning)
            self._count(learning, clean, flags, take, familiar)
            if len(self.services) > self.max_services:
                self._forget()
            self._observe(X, scores)
            self.clock = float(times[-1])
        return LearnOutcome(out_flags, learning, familiar)

    def _suspect(self, cols: ConnColumns, rows: np.ndarray) -> None:
        """Remember the clients of ``rows`` (guarded or evident while learning) as suspects."""
        for i in np.flatnonzero(rows).tolist():
            if len(self.suspects) >= MAX_SUSPECTS:
                break
            self.suspects.add(cols.orig_h[i])

    def _flooded(self, X: np.ndarray) -> np.ndarray:
        """Rows whose responder is above the learner's rate cap (a flood's target)."""
        j = self._dst_rate_col
        if j is None:
            return np.ones(len(X), dtype=bool)
        return np.asarray(X[:, j] > self.rate_cap)

    def _shared(self, X: np.ndarray) -> np.ndarray:
        """Rows whose responder most of the site's hosts use, and at least
        :data:`SHARED_MIN_HOSTS` of them (the resolver, the NTP server): on a one-host
        network every responder is "most of the site's"."""
        j, k = self._shared_col, self._peers_col
        if j is None or k is None:
            return np.zeros(len(X), dtype=bool)
        many = X[:, k] >= math.log1p(SHARED_MIN_HOSTS) - 1e-9
        return np.asarray((X[:, j] >= SHARED_HOST_SHARE) & many)

    def site_novelty(
        self, cols: ConnColumns, X: np.ndarray, times: np.ndarray
    ) -> np.ndarray | None:
        """The site novelty of each row (NaN: service not learned), None before it is ready.

        The pipeline hands over batches that lie wholly inside or after the learning
        period; the first one after it freezes what was learned, before it is scored.
        """
        until = self.learning_until
        if not self.novelty.ready and until is not None and len(times) and times[0] >= until:
            self.novelty.freeze()
        if not self.novelty.ready:
            return None
        return self.novelty.score(service_classes(cols.proto, cols.ports[1]), X[:, : self.n_own])

    def _learn_novelty(self, cols: ConnColumns, X: np.ndarray, learned: np.ndarray) -> None:
        if self.novelty.ready:
            return
        if learned.any():
            classes = service_classes(cols.proto, cols.ports[1])
            self.novelty.learn([classes[i] for i in np.flatnonzero(learned)],
                               X[learned, : self.n_own])  # fmt: skip

    def _judge_and_learn(
        self,
        cols: ConnColumns,
        times: np.ndarray,
        X: np.ndarray,
        learning: np.ndarray,
        judge: np.ndarray,
        opened: np.ndarray,
        take: np.ndarray,
        out_flags: np.ndarray,
        familiar: np.ndarray,
        exempt: np.ndarray,
    ) -> None:
        """Mark the ``judge`` rows of familiar services (in ``out_flags``/``familiar``) and
        learn the ``take`` rows' services (``opened``: rows any service may make familiar;
        the others only a site responder's). An ``exempt`` row (a guarded client's ordinary
        business) is held to the pair's pace, the lower of its client's and its responder's
        rate (the client's own rate is its flood's, elsewhere); if the client is a suspect
        (it misbehaved while learning, so what it taught may be its attack's: an infected
        device's C&C), only the site's services make it familiar, not its own.

        One pass in stream order: each connection is judged on what the
        connections before it taught, whatever the batch boundaries, so replay
        (batches of 1024) and serve (Zeek's batches) decide alike.
        """
        n = len(cols)
        rate = X[:, self._rate_col] if self._rate_col is not None else np.zeros(n)
        if self._dst_rate_col is not None and exempt.any():
            rate = np.where(exempt, np.minimum(rate, X[:, self._dst_rate_col]), rate)
        group = X[:, self._group_col] > 0.5 if self._group_col is not None else np.zeros(n, bool)
        services, min_count, cap = self.services, self.min_count, self.rate_cap
        site_clients, ol, suspects = self.site_clients, opened.tolist(), self.suspects
        tl, rl, gl, ll = times.tolist(), rate.tolist(), group.tolist(), learning.tolist()
        jl, kl, fl, xl = judge.tolist(), take.tolist(), out_flags.tolist(), exempt.tolist()
        orig_h, resp_h, proto = cols.orig_h, cols.resp_h, cols.proto
        resp_p = cols.ports[1]
        for i in np.flatnonzero(judge | take).tolist():
            keys = [("c", orig_h[i], resp_p[i], proto[i]), ("s", "", resp_p[i], proto[i]),
                    ("r", resp_h[i], resp_p[i], proto[i])]  # fmt: skip
            if gl[i]:
                keys.append(("g", resp_h[i], resp_p[i], proto[i]))
            if jl[i]:
                if not ol[i]:
                    allowed = keys[2:3]  # only a site responder's service
                elif xl[i] and orig_h[i] in suspects:
                    allowed = keys[1:3]  # the site's services, not what the suspect taught
                else:
                    allowed = keys
                for key in allowed:
                    s = services.get(key)
                    if (
                        s is not None
                        and s[0] >= min_count
                        and rl[i] <= max(s[1] + RATE_MARGIN, cap)
                        and self._site_ok(key)
                    ):
                        familiar[i] = True
                        out_flags[i] = False
                        break
            elif kl[i]:
                w = 1.0 if ll[i] else ADAPT_WEIGHT
                r_i = rl[i] if ll[i] else min(rl[i], cap)
                flagged = 1.0 if fl[i] else 0.0  # only while learning: afterwards never taken
                for key in keys[1:3]:
                    users = site_clients.setdefault(key, [])
                    if len(users) < SITE_MIN_CLIENTS[key[0]] and orig_h[i] not in users:
                        users.append(orig_h[i])
                for key in keys:
                    s = services.get(key)
                    if s is None:
                        services[key] = [w, r_i, tl[i], flagged]
                    else:
                        s[0] += w
                        if r_i > s[1]:
                            s[1] = r_i
                        s[2] = tl[i]
                        s[3] += flagged

    def _site_ok(self, key: tuple[str, str, int, str]) -> bool:
        """A client's or group's service always; a site service once enough clients used it."""
        need = SITE_MIN_CLIENTS.get(key[0])
        return need is None or len(self.site_clients.get(key, ())) >= need

    def _count(
        self,
        learning: np.ndarray,
        clean: np.ndarray,
        flags: np.ndarray,
        take: np.ndarray,
        familiar: np.ndarray,
    ) -> None:
        """Count one learned batch (``flags``: the threshold's, before familiarity)."""
        c = self.counts
        c["seen"] += len(learning)
        kept = learning & ~clean
        c["kept_out"] += int(kept.sum())
        c["kept_out_flagged"] += int((kept & flags).sum())
        c["flagged_while_learning"] += int((learning & flags).sum())
        n_learning = int((take & learning).sum())
        c["learned"] += n_learning
        c["adapted"] += int(take.sum()) - n_learning
        c["familiar"] += int(familiar.sum())

    def _forget(self) -> None:
        """Drop the least recently seen tenth of the services (bounded memory)."""
        drop = len(self.services) - int(self.max_services * 0.9)
        oldest = sorted(self.services.items(), key=lambda kv: kv[1][2])[:drop]
        for key, _ in oldest:
            del self.services[key]
            self.site_clients.pop(key, None)
        self.counts["forgotten"] += len(oldest)

    def _observe(self, X: np.ndarray, scores: np.ndarray) -> None:
        Xd = np.asarray(X, dtype=np.float64)
        self._fsum += Xd.sum(axis=0)
        self._fsq += (Xd * Xd).sum(axis=0)
        self._fn += len(Xd)
        bins = np.clip((np.asarray(scores) * SCORE_BINS).astype(np.int64), 0, SCORE_BINS - 1)
        self._scores += np.bincount(bins, minlength=SCORE_BINS)

    # ------------------------------------------------------------------ reporting

    def familiar(self) -> list[tuple[tuple[str, str, int, str], list[float]]]:
        """The services seen often enough to be familiar, most sightings first."""
        hits = [(k, v) for k, v in self.services.items()
                if v[0] >= self.min_count and self._site_ok(k)]  # fmt: skip
        return sorted(hits, key=lambda kv: (kv[1][0], kv[0]), reverse=True)

    def review(self, n: int | None = 10) -> list[tuple[tuple[str, str, int, str], list[float]]]:
        """Familiar services that reached the threshold while they were being learned,
        most such sightings first: what an operator should look at, because an attack
        already running during learning that the supervised members did not recognise
        is learned like any other service."""
        hits = [(k, v) for k, v in self.familiar() if v[3] > 0]
        return sorted(hits, key=lambda kv: -kv[1][3])[:n]

    def feature_stats(self) -> tuple[np.ndarray, np.ndarray, int]:
        """Mean and standard deviation of every feature over the site's connections."""
        n = max(self._fn, 1)
        mean = self._fsum / n
        var = np.maximum(self._fsq / n - mean * mean, 0.0)
        return mean, np.sqrt(var), self._fn

    @property
    def score_hist(self) -> np.ndarray:
        return np.array(self._scores, dtype=np.float64)

    @property
    def phase(self) -> str:
        """``off``, ``learning`` or ``adapting`` (cheap: safe to read while a batch scores)."""
        if not self.enabled:
            return "off"
        return "learning" if self.is_learning() else "adapting"

    def summary(self) -> dict[str, Any]:
        """Counters and phase, for logs, ``hamad info`` and ``hamad learn status``."""
        until = self.learning_until
        return {
            "phase": self.phase,
            "period": format_duration(self.period),
            "started": self.started,
            "learning_until": until,
            "clock": self.clock,
            "services": len(self.services),
            "familiar_services": len(self.familiar()),
            "learned_while_flagged": len(self.review(None)),
            **self.counts,
        }

    # ------------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "started": self.started,
            "clock": self.clock,
            "counts": dict(self.counts),
            "services": [
                [*k, round(v[0], 3), round(v[1], 4), v[2], v[3]] for k, v in self.services.items()
            ],
            "site_clients": [[*k, list(c)] for k, c in self.site_clients.items()],
            "suspects": sorted(self.suspects),
            "features": {"n": self._fn, "sum": self._fsum.tolist(), "sumsq": self._fsq.tolist()},
            "scores": self._scores.tolist(),
        }

    def load_dict(self, d: dict[str, Any]) -> None:
        """Restore :meth:`to_dict` output; raises ValueError/KeyError/TypeError if damaged."""
        n = len(self.feature_names)
        services: dict[tuple[str, str, int, str], list[float]] = {}
        for row in d["services"]:
            kind, addr, port, proto, count, peak, last, flagged = row
            if (
                kind not in ("c", "g", "s", "r")
                or not isinstance(addr, str)
                or not isinstance(proto, str)
            ):
                raise ValueError(f"bad service entry {row!r}")
            vals = [float(count), float(peak), float(last), float(flagged)]
            if not all(math.isfinite(v) for v in vals) or vals[0] < 0 or vals[3] < 0:
                raise ValueError(f"bad service entry {row!r}")
            services[(kind, addr, int(port), proto)] = vals
        site_clients: dict[tuple[str, str, int, str], list[str]] = {}
        for row in d.get("site_clients", []):  # absent before site services
            kind, addr, port, proto, clients = row
            if kind not in SITE_MIN_CLIENTS or not isinstance(addr, str) or not isinstance(
                    proto, str) or not all(isinstance(c, str) for c in clients):  # fmt: skip
                raise ValueError(f"bad site service entry {row!r}")
            site_clients[(kind, addr, int(port), proto)] = list(clients)[: SITE_MIN_CLIENTS[kind]]
        suspects = d.get("suspects", [])  # absent before suspects
        if not isinstance(suspects, list) or not all(isinstance(c, str) for c in suspects):
            raise ValueError("bad suspects list")
        feats = d["features"]
        fsum, fsq = np.asarray(feats["sum"], float), np.asarray(feats["sumsq"], float)
        scores = np.asarray(d["scores"], float)
        if fsum.shape != (n,) or fsq.shape != (n,) or scores.shape != (SCORE_BINS,):
            raise ValueError("feature or score statistics do not fit this model")
        counts = {k: int(v) for k, v in d["counts"].items() if k in self.counts}
        started = d["started"]
        clock = d["clock"]
        period = float(d["period"])
        if not math.isfinite(period) or period < 0:
            raise ValueError(f"bad learning period {period!r}")
        self.reset()
        self.period = period
        self.started = None if started is None else float(started)
        self.clock = None if clock is None else float(clock)
        self.services = services
        self.site_clients = site_clients
        self.suspects = set(suspects[:MAX_SUSPECTS])
        self.counts.update(counts)
        self._fsum, self._fsq, self._fn = fsum, fsq, int(feats["n"])
        self._scores = scores


def save_state(path: Path, learner: SiteLearner, threshold: AdaptiveThreshold) -> None:
    """Write the site's state atomically (temp file + rename) next to ``path``."""
    doc = {
        "format": STATE_FORMAT,
        "model_version": learner.model_version,
        "model_sha256": learner.model_sha256,
        "saved": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "learner": learner.to_dict(),
        "threshold": threshold.state_dict(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, separators=(",", ":"))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_state(path: Path) -> dict[str, Any]:
    """Parse a state file; StateError says what is wrong with it."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise StateError(f"{path} is not a readable learned state ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise StateError(f"{path} is not a {STATE_FORMAT} file (format {got!r})")
    return doc


def load_state(path: Path, learner: SiteLearner, threshold: AdaptiveThreshold) -> None:
    """Restore a saved site state into ``learner`` and ``threshold``.

    Raises FileNotFoundError when there is none, StateError when it belongs to
    another model or is damaged (nothing is changed then).
    """
    doc = read_state(path)
    if doc.get("model_version") != learner.model_version or (
        doc.get("model_sha256") != learner.model_sha256
    ):
        raise StateError(
            f"{path} was learned with model {doc.get('model_version')!r} "
            f"({str(doc.get('model_sha256'))[:12]}...), not the loaded "
            f"{learner.model_version!r} ({learner.model_sha256[:12]}...)"
        )
    backup_l, backup_t = learner.to_dict(), threshold.state_dict()
    try:
        learner.load_dict(doc["learner"])
        threshold.load_state(doc["threshold"])
    except (KeyError, TypeError, ValueError) as exc:
        learner.load_dict(backup_l)
        threshold.load_state(backup_t)
        raise StateError(f"{path} is damaged ({type(exc).__name__}: {exc})") from exc
