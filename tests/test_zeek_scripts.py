"""The Zeek scripts parse, follow Zeek's conventions and match their generated docs.

Zeek cannot run in CI, so this is the strongest static check available:
zeekscript's tree-sitter parser (the one behind ``zeek-format``) must accept
every script, and the conventions Zeek's own scripts follow are checked on
the text.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = REPO / "zeek_scripts"
ZEEK_FILES = sorted(SCRIPTS.glob("*.zeek")) + sorted((REPO / "tests" / "zeek").rglob("*.zeek"))

zeekscript = pytest.importorskip("zeekscript", reason="pip install zeekscript (dev extra)")


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_option_docs", REPO / "tools" / "gen_option_docs.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gen_option_docs"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_package_has_the_expected_scripts() -> None:
    names = {p.name for p in SCRIPTS.glob("*.zeek")}
    assert {
        "__load__.zeek",
        "main.zeek",
        "transport.zeek",
        "notice.zeek",
        "websocket.zeek",
    } <= names


@pytest.mark.parametrize("path", ZEEK_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_script_parses(path: Path) -> None:
    script = zeekscript.Script(path)
    ok = script.parse()
    assert ok and not script.has_error(), f"{path}: {script.get_error()}"


def test_parser_does_catch_errors(tmp_path: Path) -> None:
    """Guard against a parser that accepts anything (the test above must be able to fail)."""
    bad = tmp_path / "bad.zeek"
    bad.write_text("event zeek_init()\n\t{\n\tlocal x = ;\n\t}\n")
    script = zeekscript.Script(bad)
    assert not script.parse() or script.has_error()


def test_load_file_only_loads() -> None:
    lines = [ln for ln in (SCRIPTS / "__load__.zeek").read_text().splitlines() if ln.strip()]
    assert lines and all(ln.startswith("@load ./") for ln in lines)


@pytest.mark.parametrize("path", sorted(SCRIPTS.glob("*.zeek")), ids=lambda p: p.name)
def test_script_conventions(path: Path) -> None:
    text = path.read_text()
    if path.name == "__load__.zeek":
        return
    assert text.startswith("##!"), "scripts open with a ##! summary"
    lines = text.splitlines()
    for prev, line in zip(lines, lines[1:], strict=False):
        if re.match(r" {2,}\S", line):  # only continuation lines may start with spaces
            assert prev.rstrip().endswith((",", "(", "+", "||", "&&")), f"indent with tabs: {line}"
    assert all(len(line) <= 100 for line in text.splitlines()), "keep lines <= 100 columns"
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    assert not re.search(r"\bwhen\s*[(\[]", code), "never `when` (hangs while suspended)"


def test_every_exported_item_and_field_is_documented() -> None:
    """`##` before every option, type, event, function and record field in export blocks."""
    for path in sorted(SCRIPTS.glob("*.zeek")):
        lines = path.read_text().splitlines()
        depth = 0
        in_export = False
        for i, line in enumerate(lines):
            s = line.strip()
            if s.startswith("export"):
                in_export = True
            if (
                in_export
                and depth >= 1
                and re.match(r"(option|const|global|type)\s+\w+|\w+\s*:\s*[\w\[]", s)
            ):
                j = i - 1
                while j >= 0 and not lines[j].strip():
                    j -= 1
                prev = lines[j].strip()
                assert prev.startswith("##") or prev.endswith(","), (
                    f"{path.name}:{i + 1}: undocumented exported item: {s}"
                )
            depth += line.count("{") - line.count("}")
            if in_export and depth == 0 and "}" in line:
                in_export = False


def test_scripts_are_zeek_format_clean() -> None:
    """zeek-format (Zeek's own formatter) leaves the package scripts unchanged."""
    import io

    for path in sorted(SCRIPTS.glob("*.zeek")):
        script = zeekscript.Script(path)
        assert script.parse()
        buf = io.BytesIO()
        script.format(buf)
        assert buf.getvalue().decode() == path.read_text(), f"run zeek-format -i {path}"


def test_option_docs_are_up_to_date() -> None:
    tool = _tool()
    assert tool.main(["--check"]) == 0, "run: python tools/gen_option_docs.py"


def test_every_option_is_documented_in_the_table() -> None:
    tool = _tool()
    opts = tool.all_options()
    assert len(opts) >= 20
    for o in opts:
        assert o.doc, f"HAMAD::{o.name} has no ## documentation"
        assert o.type != "?", f"cannot tell the type of HAMAD::{o.name}; declare it"
    table = (REPO / "docs" / "zeek-options.md").read_text()
    for o in opts:
        assert f"`HAMAD::{o.name}`" in table


def test_options_with_ranges_have_change_handlers() -> None:
    """Runtime changes are validated: every option except plain switches has a handler."""
    text = (SCRIPTS / "main.zeek").read_text()
    handled = set(re.findall(r'Option::set_change_handler\("HAMAD::(\w+)"', text))
    tool = _tool()
    # Switches, and a count where every value means something (0 = off).
    unvalidated = {"enabled", "ignore_subnets", "only_local_orig", "notice_while_learning",
                   "notice_connections", "host_notice_threshold", "send_dns"}  # fmt: skip
    for o in tool.all_options():
        if o.runtime and o.name not in unvalidated:
            assert o.name in handled, f"HAMAD::{o.name} has no change handler"
