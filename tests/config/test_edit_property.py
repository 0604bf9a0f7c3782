"""Property: any valid edit changes only the edited lines and keeps every comment."""

from __future__ import annotations

import difflib
import tempfile
import typing
from pathlib import Path
from typing import Any

import annotated_types as at
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llamahome_gui.config import schema
from llamahome_gui.config.introspect import leaves
from llamahome_gui.config.manager import ConfigManager
from llamahome_gui.config.store import locate
from tests.config.awkward import AWKWARD

SHIPPED = Path(__file__).resolve().parents[2] / "config"
CASES: list[tuple[str, str, bytes]] = [
    (f"shipped {c}", c, (SHIPPED / f"{c}_config.toml").read_bytes())
    for c in ("training", "model", "inference", "resource")
] + [(f"awkward {n}", "resource", AWKWARD[n])
     for n in ("crlf", "tabs_and_trailing_comments", "inline_tables", "dotted_keys", "unicode")]

TEXT = st.text(alphabet="abcXYZ019 _-./éß—🚀", max_size=16)


def value_strategy(info: Any) -> st.SearchStrategy[Any]:
    bounds: dict[str, Any] = {}
    for meta in info.metadata:
        for kind, attr in ((at.Ge, "ge"), (at.Gt, "gt"), (at.Le, "le"), (at.Lt, "lt"),
                           (at.MinLen, "min_length")):
            if isinstance(meta, kind):
                bounds[kind.__name__] = getattr(meta, attr)
    funcs = {getattr(m, "func", None) for m in info.metadata}
    ann = info.annotation
    if typing.get_origin(ann) is typing.Literal:
        return st.sampled_from(typing.get_args(ann))
    if ann is bool:
        return st.booleans()
    if ann is int:
        low = bounds.get("Ge", bounds.get("Gt", -1) + 1)
        return st.integers(low, min(bounds.get("Le", 10**6), 10**9))
    if ann is float:
        return st.floats(bounds.get("Ge", bounds.get("Gt", -1e6)),
                         bounds.get("Le", bounds.get("Lt", 1e6)),
                         exclude_min="Gt" in bounds, exclude_max="Lt" in bounds,
                         allow_nan=False, allow_infinity=False)
    if typing.get_origin(ann) is list:
        (item,) = typing.get_args(ann)
        low = max(bounds.get("MinLen", 0), 0)
        if typing.get_origin(item) is typing.Literal:
            return st.lists(st.sampled_from(typing.get_args(item)), min_size=low, max_size=3)
        if item is int:
            return st.lists(st.integers(0, 15), min_size=low, max_size=3)
        return st.lists(TEXT.filter(bool), min_size=max(low, 1), max_size=3)
    if schema._check_size in funcs:
        return st.sampled_from(["", "12GB", "512MiB", "1024", "1.5 TB"])
    if schema._check_device in funcs:
        return st.sampled_from(["auto", "cpu", "cuda", "cuda:1", "mps"])
    return TEXT


@st.composite
def edits(draw: st.DrawFn) -> tuple[str, str, bytes, dict[str, Any]]:
    label, component, raw = draw(st.sampled_from(CASES))
    fields = {k: i for k, i in leaves(schema.COMPONENTS[component]).items()
              if k != "schema_version"}
    keys = draw(st.lists(st.sampled_from(sorted(fields)), min_size=1, max_size=5, unique=True))
    return label, component, raw, {k: draw(value_strategy(fields[k])) for k in keys}


def _comments(lines: list[str]) -> list[str]:
    return [line.strip() for line in lines if line.strip().startswith("#")]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits())
def test_random_valid_edits_change_only_edited_lines(case: tuple[str, str, bytes, dict]) -> None:
    label, component, raw, values = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{component}_config.toml"
        path.write_bytes(raw)
        cfg = ConfigManager(folder, env={})
        before_model = cfg.load(component).model_dump()
        changed = cfg.update(component, values)
        new = path.read_bytes()
        after_model = cfg.load(component).model_dump()

    def effective(model: dict[str, Any], rel: str) -> Any:
        section, key = rel.split(".")
        return model[section][key]

    expected_changed = {f"{component}.{rel}" for rel in values
                        if effective(before_model, rel) != effective(after_model, rel)}
    assert set(changed) == expected_changed, label
    for rel, value in values.items():
        want = [value] if isinstance(value, str) and rel.endswith("target_modules") else value
        assert effective(after_model, rel) == want, (label, rel)
    if not changed:
        assert new == raw
        return

    old_text = raw.decode("utf-8").lstrip("\ufeff")
    new_text = new.decode("utf-8").lstrip("\ufeff")
    old_lines, new_lines = old_text.split("\n"), new_text.split("\n")
    edited_lines = {locate(old_text, k.split(".", 1)[1].split("."))[0]
                    for k in changed if locate(old_text, k.split(".", 1)[1].split("."))}
    added_keys = {k.rsplit(".", 1)[1] for k in changed
                  if locate(old_text, k.split(".", 1)[1].split(".")) is None}
    for key in changed:  # a key added to an inline table lands on the table's own line
        section = locate(old_text, [key.split(".")[1]])
        if section and key.rsplit(".", 1)[1] in added_keys and "{" in old_lines[section[0] - 1]:
            edited_lines.add(section[0])
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        assert tag in ("replace", "insert"), (label, tag, old_lines[i1:i2])
        touched = set(range(i1 + 1, i2 + 1))
        assert touched <= edited_lines, (label, old_lines[i1:i2], new_lines[j1:j2])
        names = {k.rsplit(".", 1)[1] for k in changed}
        for line in new_lines[j1:j2]:
            key = line.strip().split("=", 1)[0].strip().rsplit(".", 1)[-1].strip('"')
            assert key in names or not line.strip() or "{" in line, (label, line)
        assert j2 - j1 - (i2 - i1) <= len(added_keys), (label, new_lines[j1:j2])
    assert _comments(old_lines) == _comments(new_lines), label
    for number in edited_lines:
        old_line = old_lines[number - 1]
        if "#" in old_line and old_line.rstrip("\r").endswith(old_line.split("#", 1)[1]):
            comment = old_line.split("#", 1)[1]
            assert any(line.endswith(comment) for line in new_lines), (label, old_line)
    if b"\r\n" in raw:
        assert new.count(b"\n") == new.count(b"\r\n"), label
