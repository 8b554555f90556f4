"""Start a Flower federation for ``hamad fleet`` on one machine, and take it down again.

One SuperLink, one SuperNode per gateway (its conn logs in ``--node-config``), then
``flwr run`` of a generated Flower App whose components are
:mod:`hamad_plugin.offline.fleet_flower`. Every process gets its own free loopback
port and a private ``FLWR_HOME``, so a run touches nothing of the user's Flower
configuration. For gateways on other hosts the same components run under a SuperLink
and SuperNodes started by hand (docs/fleet.md).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DependencyError, HamadError

_FLOWER_BINS = ("flower-superlink", "flower-supernode", "flwr")


@dataclass(frozen=True)
class GatewaySpec:
    """One gateway: a name and its conn logs (it reads them; they never leave it)."""

    name: str
    paths: tuple[str, ...]
    flip_labels: bool = False

    @classmethod
    def parse(cls, text: str, flipped: Sequence[str] = ()) -> GatewaySpec:
        """``NAME=LOG[,LOG...]`` as ``hamad fleet --gateway`` takes it."""
        name, sep, rest = text.partition("=")
        paths = tuple(p for p in rest.split(",") if p)
        if not sep or not name or not paths:
            raise ConfigError(f"--gateway wants NAME=LOG[,LOG...], got {text!r}")
        for p in paths:
            if not Path(p).is_file():
                raise ConfigError(f"gateway {name!r}: no such conn log {p!r}")
        if any(c in name for c in "'\" ="):
            raise ConfigError(f"gateway name {name!r}: use letters, digits, - and _")
        return cls(name, tuple(str(Path(p).resolve()) for p in paths), name in flipped)


def flower_bin(name: str) -> str:
    """A Flower executable beside this Python, else on PATH."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        raise DependencyError(
            f"hamad fleet needs Flower ({name} not found): pip install 'hamad-zeek[fleet]'"
        )
    return found


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def make_certificates(d: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for 127.0.0.1 it signed: (ca, cert, key).

    The loopback federation then runs over TLS as a real one would, with nothing kept:
    the files live in the run's temporary directory.
    """
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hamad fleet loopback CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName(
        [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(san, critical=False).sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    paths = (d / "ca.crt", d / "server.pem", d / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def _app_toml(run_config: Mapping[str, object]) -> str:
    def val(v: object) -> str:
        return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else f'"{v}"'

    cfg = "\n".join(f"{k} = {val(v)}" for k, v in run_config.items())
    return f"""[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "hamadfleet"
version = "1.0.0"
description = "HAMAD fleet training (generated by hamad fleet)"
license = "BSD-3-Clause"
dependencies = []

[tool.flwr.app]
publisher = "hamad"

[tool.flwr.app.components]
serverapp = "hamad_plugin.offline.fleet_flower:serverapp"
clientapp = "hamad_plugin.offline.fleet_flower:clientapp"

[tool.flwr.app.config]
{cfg}
"""


def run_federation(
    gateways: Sequence[GatewaySpec],
    out: str | Path,
    run_config: Mapping[str, object],
    echo: Callable[[str], None] = lambda _m: None,
    timeout_s: float = 1800.0,
    tls: bool = True,
) -> Path:
    """SuperLink + one SuperNode per gateway + ``flwr run``; returns the model directory.

    With ``tls`` (the default) every link is TLS with a throwaway CA; without it the
    processes talk in the clear on loopback."""
    if len(gateways) < 2:
        raise ConfigError("a fleet needs at least two gateways (--gateway NAME=LOG ...)")
    bins = {b: flower_bin(b) for b in _FLOWER_BINS}
    out = Path(out).resolve()
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="hamad-fleet-") as tmp:
        t = Path(tmp)
        link, *node_ports = _free_ports(1 + len(gateways))
        home = t / "flwr-home"
        home.mkdir()
        if tls:
            ca, cert, key = make_certificates(t)
            link_sec = ["--ssl-ca-certfile", str(ca), "--ssl-certfile", str(cert),
                        "--ssl-keyfile", str(key)]  # fmt: skip
            node_sec = ["--root-certificates", str(ca)]
            conn_sec = f'root-certificates = "{ca}"\n'
        else:
            link_sec, node_sec, conn_sec = ["--insecure"], ["--insecure"], "insecure = true\n"
        (home / "config.toml").write_text(
            '[superlink]\ndefault = "hamad"\n\n[superlink.hamad]\n'
            f'address = "127.0.0.1:{link}"\n' + conn_sec
        )
        # Flower starts its own helpers (flower-superexec, flwr-serverapp) by name.
        path = os.pathsep.join([str(Path(bins["flwr"]).parent), os.environ.get("PATH", "")])
        env = {**os.environ, "PATH": path, "FLWR_HOME": str(home), "FLWR_DISABLE_UPDATE_CHECK": "1"}
        app = t / "app"
        app.mkdir()
        (app / "pyproject.toml").write_text(
            _app_toml({**run_config, "gateways": len(gateways), "out": str(out)})
        )
        logs = {
            name: open(t / f"{name}.log", "wb")
            for name in ["superlink", *(g.name for g in gateways)]
        }  # noqa: E501,SIM115
        try:
            procs.append(subprocess.Popen(
                [bins["flower-superlink"], *link_sec,
                 "--host", "127.0.0.1", "--port", str(link),
                 "--database", str(t / "superlink.db"),
                 "--disable-runtime-dependency-installation"],
                stdout=logs["superlink"], stderr=subprocess.STDOUT, env=env, cwd=t,
            ))  # fmt: skip
            _wait_port(link, procs[0], t / "superlink.log")
            for g, port in zip(gateways, node_ports, strict=True):
                node_cfg = f"gateway='{g.name}' data='{','.join(g.paths)}'"
                if g.flip_labels:
                    node_cfg += " flip-labels='true'"
                procs.append(subprocess.Popen(
                    [bins["flower-supernode"], *node_sec,
                     "--superlink", f"127.0.0.1:{link}",
                     "--host", "127.0.0.1", "--port", str(port),
                     "--node-config", node_cfg],
                    stdout=logs[g.name], stderr=subprocess.STDOUT, env=env, cwd=t,
                ))  # fmt: skip
            mode = "TLS, throwaway CA" if tls else "no TLS"
            echo(f"Flower SuperLink on 127.0.0.1:{link} ({mode}), {len(gateways)} SuperNodes")
            flwr = bins["flwr"]
            res = subprocess.run(
                [flwr, "run", str(app), "hamad", "--format", "json"],
                env=env, cwd=t, timeout=120, capture_output=True, text=True,
            )  # fmt: skip
            run_id = _json_field(res.stdout, "run-id")
            output = (res.stdout or "") + (res.stderr or "")
            status = "not started"
            if res.returncode == 0 and run_id:
                # ``flwr run --stream`` can return while the run goes on (its log stream
                # ends under load), so the run's status decides, polled until finished.
                status, output = _wait_run(flwr, run_id, env, t, timeout_s, echo)
            model = out / "metadata.json"
            if status != "finished:completed" or not model.exists():
                kept = _keep_logs(t, out, output)
                raise HamadError(
                    f"the Flower run did not produce a model (run status: {status}); "
                    "its output ends:\n" + "\n".join(output.splitlines()[-25:])
                    + "".join(_tail(t / f"{n}.log") for n in logs)
                    + f"\nEvery process's log is kept in {kept}"
                )  # fmt: skip
            return out
        except subprocess.TimeoutExpired as exc:
            raise HamadError(f"the Flower run did not finish within {timeout_s:.0f} s") from exc
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
            for fh in logs.values():
                fh.close()


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, wait_s: float = 60) -> None:
    """Until the SuperLink accepts connections (or has died)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise HamadError("the Flower SuperLink exited at start:" + _tail(log))
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise HamadError(f"the Flower SuperLink did not listen within {wait_s:.0f} s:" + _tail(log))


def _json_field(text: str | None, key: str) -> str | None:
    try:
        value = json.loads(text or "{}").get(key)
    except (ValueError, AttributeError):
        return None
    return None if value is None else str(value)


def _wait_run(
    flwr: str,
    run_id: str,
    env: Mapping[str, str],
    cwd: Path,
    timeout_s: float,
    echo: Callable[[str], None],
) -> tuple[str, str]:
    """Poll ``flwr ls --run-id`` until the run is finished; echo its round lines meanwhile.

    Returns the final status (``finished:completed`` on success) and the run's log.
    """
    deadline = time.monotonic() + timeout_s
    shown = 0
    status, log = "unknown", ""
    while time.monotonic() < deadline:
        time.sleep(10.0)  # each poll starts two Flower CLI processes: keep them rare
        kw: dict[str, Any] = {"env": env, "cwd": cwd, "capture_output": True, "text": True}
        ls = subprocess.run(
            [flwr, "ls", "hamad", "--run-id", run_id, "--format", "json"], timeout=60, **kw
        )
        try:
            status = str(json.loads(ls.stdout)["runs"][0]["status"])
        except (ValueError, KeyError, IndexError):
            continue
        got = subprocess.run([flwr, "log", run_id, "hamad", "--show"], timeout=60, **kw)
        log = got.stdout or log
        lines = [ln.strip() for ln in log.splitlines() if "round " in ln or "fleet model" in ln]
        for line in lines[shown:]:
            echo(line)
        shown = max(shown, len(lines))
        if status.startswith("finished"):
            return status, log
    raise HamadError(f"the Flower run did not finish within {timeout_s:.0f} s")


def _keep_logs(tmp: Path, out: Path, run_output: str) -> Path:
    """The failed run's logs beside the model directory it did not write."""
    kept = out.parent / f"{out.name}.fleet-logs"
    kept.mkdir(parents=True, exist_ok=True)
    for log in tmp.glob("*.log"):
        shutil.copy(log, kept / log.name)
    (kept / "flwr-run.log").write_text(run_output)
    return kept


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return f"\n--- {path.name} ---\n" + "\n".join(text)
