"""The evasion study: how recall moves when the attacker changes their traffic.

A simulated gateway day (``hamad simulate``) is the base. Each *evasion* rewrites
only the attack's own rows of that conn log, as an attacker who controls their
traffic could, at growing strengths; the rewritten log then goes through the
product as deployed (``hamad replay --learn``: fresh site, learning period,
adaptive guards) and the study reads recall of the rewritten scenario after
learning, and benign false alarms, from the labels. The labels pick which rows an
attacker owns; the detector never reads them.

The evasions (strength 0 is the unmodified attack):

- ``pad``: every attack connection that carried data sends ``k`` more bytes each way;
- ``jitter``: each C&C heartbeat fires ``U(-j, j)`` seconds off its schedule (period 60 s);
- ``slow``: each scan runs ``f`` times slower (its rows past the end of the day are lost);
- ``spread``: password guessing comes from ``n`` infected local devices in turn, not one;
- ``hide``: the heartbeat comes from a busier device (the median one, then the busiest).

What is measured here is the simulator's traffic: it says what in HAMAD resists a
change, not what a real attacker on a real network would achieve (docs/simulator.md).
"""

from __future__ import annotations

import random
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

Row = list[str]
Rewrite = Callable[[list[Row], dict[str, int], float, random.Random], list[Row]]

_DATA_STATES = {"SF", "S1", "S2", "S3", "RSTO", "RSTR"}
SCANS = (
    "PartOfAHorizontalPortScan", "PartOfAHorizontalPortScan-Slow",
    "PartOfAVerticalPortScan", "PartOfAVerticalPortScan-Slow",
)  # fmt: skip
GUESSING = ("Attack-SSHBruteForce", "Attack-TelnetBruteForce")
BEACON = ("C&C-HeartBeat",)


def _label(r: Row, col: dict[str, int]) -> str:
    return r[col["detailed-label"]]


def _is(labels: Sequence[str]) -> Callable[[Row, dict[str, int]], bool]:
    return lambda r, col: _label(r, col) in labels


def _attack(r: Row, col: dict[str, int]) -> bool:
    return r[col["label"]] == "Malicious"


def pad(rows: list[Row], col: dict[str, int], k: float, _rng: random.Random) -> list[Row]:
    """``k`` more bytes each way on every attack connection that carried data."""
    n = int(k)
    for r in rows:
        if not (_attack(r, col) and r[col["conn_state"]] in _DATA_STATES):
            continue
        for side in ("orig", "resp"):
            for f in (f"{side}_bytes", f"{side}_ip_bytes"):
                if r[col[f]] not in ("-", ""):
                    r[col[f]] = str(int(r[col[f]]) + n)
    return rows


def jitter(rows: list[Row], col: dict[str, int], j: float, rng: random.Random) -> list[Row]:
    """Each heartbeat ``U(-j, j)`` seconds off schedule."""
    for r in rows:
        if _label(r, col) in BEACON:
            r[col["ts"]] = f"{float(r[col['ts']]) + rng.uniform(-j, j):.6f}"
    return rows


def slow(rows: list[Row], col: dict[str, int], f: float, _rng: random.Random) -> list[Row]:
    """Each scan ``f`` times slower from its first connection; rows past the day's end go."""
    end = max(float(r[col["ts"]]) for r in rows)
    first: dict[str, float] = {}
    for r in rows:
        if _label(r, col) in SCANS:
            t = float(r[col["ts"]])
            first[_label(r, col)] = min(first.get(_label(r, col), t), t)
    out: list[Row] = []
    for r in rows:
        lab = _label(r, col)
        if lab in first:
            t = first[lab] + (float(r[col["ts"]]) - first[lab]) * f
            if t > end:
                continue
            r[col["ts"]] = f"{t:.6f}"
        out.append(r)
    return out


def _local_originators(rows: list[Row], col: dict[str, int]) -> list[str]:
    """Local devices by how many benign connections they start, busiest first."""
    n = Counter(
        r[col["id.orig_h"]]
        for r in rows
        if not _attack(r, col) and r[col["id.orig_h"]].startswith(("192.168.", "10."))
    )
    return [h for h, _ in n.most_common()]


def spread(rows: list[Row], col: dict[str, int], n: float, _rng: random.Random) -> list[Row]:
    """Password guessing from ``n`` local devices in turn (1 = the original source)."""
    if n <= 1:
        return rows
    hosts = _local_originators(rows, col)[: int(n)]
    i = 0
    for r in rows:
        if _label(r, col) in GUESSING:
            r[col["id.orig_h"]] = hosts[i % len(hosts)]
            i += 1
    return rows


def hide(rows: list[Row], col: dict[str, int], q: float, _rng: random.Random) -> list[Row]:
    """The heartbeat from a busier device: q = 0 original, 0.5 the median, 1 the busiest."""
    if q <= 0:
        return rows
    hosts = _local_originators(rows, col)
    host = hosts[min(len(hosts) - 1, int(round((1 - q) * (len(hosts) - 1))))]
    for r in rows:
        if _label(r, col) in BEACON:
            r[col["id.orig_h"]] = host
    return rows


