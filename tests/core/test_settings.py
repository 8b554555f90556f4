"""YAML settings: validation messages, precedence of flags over the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from hamad_plugin.core.settings import load_settings, settings_from_dict, with_overrides
from hamad_plugin.errors import ConfigError


def test_defaults_and_file(tmp_path: Path) -> None:
    p = tmp_path / "h.yaml"
    p.write_text(
        "model: models/x\nthreshold: {mode: fixed}\nfeatures: {local_networks: [147.32.0.0/16]}\n"
    )
    s = load_settings(p)
    assert s.model == "models/x" and s.threshold.mode == "fixed"
    assert s.features.local_networks == ("147.32.0.0/16",)
    assert load_settings(None).threshold.mode == "adaptive"


def test_flags_override_file(tmp_path: Path) -> None:
    p = tmp_path / "h.yaml"
    p.write_text("threshold: {mode: fixed, override: 0.5}\nbatch_size: 10\n")
    s = with_overrides(load_settings(p), threshold__override=0.7, batch_size=None)
    assert s.threshold.override == 0.7 and s.threshold.mode == "fixed" and s.batch_size == 10


@pytest.mark.parametrize(
    "data,match",
    [
        ({"threshold": {"mode": "magic"}}, "must be one of"),
        ({"threshold": {"override": 2}}, r"\(0, 1\]"),
        ({"serve": {"port": 0}}, r"serve.port: must be 1..65535, got 0"),
        ({"serve": {"heartbeat_interval": float("inf")}}, "finite"),
        ({"serve": {"heartbeat_interval": float("nan")}}, "finite"),
        ({"serve": {"heartbeat_interval": 12.0}}, "heartbeat_timeout"),
        ({"serve": {"queue_size": -3}}, "queue_size: must be >= 1"),
        ({"threshold": {"target_fpr": -1}}, "unknown key 'target_fpr'"),
        ({"batch_size": 0}, "batch_size: must be >= 1"),
        ({"serve": {"transport": "carrier-pigeon"}}, "websocket"),
        ({"features": {"local_networks": ["10.0.0.0/33"]}}, "CIDR"),
        ({"features": {"max_keys": "lots"}}, "expected an integer"),
        ({"serve": {"prot": 1}}, "Did you mean 'port'"),
        ([1, 2], "mapping"),
    ],
)
def test_bad_values_name_the_key(data: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        settings_from_dict(data)  # type: ignore[arg-type]


def test_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.yaml")
    p = tmp_path / "bad.yaml"
    p.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="line"):
        load_settings(p)
    p.write_bytes(b"model: \xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(p)
