"""End-to-end runs with a real Zeek (skipped, with the reason, where none is installed).

What a user does, on traces the tests write themselves (``tests/pcapgen.py``):
``zeek -r`` with a live ``hamad serve`` over both transports, without a
worker, twice in parallel, in zeekctl's check mode while the port is taken;
conn.log and the other logs compared with and without the package; the
package's btests; ``zkg install`` of this checkout; and a cluster on one host
(``test_real_zeek_cluster.py``); faults: the worker stopped, killed and restarted,
Zeek restarted, hostile worker messages (``test_real_zeek_faults.py``). CI has no Zeek, so these run wherever one is
installed (``tests/zeek_install.py`` finds it; ``HAMAD_ZEEK=/opt/zeek-8.0.10`` picks
a release; pytest's header names the one used).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from zeek_install import ZEEK_INSTALL

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
SCRIPTS = REPO / "zeek_scripts"

ZEEK = str(ZEEK_INSTALL.zeek) if ZEEK_INSTALL else None
#: Why the real-Zeek tests skip where no Zeek is installed.
NO_ZEEK = "needs Zeek (none on PATH, zeek-config, /usr/local/zeek or /opt/zeek*; none in CI)"
pytestmark = [pytest.mark.zeek, pytest.mark.skipif(ZEEK is None, reason=NO_ZEEK)]

HAMAD_LOG_FIELDS = [
    "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "score", "threshold",
    "anomalous", "top_features", "top_model", "model_version", "interim", "learning", "familiar",
    "behaviour", "incident", "scored_by", "reason",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_trace(path: Path, *args: str) -> Path:
    subprocess.run([sys.executable, str(TESTS / "pcapgen.py"), str(path), *args], check=True,
                   capture_output=True)  # fmt: skip
    return path


def rows(log: Path) -> list[dict[str, str]]:
    """The rows of a Zeek ASCII log as dicts (empty if the log does not exist)."""
    if not log.exists():
        return []
    names: list[str] = []
    out = []
    for line in log.read_text().splitlines():
        if line.startswith("#fields"):
            names = line.split("\t")[1:]
        elif line and not line.startswith("#"):
            out.append(dict(zip(names, line.split("\t"), strict=True)))
    return out


def zeek_errors(stderr: str) -> list[str]:
    """Lines in which Zeek reports an error (``error in ...``, ``fatal error``, ...)."""
    return [ln for ln in stderr.splitlines() if re.search(r"(^|\s)(fatal )?error( in|:)", ln)]


def fields(log: Path) -> list[str]:
    for line in log.read_text().splitlines():
        if line.startswith("#fields"):
            return line.split("\t")[1:]
    raise AssertionError(f"{log} has no #fields header")


@contextmanager
def worker(
    transport: str,
    port: int,
    *extra: str,
    state_dir: Path | None = None,
    stderr: list[str] | None = None,
) -> Iterator[subprocess.Popen[str]]:
    """A real ``hamad serve`` on its defaults except the port, a fast heartbeat and a
    state directory of its own (never the user's ~/.local/state); its log lines are
    appended to ``stderr`` when it has stopped."""
    state = state_dir or Path(tempfile.mkdtemp(prefix="hamad-state-"))
    proc = subprocess.Popen(
        [sys.executable, "-c", "from hamad_plugin.cli import main; main()", "serve",
         "--transport", transport, "--port", str(port), "--heartbeat-interval", "0.5",
         "--max-backoff", "0.5", "--state-dir", str(state), *extra],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if stderr is not None:
            stderr.append(err)


def run_zeek(cwd: Path, *args: str, timeout: float = 180,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [ZEEK or "zeek", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env=env,
    )  # fmt: skip


def package(transport: str) -> list[str]:
    """What Zeek loads for a worker started with ``--transport transport``: the package
    on its defaults for ``auto``, else with that transport chosen."""
    if transport == "websocket":
        return [str(SCRIPTS / "websocket.zeek")]
    if transport == "broker":
        return [str(SCRIPTS), "HAMAD::transport=HAMAD::TRANSPORT_BROKER"]
    return [str(SCRIPTS)]


#: Every supported release (8.0, 8.2, 9.0) has both transports; ``auto`` is the default pair.
TRANSPORTS = ["auto", "broker", "websocket"]


# ---------------------------------------------------------------------------


def test_every_script_loads_alone() -> None:
    """``zeek -a`` parses and type-checks the package and each script file on its own
    (zeekscript cannot): any file a user ``@load``s alone must be complete."""
    entries = [SCRIPTS, *sorted(SCRIPTS.glob("*.zeek"))]
    assert len(entries) >= 7
    for entry in entries:
        out = subprocess.run([ZEEK or "zeek", "-a", str(entry)], capture_output=True, text=True,
                             timeout=60)  # fmt: skip
        assert out.returncode == 0 and out.stderr == "", f"{entry.name}: {out.stderr}"


def test_main_zeek_alone_scores_a_trace(tmp_path: Path) -> None:
    """``@load hamad/main`` alone is the whole pipeline: summaries, transport, hamad.log."""
    pcap = make_trace(tmp_path / "trace.pcap")
    port = free_port()
    with worker("auto", port):
        z = run_zeek(tmp_path / "run", "-C", "-r", str(pcap), str(SCRIPTS / "main.zeek"),
                     f"HAMAD::listen_port={port}/tcp", "HAMAD::learning_period=0secs")  # fmt: skip
    assert z.returncode == 0 and not zeek_errors(z.stderr), z.stderr
    conns = {r["uid"] for r in rows(tmp_path / "run" / "conn.log")}
    finals = {r["uid"] for r in rows(tmp_path / "run" / "hamad.log") if r["interim"] == "F"}
    assert conns and finals == conns


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_zeek_r_with_a_live_worker(tmp_path: Path, transport: str) -> None:
    pcap = make_trace(tmp_path / "trace.pcap")
    port = free_port()
    with worker(transport, port):
        z = run_zeek(tmp_path / "run", "-C", "-r", str(pcap), *package(transport),
                     f"HAMAD::listen_port={port}/tcp", "HAMAD::interim_interval=1min",
                     "HAMAD::learning_period=0secs", "HAMAD::notice_connections=T")  # fmt: skip
    assert z.returncode == 0, z.stderr
    assert not zeek_errors(z.stderr), z.stderr
    run = tmp_path / "run"
    assert fields(run / "hamad.log") == HAMAD_LOG_FIELDS
    conns = [r["uid"] for r in rows(run / "conn.log")]
    verdicts = rows(run / "hamad.log")
    finals = Counter(r["uid"] for r in verdicts if r["interim"] == "F")
    assert set(finals) == set(conns), "every connection in conn.log gets a final verdict"
    assert max(finals.values()) == 1, "and exactly one"
    assert any(r["interim"] == "T" and r["id.resp_p"] == "22" for r in verdicts), (
        "the long SSH session gets an interim verdict while open"
    )
    notices = rows(run / "notice.log")
    flagged = [n for n in notices if n["note"] == "HAMAD::Anomalous_Connection"]
    assert flagged, "the port scan raises an Anomalous_Connection notice"
    assert all(re.search(r"top features: \w+.*model weighed most: \w+", n["msg"]) for n in flagged)
    assert {n["src"] for n in flagged} >= {"192.168.1.66"}
    incidents = [n for n in notices if n["note"] == "HAMAD::Incident"]
    assert any(re.match(r"192\.168\.1\.66: [\w-]+, \d+ anomalous connections to \d+ responders "
                        r"since .*highest score", n["msg"]) for n in incidents), incidents  # fmt: skip
    ids = Counter(re.search(r"incident=(\S+)", n["sub"])[1] for n in incidents)  # type: ignore[index]
    assert max(ids.values()) == 1, "one notice per incident"
    reporter = (run / "reporter.log").read_text() if (run / "reporter.log").exists() else ""
    assert "Reporter::ERROR" not in reporter


def test_a_new_worker_learns_first_and_holds_notices_back(tmp_path: Path) -> None:
    """On the default learning period (a day) a fresh worker scores and logs every
    connection with learning=T, raises no Anomalous_* notice, and saves what it learned;
    with HAMAD::notice_while_learning=T the same run raises them, marked as learning."""
    pcap = make_trace(tmp_path / "trace.pcap")
    state = tmp_path / "state"
    port = free_port()
    with worker("auto", port, state_dir=state):
        z = run_zeek(tmp_path / "held", "-C", "-r", str(pcap), str(SCRIPTS),
                     f"HAMAD::listen_port={port}/tcp")  # fmt: skip
    assert z.returncode == 0, z.stderr
    verdicts = rows(tmp_path / "held" / "hamad.log")
    assert verdicts and {r["learning"] for r in verdicts} == {"T"}
    assert any(r["anomalous"] == "T" for r in verdicts), "the scan still scores as anomalous"
    notes = {n["note"] for n in rows(tmp_path / "held" / "notice.log")} if (
        tmp_path / "held" / "notice.log").exists() else set()  # fmt: skip
    assert not {"HAMAD::Incident", "HAMAD::Anomalous_Connection", "HAMAD::Anomalous_Host"} & notes
    saved = list(state.glob("learning-*.json"))
    assert len(saved) == 1, "the learned state is saved when the worker stops"
    port = free_port()
    with worker("auto", port):
        z = run_zeek(tmp_path / "told", "-C", "-r", str(pcap), str(SCRIPTS),
                     f"HAMAD::listen_port={port}/tcp", "HAMAD::notice_while_learning=T",
                     "HAMAD::notice_connections=T")  # fmt: skip
    assert z.returncode == 0, z.stderr
    flagged = [n for n in rows(tmp_path / "told" / "notice.log")
               if n["note"] == "HAMAD::Anomalous_Connection"]  # fmt: skip
    assert flagged and all(n["sub"].endswith(" learning") for n in flagged)


def test_zeek_r_without_a_worker_ends_by_itself(tmp_path: Path) -> None:
    pcap = make_trace(tmp_path / "trace.pcap")
    start = time.monotonic()
    z = run_zeek(tmp_path, "-C", "-r", str(pcap), str(SCRIPTS),
                 f"HAMAD::listen_port={free_port()}/tcp", "HAMAD::startup_wait=3sec")  # fmt: skip
    took = time.monotonic() - start
    assert z.returncode == 0, z.stderr
    assert not zeek_errors(z.stderr), z.stderr
    assert took < 3 + 30, f"took {took:.1f} s"  # bounded by startup_wait (generous for slow CI)
    assert [n["note"] for n in rows(tmp_path / "notice.log")] == ["HAMAD::Worker_Unavailable"]
    assert rows(tmp_path / "conn.log"), "the trace is still analysed"


#: Lines a run has because of HAMAD itself, besides hamad.log: its notices and reporter lines,
#: Zeek's own messages about HAMAD's waiting (suspend/continue, and the terminate() that
#: ends the run once the verdicts are in), broker.log's entries for the worker's peering and
#: cluster.log's for its WebSocket client.
HAMAD_OWN = re.compile(
    r"HAMAD|processing suspended|processing continued|received termination signal"
    r"|WebSocket client .* subscribed to \[hamad/"
    r"|Broker::STATUS\t(peer-added|peer-lost|peer-removed|connection-terminated)\t127\.0\.0\.1"
)


#: Connection uids and file ids: random per run (the package's listeners draw from the RNG).
RUN_IDS = re.compile(r"\b[CF][0-9A-Za-z]{10,20}\b")


def _run_time_masked(line: str) -> str:
    """Timestamps of the run (wall clock, e.g. packet_filter.log's) differ between runs."""
    recent = time.time() - 86400
    return re.sub(r"\b\d{10}\.\d{6}\b",
                  lambda m: "<run-time>" if float(m.group()) > recent else m.group(), line)  # fmt: skip


def _comparable_logs(run: Path) -> dict[str, list[str]]:
    """Every log of a run as sorted data rows, without HAMAD's own lines, random ids and the
    timestamps of the run (the trace's own timestamps stay)."""
    out: dict[str, list[str]] = {}
    for log in sorted(run.glob("*.log")):
        if log.name == "hamad.log":
            continue
        lines = [ln for ln in log.read_text().splitlines() if ln and not ln.startswith("#")]
        lines = sorted(
            _run_time_masked(RUN_IDS.sub("<id>", ln)) for ln in lines if not HAMAD_OWN.search(ln)
        )
        if lines:
            out[log.name] = lines
    return out


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_other_logs_are_the_same_with_and_without_the_package(tmp_path: Path,
                                                              transport: str) -> None:  # fmt: skip
    pcap = make_trace(tmp_path / "trace.pcap")
    plain = run_zeek(tmp_path / "plain", "-C", "-r", str(pcap))
    assert plain.returncode == 0, plain.stderr
    port = free_port()
    with worker(transport, port):
        with_pkg = run_zeek(tmp_path / "hamad", "-C", "-r", str(pcap), *package(transport),
                            f"HAMAD::listen_port={port}/tcp")  # fmt: skip
    assert with_pkg.returncode == 0, with_pkg.stderr
    assert rows(tmp_path / "hamad" / "hamad.log"), "the package did score the trace"
    a, b = _comparable_logs(tmp_path / "plain"), _comparable_logs(tmp_path / "hamad")
    assert a.keys() == b.keys()
    for name in a:
        assert a[name] == b[name], f"{name} differs with the package loaded"


def test_two_runs_in_parallel_both_succeed(tmp_path: Path) -> None:
    """The second Zeek cannot listen on the same port: it scores nothing but does not die."""
    pcap = make_trace(tmp_path / "trace.pcap")
    port = free_port()
    args = [ZEEK or "zeek", "-C", "-r", str(pcap), str(SCRIPTS), f"HAMAD::listen_port={port}/tcp",
            "HAMAD::startup_wait=3sec"]  # fmt: skip
    procs = []
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        procs.append(subprocess.Popen(args, cwd=tmp_path / name, stderr=subprocess.PIPE,
                                      text=True))  # fmt: skip
    for p in procs:
        try:
            _, err = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            for q in procs:  # never leave a Zeek behind that holds a port
                q.kill()
            raise
        assert p.returncode == 0, err
        assert "fatal" not in err.lower(), err
    for name in ("one", "two"):
        notes = rows(tmp_path / name / "notice.log")
        assert [n["note"] for n in notes] == ["HAMAD::Worker_Unavailable"]
        assert rows(tmp_path / name / "conn.log")


def test_check_mode_succeeds_while_another_instance_holds_the_port(tmp_path: Path) -> None:
    port = free_port()
    holder = socket.socket()
    holder.bind(("127.0.0.1", port))
    holder.listen()
    try:
        env = dict(os.environ, ZEEKCTL_CHECK_CONFIG="1", ZEEKCTL_DISABLE_LISTEN="1")
        redef = f"HAMAD::listen_port={port}/tcp"
        for entry in (str(SCRIPTS), str(SCRIPTS / "websocket.zeek")):
            check = run_zeek(tmp_path / "check", "-a", entry, redef, env=env, timeout=60)
            assert check.returncode == 0, check.stderr  # zeekctl check
            scripts = run_zeek(tmp_path / "scripts", entry, redef, env=env, timeout=60)
            assert scripts.returncode == 0, scripts.stderr  # zeekctl scripts: runs zeek_init
            assert "HAMAD" not in scripts.stderr, scripts.stderr
    finally:
        holder.close()


def test_package_btests_pass() -> None:
    if shutil.which("btest") is None:
        pytest.skip("btest not installed (pip install btest)")
    out = subprocess.run(["btest", "-c", "btest.cfg", "-d"], cwd=TESTS / "zeek",
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr


def test_zkg_installs_this_checkout(tmp_path: Path) -> None:
    zkg = shutil.which("zkg")
    if zkg is None:
        pytest.skip("zkg not installed (pip install zkg)")
    if not (REPO / ".git").exists():
        pytest.skip("zkg installs git checkouts; this copy is not one")
    # zkg installs committed git checkouts only: commit the working tree (tracked and
    # new files, as they are now) into a scratch clone and install that.
    pkg = tmp_path / "hamad"
    subprocess.run(["git", "clone", "-q", str(REPO), str(pkg)], check=True)
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                           capture_output=True, check=True).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, files):
        dst = pkg / name
        if (REPO / name).is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dst)
        elif dst.exists():
            dst.unlink()  # deleted in the working tree
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(pkg)]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "working tree"], check=True)
    state = tmp_path / "state"
    cfg = tmp_path / "zkg.cfg"
    cfg.write_text(
        f"[sources]\n\n[paths]\nstate_dir = {state}\nscript_dir = {tmp_path / 'scripts'}\n"
        f"plugin_dir = {tmp_path / 'plugins'}\nbin_dir = {tmp_path / 'bin'}\n"
    )
    out = subprocess.run([zkg, "--configfile", str(cfg), "install", "--force", str(pkg)],
                         capture_output=True, text=True, timeout=1800)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert list((tmp_path / "scripts").rglob("main.zeek")), "package scripts were not installed"
    assert (tmp_path / "bin" / "hamad").exists(), "the hamad executable was not linked"
