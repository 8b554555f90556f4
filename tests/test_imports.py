"""The house rules of hamad_plugin's imports, checked on the code itself.

* ``hamad serve`` loads the worker and what it scores with, nothing of
  training, research or the dashboard, and none of the heavy libraries.
* Imports run one way: cli -> worker / offline / research / dashboard ->
  scoring -> core (plus the package root's errors), never back up.
* No import circles, no module over 700 lines.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import free_port

PKG = Path(__file__).resolve().parents[1] / "hamad_plugin"
HEAVY = ("sklearn", "xgboost", "matplotlib", "torch", "pandas", "streamlit", "flwr")
#: What each part may import inside the package (besides itself, errors and the root).
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "scoring": {"core"},
    "worker": {"scoring", "core"},
    "offline": {"scoring", "core"},
    "research": {"offline", "scoring", "core"},
    "dashboard": {"offline", "scoring", "core"},
    "cli": {"worker", "offline", "research", "dashboard", "scoring", "core"},
}
ROOT_MODULES = {"hamad_plugin", "hamad_plugin.errors"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """hamad_plugin modules a file imports, at top level or inside functions."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("hamad_plugin"):
                continue
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names)  # `from . import mod`
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("hamad_plugin"))
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PKG.rglob("*.py")}
    return {m: {t for t in _imports(p) if t in files and t != m} for m, p in files.items()}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_serve_loads_no_training_research_or_dashboard_code(tmp_path: Path) -> None:
    """A real ``hamad serve`` run (it gives up on a port nobody listens on) and its modules."""
    code = (
        "import json, sys\n"
        "from hamad_plugin.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    args = ["serve", "--transport", "websocket", "--port", str(free_port()),
            "--max-connect-failures", "1", "--state-dir", str(tmp_path)]  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         timeout=120, check=True)  # fmt: skip
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert "gave up after 1 failed connection" in out.stderr  # it did start serving
    assert "hamad_plugin.scoring.pipeline" in loaded and "hamad_plugin.worker.loop" in loaded
    ours = [m for m in loaded if _part(m) in ("offline", "research", "dashboard")]
    assert ours == []
    heavy = [m for m in loaded if m.split(".")[0] in HEAVY]
    assert heavy == []


def test_imports_flow_one_way() -> None:
    wrong = []
    for module, targets in _graph().items():
        part = _part(module)
        if part not in ALLOWED:
            continue
        for t in targets:
            if t in ROOT_MODULES or _part(t) == part:
                continue
            if _part(t) not in ALLOWED[part]:
                wrong.append(f"{module} -> {t}")
    assert wrong == []


def test_no_import_circles() -> None:
    graph = _graph()
    # Package __init__ files that only re-export their own modules are not arrows back.
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(graph.get(m, ())):
            if t.startswith(m + "."):  # a package importing its own submodule
                continue
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t) :] + [t])
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert cycles == []


@pytest.mark.parametrize("path", sorted(PKG.rglob("*.py")), ids=lambda p: str(p.relative_to(PKG)))
def test_no_module_over_700_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= 700
