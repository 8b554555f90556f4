"""Property-based: no file can crash the conn.log reader; it reads or refuses, and counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="pip install hypothesis (dev extra)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from hamad_plugin.errors import InputFormatError  # noqa: E402
from hamad_plugin.offline.ingest import ConnLogReader  # noqa: E402

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

conn_lines = st.lists(
    st.text(alphabet=st.sampled_from(list('abc-#\t .:{}[]"0123456789TF/\\x')), max_size=80),
    max_size=20,
)


@FAST
@given(st.sampled_from(["", "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\n",
                        '{"ts": 1.0, "uid": "C", "id.orig_h": "1.1.1.1", "id.orig_p": 1, '
                        '"id.resp_h": "2.2.2.2", "id.resp_p": 2, "proto": "tcp"}\n']),
       conn_lines)  # fmt: skip
def test_any_conn_log_text_is_read_or_refused(
    tmp_path_factory: Any, head: str, lines: list[str]
) -> None:
    path: Path = tmp_path_factory.mktemp("fuzz") / "conn.log"
    path.write_text(head + "\n".join(lines) + "\n")
    reader = ConnLogReader(path)
    try:
        records = list(reader)
    except InputFormatError:
        return
    assert len(records) == reader.stats.records
    assert reader.stats.records + reader.stats.bad_lines <= reader.stats.lines