@dataclass(frozen=True)
class Evasion:
    """One evasion: what it rewrites, the strengths tried, which scenarios it is judged on."""

    name: str
    rewrite: Rewrite
    strengths: tuple[float, ...]
    unit: str
    judged: tuple[str, ...]
    #: What in HAMAD the evasion works against, and what gives way (docs/evasion.md).
    reading: str = ""


EVASIONS: tuple[Evasion, ...] = (
    Evasion(
        "pad", pad, (0, 200, 2000), "bytes added each way",
        ("C&C-HeartBeat", "FileDownload", "DNSTunneling", *GUESSING),
        "Padding changes sizes, not what the connections do. Password guessing is "
        "caught by many short connections from one client to one login service within "
        "minutes; a tunnel by many DNS queries from one client; a beacon by the regularity "
        "of its intervals and of its sizes relative to each other, so adding the same "
        "bytes to every heartbeat leaves their dispersion as it was. Random padding per "
        "connection (not tried here) would attack the size regularity; the interval "
        "regularity would remain.",
    ),
    Evasion(
        "jitter", jitter, (0, 10, 30), "seconds off a 60 s schedule", BEACON,
        "The beacon detector scores the dispersion and skew of inter-arrival times as "
        "RITA does; jitter of up to a sixth of the period stays regular enough. At +-30 s "
        "(+-50 % of the period) the intervals are spread so widely that part of the "
        "heartbeat no longer scores as periodic: this is where HAMAD gives way.",
    ),
    Evasion(
        "slow", slow, (1, 4, 16), "times slower", SCANS,
        "Scans are counted by distinct peers and ports per client over scales up to hours "
        "(bounded sketches), so a scan that slows down still accumulates distinct targets; "
        "the slowest ones lose rows only because fewer of them fall inside the simulated "
        "day. A scan that started inside the learning period and ran on past it is still "
        "flagged (the slow horizontal scan: absent at 1x because it ended inside learning).",
    ),
    Evasion(
        "spread", spread, (1, 4, 16), "local sources in turn", GUESSING,
        "Password guessing evidence is per client and service: spreading the guesses over "
        "n devices divides each device's rate by n. At 16 sources each device makes a "
        "sixteenth of the attempts and some of its guesses fall below the count the "
        "detector waits for; the incidents multiply (one per device: Telnet's 1 becomes "
        "4, then 16). Evidence pooled per "
        "target service across clients would resist this; HAMAD does not pool it yet.",
    ),
    Evasion(
        "hide", hide, (0, 0.5, 1), "busiest-device quantile", BEACON,
        "The beacon is tracked per (client, responder, port), not per client, so the "
        "busy device's other traffic does not dilute it: moving the heartbeat to the "
        "median or the busiest device changes nothing measurable.",
    ),
)  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    """Recall of the judged scenarios after learning, for one evasion at one strength."""

    evasion: str
    strength: float
    unit: str
    scenario: str
    rows: int
    flagged: int
    benign_false_per_10k: float
    incidents: int


def _read(path: Path) -> tuple[list[str], dict[str, int], list[Row]]:
    header: list[str] = []
    rows: list[Row] = []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            header.append(line)
        elif line:
            rows.append(line.split("\t"))
    fields = next(h for h in header if h.startswith("#fields")).split("\t")[1:]
    return header, {f: i for i, f in enumerate(fields)}, rows


def _end(r: Row, col: dict[str, int]) -> float:
    d = r[col["duration"]]
    return float(r[col["ts"]]) + (float(d) if d not in ("-", "") else 0.0)


def _write(path: Path, header: list[str], col: dict[str, int], rows: list[Row]) -> None:
    rows = sorted(rows, key=lambda r: _end(r, col))  # Zeek writes at connection end
    body = "\n".join("\t".join(r) for r in rows)
    path.write_text("\n".join(h for h in header if not h.startswith("#close")) + "\n" + body + "\n")


def _score(
    path: Path, learn: str, judged: Sequence[str], label_of: dict[str, str]
) -> tuple[dict[str, list[int]], float, Counter[str]]:
    """Replay as deployed; (rows, flagged) per judged scenario after learning, benign
    false alarms per 10k after learning, and per scenario the incidents Zeek would raise
    that hold one of its connections among their example uids."""
    from ..core.settings import load_settings, with_overrides
    from ..offline.replay import noticed, replay
    from ..scoring.pipeline import Pipeline

    s = with_overrides(load_settings(None), learning__period=learn)
    pipe = Pipeline.from_settings(s, learn=True)
    summ = replay([path], pipe, out=None, top_n=0)
    lab = set(judged)
    per = {r["label"]: [r["rows"], r["flagged"]] for r in summ.by_label_after.rows()}
    fpr = summ.after_learning.metrics()["fpr"] if summ.after_learning is not None else None
    incidents: Counter[str] = Counter()
    for i in summ.incidents:
        if noticed(i):
            incidents.update({label_of[u] for u in i["examples"] if label_of.get(u) in lab})
    return {k: v for k, v in per.items() if k in lab}, 1e4 * float(fpr or 0.0), incidents


