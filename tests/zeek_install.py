"""Which Zeek the real-Zeek tests run on, found where Zeek is usually installed.

Order: ``$HAMAD_ZEEK`` (a ``zeek`` binary or an install prefix: how one suite is
run per release), ``zeek`` on PATH, ``zeek-config --prefix``, ``/usr/local/zeek``,
then the newest ``/opt/zeek*``. The found release's ``bin`` goes first on PATH
(conftest), so ``btest``, ``zkg``, ``zeek-cut``, ``zeek-config`` and Broker's
Python bindings come from the same install; pytest's header names it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ZeekInstall:
    """One Zeek install: its binary, release and how it was found."""

    zeek: Path
    version: str
    found_by: str

    @property
    def bin_dir(self) -> Path:
        return self.zeek.parent

    @property
    def release(self) -> tuple[int, int]:
        major, minor = re.findall(r"\d+", self.version)[:2]
        return int(major), int(minor)


def _version(zeek: Path) -> str | None:
    try:
        out = subprocess.run([str(zeek), "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"version (\S+)", out.stdout)
    return m.group(1) if out.returncode == 0 and m else None


def _binary(path: Path) -> Path:
    return path if path.is_file() else path / "bin" / "zeek"


def _candidates() -> list[tuple[Path, str]]:
    out: list[tuple[Path, str]] = []
    env = os.environ.get("HAMAD_ZEEK")
    if env:
        return [(_binary(Path(env)), "$HAMAD_ZEEK")]
    on_path = shutil.which("zeek")
    if on_path:
        out.append((Path(on_path), "PATH"))
    config = shutil.which("zeek-config")
    if config:
        prefix = subprocess.run([config, "--prefix"], capture_output=True, text=True).stdout
        if prefix.strip():
            out.append((Path(prefix.strip()) / "bin" / "zeek", "zeek-config"))
    out.append((Path("/usr/local/zeek/bin/zeek"), "/usr/local/zeek"))
    opt = sorted(Path("/opt").glob("zeek*/bin/zeek"), key=lambda p: _key(p.parent.parent.name))
    out.extend((p, "/opt/zeek*") for p in reversed(opt))
    return out


def _key(name: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", name)) or (0,)


def find_zeek() -> ZeekInstall | None:
    """The Zeek the real-Zeek tests use, or None (they skip, saying so)."""
    for zeek, how in _candidates():
        if zeek.is_file():
            version = _version(zeek)
            if version:
                return ZeekInstall(zeek, version, how)
    return None


#: Found once per test session.
ZEEK_INSTALL = find_zeek()
