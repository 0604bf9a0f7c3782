"""The shipped default files hold every key at its schema default, each with a comment."""

from __future__ import annotations

from pathlib import Path

import pytest

from llamahome_gui.config.introspect import adapter, default_of, leaves
from llamahome_gui.config.manager import ConfigManager
from llamahome_gui.config.schema import COMPONENTS
from llamahome_gui.config.store import get_value, locate

SHIPPED = Path(__file__).resolve().parents[2] / "config"


@pytest.mark.parametrize("component", list(COMPONENTS))
def test_every_key_is_present_at_its_default_with_a_comment(component: str) -> None:
    cfg = ConfigManager(SHIPPED, env={})
    checked = cfg.check(component)
    assert checked.errors == [] and checked.warnings == []
    text = (SHIPPED / f"{component}_config.toml").read_text(encoding="utf-8")
    lines = text.split("\n")
    data = cfg.read_document(component).unwrap()
    for rel, info in leaves(COMPONENTS[component]).items():
        parts = rel.split(".")
        stored = get_value(data, parts)
        assert stored is not None, f"{component}.{rel} missing from the shipped file"
        assert adapter(info).validate_python(stored) == default_of(info), f"{component}.{rel}"
        line, _ = locate(text, parts)
        assert lines[line - 2].startswith("#"), f"{component}.{rel} has no comment above it"