def run_study(
    base: Path,
    learn: str = "6h",
    evasions: Sequence[Evasion] = EVASIONS,
    seed: int = 0,
    echo: Callable[[str], None] = lambda _m: None,
) -> list[Outcome]:
    """Every evasion at every strength on the simulated log ``base``."""
    header, col, _ = _read(base)
    out: list[Outcome] = []
    with tempfile.TemporaryDirectory() as tmp:
        for ev in evasions:
            for strength in ev.strengths:
                _, _, rows = _read(base)
                rows = ev.rewrite(rows, col, strength, random.Random(seed))
                path = Path(tmp) / f"{ev.name}-{strength}.conn.log"
                _write(path, header, col, rows)
                label_of = {r[col["uid"]]: _label(r, col) for r in rows}
                per, false, incidents = _score(path, learn, ev.judged, label_of)
                echo(f"{ev.name} {strength:g} {ev.unit}: " + ", ".join(
                    f"{k} {f}/{n}" for k, (n, f) in sorted(per.items())))  # fmt: skip
                for scen in ev.judged:
                    n, f = per.get(scen, [0, 0])
                    out.append(
                        Outcome(ev.name, strength, ev.unit, scen, n, f, false, incidents[scen])
                    )
    return out


def outcomes_json(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    return [asdict(o) for o in outcomes]


def _outcome(outcomes: Sequence[Outcome], name: str, strength: float) -> Outcome:
    return next(x for x in outcomes if x.evasion == name and x.strength == strength)


def markdown(per_seed: dict[int, Sequence[Outcome]], command: str) -> str:
    """docs/evasion.md: what the study does, per evasion its table and its reading."""
    seeds = sorted(per_seed)
    lines = [
        "# Evasion study: what the attacker can change, and what HAMAD still sees",
        "",
        f"Produced by `{command}` (shipped model, default settings, learning period as "
        "given). Each simulated day is rewritten by one evasion at a time; only the "
        "attack's rows change (the study reads the labels to know which rows the "
        "attacker owns; the detector never reads them). The rewritten log goes through "
        "`hamad replay --learn` as a fresh deployment. Each cell is *connections flagged "
        "after learning / connections after learning*, and in brackets the incidents Zeek "
        "would raise on its defaults whose example uids include one of them. Incidents fold "
        "per originator and behaviour, and the simulator's camera runs both the SSH and the "
        "Telnet guessing (its laptop both vertical scans), so one incident holds both and "
        "names examples of one: a 0 there means *in the other scenario's incident*, not "
        "*no incident*. `—`: the scenario lies inside the "
        "learning period on that day, so nothing of it is scored after learning. "
        "Simulated traffic: this says what in HAMAD resists each change, not what a real "
        "attacker achieves on a real network (docs/simulator.md).",
        "",
        "![recall after learning by evasion strength](img/evasion.png)",
        "",
    ]
    for ev in EVASIONS:
        lines += [
            f"## {ev.name}: {ev.unit}",
            "",
            "| scenario | " + " | ".join(
                f"{s:g}, seed {seed}" for s in ev.strengths for seed in seeds) + " |",
            "|---|" + "---:|" * (len(ev.strengths) * len(seeds)),
        ]  # fmt: skip
        for scen in ev.judged:
            cells = []
            for strength in ev.strengths:
                for seed in seeds:
                    o = next(
                        (x for x in per_seed[seed]
                         if x.evasion == ev.name and x.strength == strength and x.scenario == scen),
                        None,
                    )  # fmt: skip
                    cells.append(
                        "—" if o is None or not o.rows else f"{o.flagged}/{o.rows} ({o.incidents})"
                    )
            lines.append(f"| {scen} | " + " | ".join(cells) + " |")
        falses = [
            f"{_outcome(per_seed[seed], ev.name, s).benign_false_per_10k:.1f}"
            for s in ev.strengths
            for seed in seeds
        ]
        lines += ["| benign false alarms /10k | " + " | ".join(falses) + " |", ""]
        if ev.reading:
            lines += [ev.reading, ""]
    return "\n".join(lines)


def plot(per_seed: dict[int, Sequence[Outcome]], path: Path) -> Path:
    """Recall after learning against evasion strength: one panel per evasion."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(EVASIONS), figsize=(4 * len(EVASIONS), 3.4), sharey=True)
    for ax, ev in zip(axes, EVASIONS, strict=True):
        for scen in ev.judged:
            for seed, style in zip(sorted(per_seed), ("-", "--", ":"), strict=False):
                xs, ys = [], []
                for i, s in enumerate(ev.strengths):
                    o = next((x for x in per_seed[seed] if x.evasion == ev.name
                              and x.strength == s and x.scenario == scen), None)  # fmt: skip
                    if o is not None and o.rows:
                        xs.append(i)
                        ys.append(o.flagged / o.rows)
                ax.plot(xs, ys, style, marker="o", label=f"{scen} (seed {seed})")
        ax.set_xticks(range(len(ev.strengths)), [f"{s:g}" for s in ev.strengths])
        ax.set_title(ev.name)
        ax.set_xlabel(ev.unit)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="lower left")
    axes[0].set_ylabel("recall after learning")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
